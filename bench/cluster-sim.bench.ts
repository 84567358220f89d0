/**
 * `npm run bench -- cluster-sim` (opt-in): the cluster at sizes this machine cannot host, simulated in
 * one process on virtual time (docs/cluster-routing.md#scale).
 *
 * - Membership: real Membership + SerfDelegate stacks (LAN profile) over an in-memory network, at
 *   CLUSTER_SIM_SIZES (default 100,300): steady-state gossip bytes, push/pull size, failure detection.
 *   Forming a cluster costs O(N² × retransmits) gossip messages (every node rebroadcasts every alive
 *   it learns, as memberlist does), which one process cannot do for 1,000 nodes in minutes; 1,000 and
 *   5,000 are computed from the largest simulated size with memberlist's formulas (model rows).
 * - Directory: the real ClusterDirectory on 100, 1,000 and 5,000 nodes (CLUSTER_SIM_DIR_SIZES) with
 *   one shared membership view: held entries and heap per node, anti-entropy traffic, and the time for
 *   a deploy to be routable from every node.
 */
import { simulate, type SimResult } from './cluster-sim/simulate.js';
import { simulateDirectory, type DirectorySimResult } from './cluster-sim/directory-sim.js';
import { epidemicBandwidthBytesPerS, epidemicRounds, minSuspicionMs, pushPullBytesPerNodeS } from './cluster-sim/model.js';
import { retransmitLimit } from '../src/cluster/membership/timing.js';
import type { Row } from './report.js';

const sizes = (env: string | undefined, dflt: number[]): number[] =>
  env === undefined ? dflt : env.split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n >= 3);

const progress = (line: string): void => {
  process.stderr.write(`  ${line}\n`);
};

/** serf's simulator settings: LAN gossip, 200 ms, fanout 3. */
const SERF = { fanout: 3, intervalMs: 200 } as const;

function membershipRows(r: SimResult): Row[] {
  const p = `cluster-sim ${r.nodes} nodes`;
  return [
    { name: `${p}: cluster formed (all see all alive)`, value: r.formationS, unit: 's', note: 'virtual time, staggered joins' },
    { name: `${p}: gossip+probe bytes/node/s (UDP)`, value: r.udpBytesPerNodeS, unit: 'B/s', note: `${r.udpPacketsPerNodeS.toFixed(1)} packets/node/s` },
    { name: `${p}: push/pull bytes/node/s (TCP)`, value: r.tcpBytesPerNodeS, unit: 'B/s', note: `${Math.round(r.pushPullBytesPerExchange)} B per exchange` },
    { name: `${p}: UDP bytes/node/s, load tags every 60 s`, value: r.udpBytesPerNodeSWithLoadTags, unit: 'B/s', note: 'every node re-announces CPU once a minute' },
    { name: `${p}: crash → first suspicion`, value: r.firstSuspectS, unit: 's' },
    { name: `${p}: crash → declared failed`, value: r.detectedS, unit: 's', note: `min suspicion ${(minSuspicionMs(r.nodes) / 1000).toFixed(1)} s` },
    { name: `${p}: crash → every node knows`, value: r.everywhereS, unit: 's' },
    {
      name: `${p}: suspicion spread to all`,
      value: r.suspicionSpreadS,
      unit: 's',
      note: `serf model 99.99 %: ${(epidemicRounds(r.nodes, 0.9999, SERF) * SERF.intervalMs) / 1000} s`,
    },
    { name: `${p}: membership heap/node`, value: r.heapBytesPerNode / 1024, unit: 'KiB', note: `false suspicions ${r.falseSuspicions}; ${r.wallS.toFixed(0)} s real` },
  ];
}

