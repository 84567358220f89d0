/**
 * The main thread's side of the direct path (src/sandbox/worker/direct-link.ts): agent-to-agent
 * messages between nodes go from the sending agent's worker straight to the receiving agent's worker,
 * on a connection of their own, once a route for the receiver's name is open. docs/cluster-routing.md
 * ("The direct path") has the whole; here:
 *
 * - grants: a worker's message by name went to another node over the link: that worker may open a
 *   route for the name (granted again at most every GRANT_EVERY_MS per worker and name);
 * - fences: a worker asks for one; it is posted to the node the router would send the name's messages
 *   to now, behind whatever the link carries there already, or refused when the name's place is not
 *   that simple (in motion, partitioned, settling);
 * - the receiving side: another node's fence goes to the worker hosting the agent, behind its
 *   deliveries;
 * - a member that fails or leaves: the workers drop their connections to it.
 *
 * With mTLS on, the workers' connections run TLS 1.3 with the link's certificates and revocation list
 * (the node passes later changes of either to the pool: AgentPool.setDirectTls, directRevoked).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AgentPool } from '../sandbox/index.js';
import type { DirectTls } from '../sandbox/worker/direct-link.js';
import type { RevokedEntry } from '../security/revoked-certs.js';
import type { Cluster } from './cluster.js';
import type { NodeName, PeerBody } from './peers.js';

/**
 * The link post carrying a fence: [name, token, host, port, hops, origin]. A node that does not host
 * `name` passes it on where it passes on `name`'s messages (behind them, on the same link), once; a
 * node that can place it nowhere answers FENCE_REFUSED_POST [token] to `origin`.
 */
export const FENCE_POST = 'direct.fence';
export const FENCE_REFUSED_POST = 'direct.fence_refused';

/** A worker's grant for a name is repeated at most this often (it ignores grants for routes it has), ms. */
const GRANT_EVERY_MS = 1000;
/** Names remembered per worker for the grant interval; beyond it the memory starts over. */
const GRANTS_MAX = 10_000;
/** A fence sent is remembered this long for a refusal to find its worker (the worker gives up at 2 s). */
const FENCE_MEMORY_MS = 5000;

export interface DirectPathsOptions {
  /** The first worker's port (the next ones follow); 0: any free port. */
  readonly port: number;
  /** Largest message, bytes (the workers' frame limit adds the receiver's name). */
  readonly maxMessageBytes: number;
  /** mTLS on: the link's TLS material and revocation list as they are now. */
  readonly tls?: { readonly material: DirectTls; readonly revoked: readonly RevokedEntry[] };
  readonly warn: (obj: object, msg: string) => void;
}

export class DirectPaths {
  readonly #cluster: Cluster;
  readonly #pool: AgentPool;
  readonly #warn: DirectPathsOptions['warn'];
  /** Per worker: name → when it was last granted. */
  readonly #granted: Map<string, number>[] = [];
  readonly #unsubscribe: () => void;
  /** Fences sent, by token, oldest first: the worker and name a refusal is for. */
  readonly #sent = new Map<string, { readonly worker: number; readonly name: string; readonly at: number }>();
  /** Fences from other nodes that were malformed (a peer of another version, a bug). */
  badFences = 0;

  constructor(cluster: Cluster, pool: AgentPool, o: DirectPathsOptions) {
    this.#cluster = cluster;
    this.#pool = pool;
    this.#warn = o.warn;
    const router = pool.router;
    router.onRemoteSend((worker, to) => this.#grant(worker, to));
    cluster.peers.onPost(FENCE_POST, (from, body) => this.#fenceArrived(from, body));
    cluster.peers.onPost(FENCE_REFUSED_POST, (_from, body) => {
      if (Array.isArray(body) && typeof body[0] === 'string') this.#refused(body[0]);
    });
    this.#unsubscribe = cluster.onEvent((e) => {
      if (e.type === 'failed' || e.type === 'left' || e.type === 'reaped') pool.dropDirectNode(e.member.name);
    });
    pool.startDirect(
      {
        node: cluster.name,
        bindHost: cluster.transport.local.host,
        port: o.port,
        advertiseHost: cluster.transport.advertise.host,
        maxFrameBytes: o.maxMessageBytes + 64 * 1024,
        ...(o.tls === undefined ? {} : { tls: o.tls.material, revoked: o.tls.revoked }),
      },
      { fence: (worker, name, node, token, host, port) => this.#fence(worker, name, node, token, host, port) },
    );
  }

  close(): void {
    this.#unsubscribe();
  }

  #grant(worker: number, to: string): void {
    let granted = this.#granted[worker];
    if (granted === undefined) this.#granted[worker] = granted = new Map();
    const now = Date.now();
    const last = granted.get(to);
    if (last !== undefined && now - last < GRANT_EVERY_MS) return;
    const node = this.#pool.router.directNode(to);
    if (node === undefined) return;
    if (granted.size >= GRANTS_MAX) granted.clear();
    granted.set(to, now);
    this.#pool.grantRoute(worker, to, node);
  }

