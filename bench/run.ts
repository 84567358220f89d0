/**
 * `npm run bench [-- <group>...]`: runs the benchmark groups, prints one table and writes
 * bench/results/latest.json. Opt-in groups (slow, or needing more than this repository) run only when
 * named, and write their own file, bench/results/<group>.json, so they never replace latest.json.
 */
import { printAndSave, type Row } from './report.js';
import { sandboxBenchmarks } from './sandbox.bench.js';
import { messagingBenchmarks } from './messaging.bench.js';
import { apiBenchmarks } from './api.bench.js';
import { sdkBenchmarks } from './sdk.bench.js';
import { sdksBenchmarks } from './sdks.bench.js';
import { clusterBenchmarks } from './cluster.bench.js';
import { clusterLinkBenchmarks } from './cluster-link.bench.js';
import { replicationBenchmarks } from './replication.bench.js';
import { clusterSimBenchmarks } from './cluster-sim.bench.js';
import { agentMoveBenchmarks } from './agent-moves.bench.js';
import { clusterRoutingBenchmarks } from './cluster-routing.bench.js';
import { partitionBenchmarks } from './partitions.bench.js';
import { operationsBenchmarks } from './operations.js';
import { toolsBenchmarks } from './tools.bench.js';
import { dashboardBenchmarks } from './dashboard.bench.js';
import { hopFloorBenchmarks } from './hop-floor.bench.js';
import { processCeiling, trapHandlerDisabled } from '../src/sandbox/capacity.js';

const groups: Record<string, () => Promise<Row[]>> = {
  sandbox: sandboxBenchmarks,
  messaging: messagingBenchmarks,
  api: apiBenchmarks,
  sdk: sdkBenchmarks,
  // The SDKs side by side (issue 16): about 10 s; the C and Rust rows skip without clang or rustc.
  sdks: sdksBenchmarks,
};

const optIn: Record<string, { run: () => Promise<Row[]>; why: string }> = {
  cluster: {
    run: clusterBenchmarks,
    why: 'Caxton vs serf agents, 3/5/10 nodes, about 5 minutes; needs /usr/bin/serf, and root + unshare + nft for the 10 % loss rows',
  },
  'cluster-link': {
    run: clusterLinkBenchmarks,
    why: 'the node-to-node link vs node:http2, 3 processes on 127.0.0.21-23: call round trip and throughput, about a minute',
  },
  replication: {
    run: replicationBenchmarks,
    why: 'state replication (sync/async) cost on a stateful agent and the async loss window at a kill, two pools in one process, about a minute',
  },
  'cluster-sim': {
    run: clusterSimBenchmarks,
    why: 'membership at 100/300 nodes and the directory at 100/1,000/5,000 nodes in one process on virtual time, 1,000/5,000-node membership by model; a few minutes on an idle 2-core host (CLUSTER_SIM_SIZES, CLUSTER_SIM_DIR_SIZES)',
  },
  'agent-moves': {
    run: agentMoveBenchmarks,
    why: 'live move pause per agent (idle, under traffic) and failover of 20 agents, 3 in-process nodes, about a minute',
  },
  'cluster-routing': {
    run: clusterRoutingBenchmarks,
    why: "issue 11's table on real server processes (127.0.0.121-128): agent→agent request→reply across nodes beside NATS (needs nats-server), throughput with every pair remote, key revocation, rebalance pause, directory convergence after 1,000 deploys, failover of 100 agents; about 75 s",
  },
  operations: {
    run: operationsBenchmarks,
    why: 'issue 14: full backup and restore time and size for 10,000 agents and 1 GiB of agent state (built through the stores), incremental size after 1 % of the keys change; the rolling upgrade of 3 supervised server processes (127.0.0.233-235) to a copy of this build: wall time, per node, the longest any agent was unreachable (needs `npm run build`); a few minutes and about 6 GB of temporary disk (OPERATIONS_BENCH_MB scales it)',
  },
  tools: {
    run: toolsBenchmarks,
    why: 'issue 17: a tool call through Caxton (bridge alone, and through an agent) vs a direct SDK client to the same stdio MCP server (server-everything), P50/P99 in the same run, and calls per second through one bridge; about a minute',
  },
  'hop-floor': {
    run: hopFloorBenchmarks,
    why: "issue 11: the floor under the cross-node latency budget: one frame back and forth between two processes (127.0.0.132), main thread to main thread, through a worker on each side as today's hop is, and worker to worker; about 20 s",
  },
  dashboard: {
    run: dashboardBenchmarks,
    why: "issue 15: the dashboard's transfer size, first render with 1,000 agents and long tasks while 1,000 events/s stream in, in headless chromium (Debian's package) against one server process; about a minute",
  },
  partitions: {
    run: partitionBenchmarks,
    why: "issue 12: partition queue hold/replay of 10,000 messages into a real agent, its capacity at the default bounds (about 100 MiB on disk), and cut/heal detection on 3 server processes in network namespaces (root + iproute2, else skipped); a few minutes",
  },
};

const wanted = process.argv.slice(2);
if (wanted.includes('--help') || wanted.includes('-h')) {
  process.stdout.write(
    `npm run bench [-- <group>...]\n\ngroups run by default: ${Object.keys(groups).join(', ')} (results: bench/results/latest.json)\n` +
      `opt-in groups, run only when named (results: bench/results/<group>.json):\n${Object.entries(optIn)
        .map(([n, g]) => `  ${n}: ${g.why}`)
        .join('\n')}\n`,
  );
  process.exit(0);
}
const unknown = wanted.filter((w) => !(w in groups) && !(w in optIn));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark group(s): ${unknown.join(', ')}; known: ${[...Object.keys(groups), ...Object.keys(optIn)].join(', ')}\n`);
  process.exit(2);
}

const ceiling = processCeiling();
process.stderr.write(`V8's wasm trap handler: ${trapHandlerDisabled() ? 'off' : 'on'}; agents per process: ${ceiling.agents} (${ceiling.limit === 'map_count' ? 'vm.max_map_count' : 'address space'})\n`);
const rows: Row[] = [];
for (const [name, run] of Object.entries(groups)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  process.stderr.write(`running ${name} benchmarks...\n`);
  rows.push(...(await run()));
}
if (rows.length > 0) printAndSave(rows);
for (const [name, g] of Object.entries(optIn)) {
  if (!wanted.includes(name)) {
    if (wanted.length === 0) process.stderr.write(`(${name} benchmarks are opt-in: npm run bench -- ${name}; ${g.why})\n`);
    continue;
  }
  process.stderr.write(`running ${name} benchmarks...\n`);
  printAndSave(await g.run(), `${name}.json`);
}
