/**
 * The `operations` group's upgrade rows (issue 14): a 3-node cluster of real `caxton server start
 * --releases DIR` processes (127.0.0.233-235, from source under tsx for the supervisors, the releases
 * from this tree's build: run `npm run build` first) upgraded to a copy of this build with the next
 * version, canary 5 s, each later node watched 2 s.
 *
 * - the upgrade's wall time, from `POST /cluster/upgrade` to the plan completed, and per node the
 *   time from its restart request to back (a member on the new version, agents running, placement
 *   settled four polls in a row, 2 s of it);
 * - the longest time any agent was unreachable: three `counter` agents per node, each asked `get`
 *   (request→reply, 2 s timeout) in its own loop every 20 ms, through the next node's API and, when
 *   that fails, the one after (a client with failover). A gap is the time between two answered asks.
 *   Gaps that overlap the restart of the agent's home node (from the restart request to back) are
 *   the moving agents'; the others the agents whose node is not being restarted. Before the upgrade,
 *   5 s of the same asking gives the probe's own resolution.
 */
import type { Row } from './report.js';
import { api, type RunningServer } from '../test/helpers/server.js';
import { startServerCluster } from '../test/helpers/server-cluster.js';
import { freePort } from '../test/unit/cluster/serf/serf-harness.js';
import { until } from '../test/helpers/until.js';
import { agentWasm } from '../test/helpers/agents.js';
import { tempDir } from '../test/helpers/tmp.js';
import { installRelease, nextVersion } from '../test/helpers/releases.js';
import { switchCurrent } from '../src/cluster/upgrade/releases.js';
import { VERSION } from '../src/version.js';

const BASE = 232;
const PER_NODE = 3;
const CANARY_MS = 5000;
const NODE_WATCH_MS = 2000;

interface Gap {
  readonly agent: number;
  readonly from: number;
  readonly to: number;
}