  #fence(worker: number, name: string, node: string, token: string, host: string, port: number): void {
    // Sent only where the router would send the name's messages now, so that it follows them.
    if (this.#pool.router.directNode(name) !== node || !this.#cluster.peers.post(node as NodeName, FENCE_POST, [name, token, host, port, 1, this.#cluster.name])) {
      this.#pool.refuseRoute(worker, name);
      return;
    }
    const now = Date.now();
    for (const [t, f] of this.#sent) {
      if (now - f.at < FENCE_MEMORY_MS) break;
      this.#sent.delete(t);
    }
    this.#sent.set(token, { worker, name, at: now });
  }

  /** A fence of ours could be placed nowhere: its worker sends the queued messages over the link now. */
  #refused(token: string): void {
    const f = this.#sent.get(token);
    if (f === undefined) return;
    this.#sent.delete(token);
    this.#pool.refuseRoute(f.worker, f.name);
  }

  #fenceArrived(from: NodeName, body: PeerBody): void {
    if (!Array.isArray(body) || body.length !== 6) return this.#bad(from, 'not [name, token, host, port, hops, origin]');
    const [name, token, host, port, hops, origin] = body as unknown[];
    if (typeof name !== 'string' || typeof token !== 'string' || typeof host !== 'string' || typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535 || (hops !== 1 && hops !== 2) || typeof origin !== 'string') {
      return this.#bad(from, 'a field of the wrong type');
    }
    if (hops === 1 && origin !== from) return this.#bad(from, `a first hop naming another node (${origin}) as its origin`);
    // The worker hosting the agent answers the sender's worker itself (its HELLO names this node); the
    // sender's worker is on the fence's origin, which its TLS certificate must name.
    if (this.#pool.fenceArrived(name, token, host, port, origin)) return;
    // Not here: on where its messages went (a stale directory entry, an agent leaving), once. A fence
    // that goes nowhere is dropped, and its sender's worker falls back to the link in time.
    const next = hops === 1 ? this.#pool.router.fenceNext(name) : undefined;
    if (next !== undefined && next !== this.#cluster.name && this.#cluster.peers.post(next, FENCE_POST, [name, token, host, port, 2, origin])) return;
    if (origin === this.#cluster.name) this.#refused(token);
    else this.#cluster.peers.post(origin as NodeName, FENCE_REFUSED_POST, [token]);
  }

  #bad(from: NodeName, why: string): void {
    this.badFences++;
    this.#warn({ peer: from }, `direct path: node ${from} posted a fence that is ${why}: ignored`);
  }
}

/**
 * The direct path's metrics (docs/metrics.md): messages its workers wrote and took, and the routes open
 * now, read from the workers' shared counters at each scrape.
 */
export function registerDirectMetrics(registry: Registry, stats: () => { sent: number; received: number; routes: number }): void {
  const registers = [registry];
  new Counter<'direction'>({
    name: 'caxton_cluster_direct_messages_total',
    help: "Agent-to-agent messages between nodes that went worker to worker on the direct path, without the main threads (direction out: this node's workers wrote them; in: they took them)",
    labelNames: ['direction'],
    registers,
    collect() {
      const s = stats();
      this.reset();
      this.inc({ direction: 'out' }, s.sent);
      this.inc({ direction: 'in' }, s.received);
    },
  });
  new Gauge({
    name: 'caxton_cluster_direct_routes',
    help: "Receiver names this node's workers send to on the direct path now",
    registers,
    collect() {
      this.set(stats().routes);
    },
  });
}
