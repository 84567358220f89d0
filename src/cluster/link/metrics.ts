/**
 * The link's Prometheus metrics (docs/metrics.md, "Cluster link"), per peer. The link counts in plain
 * numbers on its hot path (link.ts stats()); these read them at each scrape, so a scrape costs the
 * link nothing between scrapes. Counters are set from the link's running totals, which never go down
 * (a peer's channel, and its counts, outlive its connections and its membership).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { BucketHistogram } from '../../observability/bucket-histogram.js';
import { CALL_LATENCY_BOUNDS, type LinkStats, type PeerLinkStats } from './link.js';

const CIRCUIT_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

/** Registers the link's metrics in `registry` (a NodeMetrics registry), read from `stats` at each scrape. */
export function registerLinkMetrics(registry: Registry, stats: () => LinkStats): void {
  const registers = [registry];
  let snapshot: LinkStats = { peers: [], closed: [] };
  // Every metric's collect runs per scrape; the first one takes the snapshot the others read.
  let takenAt = -1;
  const take = (): LinkStats => {
    const now = Date.now();
    if (now !== takenAt) {
      snapshot = stats();
      takenAt = now;
    }
    return snapshot;
  };
  const perPeer = (name: string, help: string, value: (p: PeerLinkStats) => number): void => {
    new Gauge<'peer'>({
      name,
      help,
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        for (const p of take().peers) this.set({ peer: p.peer }, value(p));
      },
    });
  };
  const perPeerCounter = (name: string, help: string, value: (p: PeerLinkStats) => number): void => {
    new Counter<'peer'>({
      name,
      help,
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        for (const p of take().peers) this.inc({ peer: p.peer }, value(p));
      },
    });
  };
  const inOut = (name: string, help: string, out: (p: PeerLinkStats) => number, inn: (p: PeerLinkStats) => number): void => {
    new Counter<'peer' | 'direction'>({
      name,
      help,
      labelNames: ['peer', 'direction'],
      registers,
      collect() {
        this.reset();
        for (const p of take().peers) {
          this.inc({ peer: p.peer, direction: 'out' }, out(p));
          this.inc({ peer: p.peer, direction: 'in' }, inn(p));
        }
      },
    });
  };

  perPeer('caxton_cluster_link_queue_bytes', 'Bytes queued for a peer and not yet sent (waiting for a connection or for credit).', (p) => p.queueBytes);
  perPeer('caxton_cluster_link_connected', '1 when the link to a peer has an open connection.', (p) => (p.connected ? 1 : 0));
  perPeer('caxton_cluster_link_circuit_state', 'Circuit breaker of a peer: 0 closed, 1 half-open, 2 open.', (p) => CIRCUIT_VALUE[p.circuit]);
  perPeerCounter('caxton_cluster_link_circuit_opened_total', 'Times the circuit to a peer opened.', (p) => p.circuitOpened);
  inOut('caxton_cluster_link_bytes_total', 'Bytes of batch frames sent to (out) and received from (in) a peer.', (p) => p.bytesOut, (p) => p.bytesIn);
  inOut('caxton_cluster_link_frames_total', 'Batch frames sent to (out) and received from (in) a peer.', (p) => p.framesOut, (p) => p.framesIn);
  inOut('caxton_cluster_link_posts_total', 'Posts queued for (out) and received from (in) a peer.', (p) => p.postsOut, (p) => p.postsIn);
  perPeerCounter('caxton_cluster_link_posts_refused_total', 'Posts to a peer refused at once: queue full (backpressure), circuit open, not a member.', (p) => p.postsRefused);
  perPeerCounter('caxton_cluster_link_posts_dropped_total', 'Posts queued for a peer and dropped unsent: its circuit opened, it left, or this node stopped.', (p) => p.postsDropped);
  perPeerCounter('caxton_cluster_link_calls_total', 'Calls made to a peer.', (p) => p.callsOut);
  perPeerCounter('caxton_cluster_link_calls_failed_total', 'Calls to a peer that failed: timed out, connection lost, circuit open, or the handler threw.', (p) => p.callsFailed);
  perPeerCounter('caxton_cluster_link_call_timeouts_total', 'Calls to a peer that were not answered within their deadline.', (p) => p.callsTimedOut);
  new Counter<'peer' | 'reason'>({
    name: 'caxton_cluster_link_connections_closed_total',
    help: 'Link connections closed, by peer ("" when it closed before the peer said who it is) and reason (frame-too-large, frame-truncated, auth, heartbeat, ...).',
    labelNames: ['peer', 'reason'],
    registers,
    collect() {
      this.reset();
      for (const c of take().closed) this.inc({ peer: c.peer, reason: c.reason }, c.count);
    },
  });
  new BucketHistogram({
    name: 'caxton_cluster_link_call_latency_seconds',
    help: 'Time from a call to its answer, per peer, seconds (answered calls only).',
    bounds: CALL_LATENCY_BOUNDS,
    labelNames: ['peer'],
    registers,
    source: () =>
      Promise.resolve(
        take().peers.map((p) => ({
          labels: { peer: p.peer },
          counts: p.callLatency.slice(0, CALL_LATENCY_BOUNDS.length),
          overflow: p.callLatency[CALL_LATENCY_BOUNDS.length] ?? 0,
          sum: p.callLatencySum,
        })),
      ),
  });
}
