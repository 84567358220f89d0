/**
 * Agents changing node (opt-in: `npm run bench -- agent-moves`): the pause of a live move per agent
 * (src/agents/handoff.ts: from the redirect until the agent takes messages on the target), idle and
 * under traffic, and the time a failover takes to bring a failed node's agents back on their replica.
 *
 * Three nodes in this process, each with its own SQLite file and a real AgentPool (one worker thread,
 * wasm counters built from examples/counter), joined by the in-process MemoryNetwork of
 * test/helpers/memory-peers.ts (the link between processes is measured by its own benchmarks): what is
 * measured is the protocol's own cost (drain, state read and write, start on the target), not the wire.
 * Under traffic, another node sends one increment to each moving agent every 2 ms without waiting; the
 * row "lost" counts increments sent but not counted by the agent afterwards (must be 0).
 */
import { performance } from 'node:perf_hooks';
import { AgentCluster } from '../test/helpers/agent-cluster.js';
import { percentile, sortedCopy, type Row } from './report.js';

const AGENTS = 20;

export async function agentMoveBenchmarks(): Promise<Row[]> {
  const rows: Row[] = [];
  const c = await AgentCluster.start(['node-1', 'node-2', 'node-3']);
  try {
    const names = Array.from({ length: AGENTS }, (_, i) => `m${i}`);
    for (const n of names) await c.deploy('node-1', n);
    // Idle: one agent at a time, node-1 → node-2.
    const idle: number[] = [];
    for (const n of names) idle.push((await c.node('node-1').agents.handoff.move(n, 'node-2', 'rebalance')).pauseMs);
    rows.push(...pauseRows('idle', idle));
    // Under traffic: node-3 keeps sending while each agent moves node-2 → node-1.
    const sent = new Map(names.map((n) => [n, 0]));
    let stop = false;
    const traffic = (async () => {
      while (!stop) {
        for (const n of names) {
          c.send('node-3', n, 'request', { op: 'increment' });
          sent.set(n, (sent.get(n) as number) + 1);
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const busy: number[] = [];
    let held = 0;
    for (const n of names) {
      const r = await c.node('node-2').agents.handoff.move(n, 'node-1', 'rebalance');
      busy.push(r.pauseMs);
      held += r.held;
    }
    stop = true;
    await traffic;
    await new Promise((r) => setTimeout(r, 500));
    let lost = 0;
    for (const n of names) lost += (sent.get(n) as number) - (await c.count('node-3', n));
    rows.push(...pauseRows('under traffic', busy));
    rows.push({ name: 'agent move: messages held on the target per move, under traffic', value: held / names.length, unit: 'msgs', note: 'delivered once the agent started' });
    rows.push({ name: 'agent move: increments lost under traffic', value: lost, unit: 'msgs', budget: '0', ok: lost === 0 });
    // Failover: node-1 (running all of them) dies; each agent's replica takes it over.
    for (const n of names) await c.node('node-1').agents.replicator.push(n);
    await c.kill('node-1');
    c.failView('node-1');
    const t0 = performance.now();
    await c.viewChange();
    const ms = performance.now() - t0;
    const running = names.filter((n) => c.hosts(n).length === 1).length;
    rows.push({ name: `failover: ${AGENTS} agents back on their replicas, from the view change`, value: ms, unit: 'ms', note: `${running}/${AGENTS} running; excludes failure detection (SWIM) and state replication's promote` });
  } finally {
    await c.close();
  }
  return rows;
}

function pauseRows(what: string, xs: number[]): Row[] {
  const s = sortedCopy(xs);
  return [
    { name: `agent move pause P50, ${what}`, value: percentile(s, 50), unit: 'ms', note: `${xs.length} moves` },
    { name: `agent move pause P99, ${what}`, value: percentile(s, 99), unit: 'ms' },
  ];
}
