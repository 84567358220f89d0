/**
 * One simulated cluster: N real Membership + SerfDelegate stacks (the code a Caxton node runs, with
 * memberlist's LAN profile: probe 1 s, gossip 200 ms to 3 nodes, push/pull 30 s scaled by size) in one
 * process, over SimNetwork on SimClock. It forms the cluster by staggered joins, measures steady-state
 * traffic, then crashes one node and times its detection.
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { lanConfig, type MembershipConfig } from '../../src/cluster/membership/config.js';
import type { MemberEvent } from '../../src/cluster/membership/delegate.js';
import { Membership } from '../../src/cluster/membership/membership.js';
import { pushPullScale } from '../../src/cluster/membership/timing.js';
import { SerfDelegate } from '../../src/cluster/serf/index.js';
import { prng } from '../../test/helpers/prng.js';
import { SimClock } from './sim-clock.js';
import { SimNetwork } from './sim-network.js';

/** Serf 0.9.4's delegate protocol range, as src/cluster/cluster.ts sets it. */
const SERF_DELEGATE = { delegateProtocolMin: 2, delegateProtocolMax: 5, delegateProtocolVersion: 5 } as const;

export interface SimOptions {
  readonly nodes: number;
  readonly seed: number;
  /** One-way network latency, ms. */
  readonly latencyMs: number;
  /** Virtual seconds of steady state over which traffic is measured. */
  readonly windowS: number;
  /** Give up on a phase after this many virtual seconds. */
  readonly phaseLimitS: number;
  /** Progress lines (to stderr in the bench). */
  readonly progress?: (line: string) => void;
}

export interface SimResult {
  readonly nodes: number;
  /** Virtual seconds from the first join until every node saw every other alive. */
  readonly formationS: number;
  /** Steady state, per node per second: gossip and probes (UDP), measured over the window. */
  readonly udpBytesPerNodeS: number;
  readonly udpPacketsPerNodeS: number;
  /**
   * The same over a second window in which every node re-announces its load tags once a minute (at a
   * random phase), the most often node-tags.ts allows: each is an alive message every node retransmits.
   */
  readonly udpBytesPerNodeSWithLoadTags: number;
  /** Push/pull stream bytes per exchange (both directions), measured on explicit exchanges. */
  readonly pushPullBytesPerExchange: number;
  /**
   * Push/pull (TCP) bytes per node per second: each node initiates one exchange and serves one per
   * scaled interval, sending half of each. Computed from the measured exchange size, because the
   * scaled interval (150 s at 300 nodes, 180 s at 1,000) is longer than any window we can afford.
   */
  readonly tcpBytesPerNodeS: number;
  /** Live heap per node for membership + serf state (everything the simulated nodes hold). */
  readonly heapBytesPerNode: number;
  /** Members some node suspected during the steady-state window (false alarms). */
  readonly falseSuspicions: number;
  /** After a crash: the first suspicion, the first failed declaration, and when every node knew. */
  readonly firstSuspectS: number;
  /** From the first suspicion until every other node had heard of it (suspect or failed). */
  readonly suspicionSpreadS: number;
  readonly detectedS: number;
  readonly everywhereS: number;
  /** Real seconds the simulation took. */
  readonly wallS: number;
}

interface SimNode {
  readonly name: string;
  readonly host: string;
  readonly m: Membership;
  readonly serf: SerfDelegate;
}

/** How often a node may re-announce load-only tag changes (node-tags.ts LOAD_ANNOUNCE_MIN_MS). */
const LOAD_ANNOUNCE_MS = 60_000;

/** A gc() for heap measurements (npm run bench does not pass --expose-gc). */
function collector(): () => void {
  v8.setFlagsFromString('--expose_gc');
  const gc = runInNewContext('gc') as () => void;
  return () => {
    gc();
    gc();
  };
}

function hostOf(i: number): string {
  return `10.${1 + (i >> 16)}.${(i >> 8) & 255}.${(i & 255) + 0}`;
}