export async function upgradeBenchmarks(): Promise<Row[]> {
  const next = nextVersion();
  const dirs = [0, 1, 2].map(() => tempDir('caxton-bench-releases-'));
  for (const d of dirs) {
    installRelease(d.path, { version: VERSION });
    installRelease(d.path, { version: next });
    switchCurrent(d.path, VERSION);
  }
  const ports = await Promise.all([0, 1, 2].map((i) => freePort(`127.0.0.${BASE + i + 1}`)));
  const c = await startServerCluster({
    size: 3,
    base: BASE,
    args: ['--set', 'security.api.rate_limit.enabled=false'],
    nodeArgs: (i) => ['--releases', (dirs[i] as { path: string }).path, '--api-addr', `127.0.0.${BASE + i + 1}:${ports[i]}`],
  });
  try {
    const nodes = c.nodes as RunningServer[];
    const key = (nodes[0] as RunningServer).adminKey;
    await until('node-1 admin key works everywhere', async () => {
      for (const n of nodes) if ((await api(n, 'GET', '/status', undefined, key).catch(() => undefined))?.status !== 200) return false;
      return true;
    }, 30_000, 100);
    const b64 = Buffer.from(agentWasm('counter')).toString('base64');
    const agents: { name: string; home: number }[] = [];
    for (let k = 0; k < 3; k++) {
      for (let j = 0; j < PER_NODE; j++) {
        const name = `bench-counter-${k + 1}-${j}`;
        const r = await api(nodes[0] as RunningServer, 'POST', '/agents', { name, module: b64, target_node: c.name(k) }, key);
        if (r.status !== 201) throw new Error(`deploy ${name}: ${JSON.stringify(r.body)}`);
        agents.push({ name, home: k });
      }
    }
    const ask = async (i: number): Promise<boolean> => {
      const a = agents[i] as { name: string; home: number };
      for (let k = 1; k <= 3; k++) {
        const via = nodes[(a.home + k) % 3] as RunningServer;
        const r = await api(via, 'POST', '/messages?wait_reply=true&timeout_ms=2000', { performative: 'request', receiver: a.name, content: { op: 'get' } }, key).catch(() => undefined);
        if (r?.status === 200 && r.body.reply?.performative === 'inform') return true;
      }
      return false;
    };
    for (const i of agents.keys()) await until(`${agents[i]?.name} answers`, () => ask(i), 30_000, 100);
    const probe = (stopAt: { stop: boolean }) => {
      const gaps: Gap[] = [];
      const loops = agents.map(async (_, i) => {
        let last = Date.now();
        while (!stopAt.stop) {
          if (await ask(i)) {
            const now = Date.now();
            gaps.push({ agent: i, from: last, to: now });
            last = now;
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      });
      return { gaps, done: Promise.all(loops) };
    };
    // The probe's own resolution: the same asking, nothing restarting.
    const idle = { stop: false };
    const before = probe(idle);
    await new Promise((r) => setTimeout(r, 5000));
    idle.stop = true;
    await before.done;
    const baseline = Math.max(...before.gaps.map((g) => g.to - g.from));

    const run = { stop: false };
    const during = probe(run);
    const t0 = performance.now();
    const started = await api(nodes[0] as RunningServer, 'POST', '/cluster/upgrade', { version: next, canary_duration_ms: CANARY_MS, node_watch_ms: NODE_WATCH_MS }, key);
    if (started.status !== 202) throw new Error(`upgrade refused: ${JSON.stringify(started.body)}`);
    const plan = await until('the upgrade completes', async () => {
      const s = await api(nodes[0] as RunningServer, 'GET', '/cluster/upgrade', undefined, key).catch(() => undefined);
      if (s?.body?.phase === 'completed') return s.body as { steps: { node: string; restart_at: string; back_at: string }[] };
      if (s?.body?.phase !== undefined && !['canary', 'rolling'].includes(s.body.phase)) throw new Error(`upgrade ended ${s.body.phase}: ${s.body.error}`);
      return undefined;
    }, 300_000, 100);
    const upgradeMs = performance.now() - t0;
    run.stop = true;
    await during.done;
    const windows = new Map(plan.steps.map((s) => [Number(s.node.replace('node-', '')) - 1, [Date.parse(s.restart_at), Date.parse(s.back_at)] as const]));
    let moving = 0;
    let still = 0;
    for (const g of during.gaps) {
      const w = windows.get((agents[g.agent] as { home: number }).home);
      const overlaps = w !== undefined && g.from < w[1] && g.to > w[0];
      if (overlaps) moving = Math.max(moving, g.to - g.from);
      else still = Math.max(still, g.to - g.from);
    }
    const perNode = plan.steps.map((s) => Date.parse(s.back_at) - Date.parse(s.restart_at));
    const mean = perNode.reduce((a, b) => a + b, 0) / perNode.length;
    const failoverBudget = 3000;
    const note = `3 supervised server processes, ${agents.length} counter agents, canary ${CANARY_MS / 1000} s, node watch ${NODE_WATCH_MS / 1000} s`;
    return [
      { name: 'upgrade: 3-node cluster, wall time', value: upgradeMs / 1000, unit: 's', note: `${note}; includes ${(CANARY_MS + 2 * NODE_WATCH_MS) / 1000} s of watching` },
      { name: 'upgrade: one node, restart request to back and settled (mean)', value: mean / 1000, unit: 's', note: `per node ${perNode.map((x) => (x / 1000).toFixed(1)).join(' / ')} s (canary, then the others, the coordinator last)` },
      { name: 'upgrade: longest unreachable, agents whose node restarts', value: moving, unit: 'ms', budget: '<= failover (3 s)', ok: moving <= failoverBudget, note: `request→reply gaps overlapping the home node's restart; probe resolution ${baseline} ms` },
      { name: 'upgrade: longest unreachable, agents on other nodes', value: still, unit: 'ms', budget: '0 (<= probe resolution)', ok: still <= Math.max(baseline * 2, 500), note: `probe resolution (same asking, no upgrade): ${baseline} ms` },
    ];
  } finally {
    await c.stop();
    for (const d of dirs) d.cleanup();
  }
}