/** 1,000 and 5,000 nodes from the largest simulated run, with memberlist's size-dependent formulas. */
function modelRows(base: SimResult, n: number): Row[] {
  const p = `cluster-sim ${n} nodes (model from ${base.nodes})`;
  const perEntry = base.pushPullBytesPerExchange / base.nodes;
  // Detection = time to the first failed probe (no N dependence: about one probe of the victim per
  // second whatever N) + the suspicion timeout, which Lifeguard confirmations bring down to its minimum.
  const overhead = base.detectedS - base.firstSuspectS - minSuspicionMs(base.nodes) / 1000;
  const detected = base.firstSuspectS + minSuspicionMs(n) / 1000 + overhead;
  const spreadScale = epidemicRounds(n, 0.9999, SERF) / epidemicRounds(base.nodes, 0.9999, SERF);
  // Load tags: N/60 announcements per second, each sent retransmitLimit(N) times by every node.
  const perAnnouncement = (base.udpBytesPerNodeSWithLoadTags - base.udpBytesPerNodeS) / (base.nodes / 60);
  const loadTags = base.udpBytesPerNodeS + ((perAnnouncement * retransmitLimit(4, n)) / retransmitLimit(4, base.nodes)) * (n / 60);
  return [
    { name: `${p}: gossip+probe bytes/node/s (UDP)`, value: base.udpBytesPerNodeS, unit: 'B/s', note: 'probes: independent of N' },
    { name: `${p}: push/pull bytes/node/s (TCP)`, value: pushPullBytesPerNodeS(n, perEntry), unit: 'B/s', note: `${Math.round(perEntry * n)} B per exchange` },
    {
      name: `${p}: UDP bytes/node/s, load tags every 60 s`,
      value: loadTags,
      unit: 'B/s',
      note: `gossip carries at most ${epidemicBandwidthBytesPerS(SERF) / 2} B/s per node`,
    },
    { name: `${p}: crash → declared failed`, value: detected, unit: 's', note: `min suspicion ${(minSuspicionMs(n) / 1000).toFixed(1)} s` },
    { name: `${p}: crash → every node knows`, value: detected + (base.everywhereS - base.detectedS) * spreadScale, unit: 's' },
    { name: `${p}: suspicion spread to all`, value: base.suspicionSpreadS * spreadScale, unit: 's', note: `serf model 99.99 %: ${(epidemicRounds(n, 0.9999, SERF) * SERF.intervalMs) / 1000} s` },
  ];
}

function directoryRows(r: DirectorySimResult): Row[] {
  const p = `cluster-sim directory ${r.nodes} nodes`;
  return [
    { name: `${p}: entries held/node (mean)`, value: r.heldMean, unit: 'entries', note: `${r.agents} agents; max ${r.heldMax}` },
    { name: `${p}: directory heap/node`, value: r.heapBytesPerNode / 1024, unit: 'KiB', note: `of which ${(r.heapBytesPerNodeEmpty / 1024).toFixed(1)} KiB the view's copy` },
    { name: `${p}: heap per held entry`, value: r.heapBytesPerHeldEntry, unit: 'B', note: 'authored + held + indexes' },
    { name: `${p}: anti-entropy bytes/node/s`, value: r.antiEntropyBytesPerNodeS, unit: 'B/s', note: 'link posts, never gossip' },
    { name: `${p}: deploy routable everywhere (HRW owner)`, value: r.routableOwnedMs, unit: 'ms' },
    { name: `${p}: deploy routable everywhere (pinned)`, value: r.routablePinnedMs, unit: 'ms', note: '1 ms clock buckets' },
    { name: `${p}: ownerOf, uncached`, value: r.ownerOfMicros, unit: 'µs', note: `${r.wallS.toFixed(0)} s real` },
  ];
}

export async function clusterSimBenchmarks(): Promise<Row[]> {
  const rows: Row[] = [];
  rows.push({ name: 'cluster-sim serf model: bandwidth/node, any N', value: epidemicBandwidthBytesPerS(SERF), unit: 'B/s', note: '2·1400 B·fanout/interval: an upper bound, every round full' });
  let largest: SimResult | undefined;
  for (const n of sizes(process.env['CLUSTER_SIM_SIZES'], [100, 300])) {
    const r = await simulate({ nodes: n, seed: 1, latencyMs: 0.5, windowS: 30, phaseLimitS: 300, progress });
    rows.push(...membershipRows(r));
    if (largest === undefined || r.nodes > largest.nodes) largest = r;
  }
  if (largest !== undefined) for (const n of [1_000, 5_000]) if (n > largest.nodes) rows.push(...modelRows(largest, n));
  // Uncached ownerOf costs O(N) hashes per name (2.8 ms at 1,000 nodes with the first, BigInt,
  // hash; ≈ 0.1 ms with the 32-bit-lane one), paid by the simulation to place agents and by the
  // directory to announce them: fewer agents at larger N keep the run in minutes.
  const agentsFor = (n: number): number => (n >= 5_000 ? 250 : n >= 1_000 ? 1_000 : 2_000);
  for (const n of sizes(process.env['CLUSTER_SIM_DIR_SIZES'], [100, 1_000, 5_000])) {
    const r = await simulateDirectory({ nodes: n, agents: agentsFor(n), pinnedFraction: 0.1, capabilities: 1_000, topics: 1_000, latencyMs: 0.25, seed: 1, progress });
    rows.push(...directoryRows(r));
  }
  return rows;
}