/** Tags shaped like a Caxton node's (src/cluster/node-tags.ts), so node meta has a realistic size. */
function tagsFor(host: string): Record<string, string> {
  return { role: 'caxton', version: '0.3.0', agents: '10000', api: `${host}:8080`, cpu: '37', mem: '412', caps: '9f86d081', caps_n: '3' };
}

export async function simulate(o: SimOptions): Promise<SimResult> {
  const wallStart = performance.now();
  const gc = collector();
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const clock = new SimClock();
  const net = new SimNetwork(clock, o.latencyMs);
  const pick = prng(o.seed);
  const nodes: SimNode[] = [];
  let joinsSeen = 0;
  let victim = '';
  let steady = false;
  const suspected = new Set<string>();
  const crash = { firstSuspect: -1, firstFailed: -1, failed: 0, learned: new Set<SimNode>(), learnedAll: -1 };

  const listen = (node: SimNode, ev: MemberEvent): void => {
    if (ev.type === 'join') joinsSeen += 1;
    if (ev.type === 'conflict') return;
    if (ev.member.name === victim) {
      if (ev.type === 'suspect' || ev.type === 'failed') {
        crash.learned.add(node);
        if (crash.learned.size === o.nodes - 1 && crash.learnedAll < 0) crash.learnedAll = clock.now();
      }
      if (ev.type === 'suspect' && crash.firstSuspect < 0) crash.firstSuspect = clock.now();
      if (ev.type === 'failed') {
        if (crash.firstFailed < 0) crash.firstFailed = clock.now();
        crash.failed += 1;
      }
    } else if (steady && ev.type === 'suspect') {
      suspected.add(ev.member.name);
    }
  };

  for (let i = 0; i < o.nodes; i++) {
    const name = `caxton-${String(i).padStart(5, '0')}`;
    const host = hostOf(i);
    const transport = net.transport(host);
    const config: MembershipConfig = { ...lanConfig(name), ...SERF_DELEGATE };
    const random = prng(o.seed * 100_003 + i);
    let membership: Membership | undefined;
    const serf = new SerfDelegate({
      nodeName: name,
      tags: tagsFor(host),
      sendTo: (to, bytes) => membership?.sendBestEffort(to, bytes),
      numNodes: () => membership?.numMembers() ?? 1,
      localAddress: () => transport.advertise,
      gossipIntervalMs: config.gossipIntervalMs,
      retransmitMult: config.retransmitMult,
      reconnectTimeoutMs: config.reconnectTimeoutMs,
      now: () => clock.now(),
      random,
    });
    membership = await Membership.create(config, transport, serf, { clock, random });
    const node: SimNode = { name, host, m: membership, serf };
    membership.onEvent((ev) => {
      serf.memberEvent(ev);
      listen(node, ev);
    });
    nodes.push(node);
  }

  // Formation: node i joins a random earlier node, 1,000 joins per virtual second at most, so no seed
  // takes the whole cluster's push/pulls at once (that is what the 128 cap is for).
  const spacingMs = Math.max(1, Math.min(20, 2_000 / o.nodes));
  let joinFailures = 0;
  for (let i = 1; i < o.nodes; i++) {
    const node = nodes[i] as SimNode;
    const tryJoin = (attempt: number): void => {
      const target = nodes[Math.floor(pick() * i)] as SimNode;
      void node.m.join([{ host: target.host, port: 7946 }]).then((ok) => {
        if (ok === 1) return;
        joinFailures += 1;
        if (attempt < 5) clock.setTimer(1_000, () => tryJoin(attempt + 1));
      });
    };
    clock.setTimer(i * spacingMs, () => tryJoin(1));
  }
  const say = (what: string): void => o.progress?.(`${o.nodes} nodes: ${what} at virtual ${(clock.now() / 1_000).toFixed(1)} s, real ${((performance.now() - wallStart) / 1_000).toFixed(1)} s, heap ${Math.round(process.memoryUsage().heapUsed / 2 ** 20)} MiB`);
  say('created');
  let lastSaid = 0;
  const formed = await clock.run(o.phaseLimitS * 1_000, () => {
    if (clock.now() - lastSaid >= 1_000) {
      lastSaid = clock.now();
      say(`forming, ${((100 * joinsSeen) / (o.nodes * o.nodes)).toFixed(1)} % of joins seen`);
    }
    return joinsSeen >= o.nodes * o.nodes;
  });
  if (!formed) throw new Error(`${o.nodes} nodes did not converge in ${o.phaseLimitS} virtual s (${joinsSeen} of ${o.nodes * o.nodes} joins seen, ${joinFailures} join failures)`);
  const formationS = clock.now() / 1_000;
  gc();
  const heapBytesPerNode = (process.memoryUsage().heapUsed - heapBefore) / o.nodes;

  // Every node's first push/pull tick runs at the unscaled 30 s (the cluster was small when it was
  // scheduled); start measuring after those, so the window sees the scaled steady state.
  await clock.run(Math.max(0, 40_000 - clock.now()));
  say('formed; measuring steady state');
  steady = true;
  net.resetTraffic();
  await clock.run(o.windowS * 1_000);
  steady = false;
  let udp = 0;
  let packets = 0;
  for (const t of net.traffic.values()) {
    udp += t.packetBytesOut;
    packets += t.packetsOut;
  }
  const perNodeS = (x: number): number => x / o.nodes / o.windowS;

  // Load tags: every node announces a CPU change once a minute, phases spread at random.
  net.resetTraffic();
  let announcing = true;
  for (const n of nodes) {
    const announce = (): void => {
      if (!announcing) return;
      n.serf.setTags({ ...tagsFor(n.host), cpu: String(Math.floor(pick() * 100)) });
      n.m.updateMeta(0).catch(() => undefined);
      clock.setTimer(LOAD_ANNOUNCE_MS, announce);
    };
    clock.setTimer(pick() * LOAD_ANNOUNCE_MS, announce);
  }
  await clock.run(o.windowS * 1_000);
  announcing = false;
  let udpTags = 0;
  for (const t of net.traffic.values()) udpTags += t.packetBytesOut;
  // Let the last announcements drain before the next measurements.
  await clock.run(10_000);

  // The size of one push/pull at this cluster size: a few explicit exchanges between random pairs.
  net.resetTraffic();
  const exchanges = 10;
  for (let i = 0; i < exchanges; i++) {
    const a = nodes[Math.floor(pick() * o.nodes)] as SimNode;
    const b = nodes[Math.floor(pick() * o.nodes)] as SimNode;
    void a.m.join([{ host: b.host, port: 7946 }]);
  }
  await clock.run(1_000);
  let tcp = 0;
  for (const t of net.traffic.values()) tcp += t.streamBytesOut;
  const bytesPerExchange = tcp / exchanges;

  // Crash one node (not the first, which joined nobody) and time how the others learn it.
  const dead = nodes[1 + Math.floor(pick() * (o.nodes - 1))] as SimNode;
  victim = dead.name;
  net.crash(dead.host);
  await dead.m.shutdown();
  const t0 = clock.now();
  say(`crashed ${victim}`);
  await clock.run(o.phaseLimitS * 1_000, () => crash.failed >= o.nodes - 1);
  const everywhere = crash.failed >= o.nodes - 1 ? (clock.now() - t0) / 1_000 : NaN;

  for (const n of nodes) await n.m.shutdown();
  return {
    nodes: o.nodes,
    formationS,
    udpBytesPerNodeS: perNodeS(udp),
    udpPacketsPerNodeS: perNodeS(packets),
    udpBytesPerNodeSWithLoadTags: perNodeS(udpTags),
    pushPullBytesPerExchange: bytesPerExchange,
    tcpBytesPerNodeS: bytesPerExchange / (pushPullScale(lanConfig('x').pushPullIntervalMs, o.nodes) / 1_000),
    heapBytesPerNode,
    falseSuspicions: suspected.size,
    firstSuspectS: crash.firstSuspect < 0 ? NaN : (crash.firstSuspect - t0) / 1_000,
    suspicionSpreadS: crash.learnedAll < 0 ? NaN : (crash.learnedAll - crash.firstSuspect) / 1_000,
    detectedS: crash.firstFailed < 0 ? NaN : (crash.firstFailed - t0) / 1_000,
    everywhereS: everywhere,
    wallS: (performance.now() - wallStart) / 1_000,
  };
}
