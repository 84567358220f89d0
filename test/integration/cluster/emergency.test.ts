/**
 * The runbook's emergency procedures on three real `caxton server start` processes, each command run
 * as the runbook writes it through the CLI against node-1, and its effect checked on every node
 * through that node's own API: memory stats, agents suspend --priority low, memory gc --aggressive,
 * circuit-breaker activate --all (and reset), trace --error-cascade across nodes, debug dump,
 * emergency stop --preserve-state --dump-to, a node that does not answer, and emergency stop
 * --cluster stopping every node process.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { api, runCli, type RunningServer } from '../../helpers/server.js';
import { startServerCluster, type ServerCluster } from '../../helpers/server-cluster.js';
import { until } from '../../helpers/until.js';
import { agentWasm, fixtureWasm } from '../../helpers/agents.js';
import { initiatorAgent } from '../../helpers/wat-agents.js';
import { tempDir } from '../../helpers/tmp.js';

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const NODES = ['node-1', 'node-2', 'node-3'] as const;

let c: ServerCluster;
let n: RunningServer[];
let key: string;
const files = tempDir('caxton-emergency-');

before(async () => {
  c = await startServerCluster({ size: 3, base: 240, args: ['--set', 'security.api.rate_limit.enabled=false'] });
  n = c.nodes as RunningServer[];
  key = n[0]!.adminKey;
  for (const s of n) await until(`node-1's admin key works on ${s.apiUrl}`, async () => (await api(s, 'GET', '/status', undefined, key)).status === 200);
  // On each node: a low-priority agent and a normal one, pinned there.
  for (const [i, node] of NODES.entries()) {
    for (const [name, wasm, priority] of [[`low-${i + 1}`, agentWasm('echo'), 'low'], [`calc-${i + 1}`, agentWasm('calculator'), 'normal']] as const) {
      const r = await api(n[0]!, 'POST', '/agents', { name, module: b64(wasm), priority, target_node: node }, key);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.node, node);
    }
  }
});
after(async () => {
  await c?.stop();
  files.cleanup();
});

/** `caxton <args>` against node-1, as an operator would run it. */
const cx = (args: readonly string[]) => runCli([...args, '--api-url', n[0]!.apiUrl, '--api-key', key], { timeoutMs: 120_000 });

/** An agent as the node that hosts it sees it (its own API, `node=` itself: not the cluster view). */
async function onNode(i: number, name: string): Promise<{ state: string; circuit: string }> {
  const a = await api(n[i]!, 'GET', `/agents/${name}`, undefined, key);
  assert.equal(a.status, 200, `${name} on ${NODES[i]}: ${JSON.stringify(a.body)}`);
  return { state: a.body.state, circuit: a.body.stats.circuit };
}

test('emergency - memory stats: one row per node', { timeout: 60_000 }, async () => {
  const r = await cx(['memory', 'stats']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^NODE\s+USED\s+LIMIT\s+AGENTS$/m);
  for (const node of NODES) assert.match(r.stdout, new RegExp(`^${node}\\s+[\\d.]+[KMGT]?B\\s+[\\d.]+[KMGT]?B\\s+2$`, 'm'));
});

test('emergency - agents suspend --priority low: every node suspends its own low-priority agents and no others', { timeout: 60_000 }, async () => {
  const r = await cx(['agents', 'suspend', '--priority', 'low']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^AGENT\s+NODE\s+STATE$/m);
  for (const [i, node] of NODES.entries()) assert.match(r.stdout, new RegExp(`^low-${i + 1}\\s+${node}\\s+suspended$`, 'm'));
  assert.match(r.stdout, /^3 agents of priority low suspended on 3 nodes \(node-1: 1, node-2: 1, node-3: 1\)$/m);
  for (let i = 0; i < 3; i++) {
    assert.equal((await onNode(i, `low-${i + 1}`)).state, 'suspended', `low-${i + 1} on its node`);
    assert.equal((await onNode(i, `calc-${i + 1}`)).state, 'running', 'normal priority is left alone');
  }
  // Again: nothing left to suspend, and it says so.
  const again = await cx(['agents', 'suspend', '--priority', 'low']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^0 agents of priority low suspended on 3 nodes/m);
  for (let i = 0; i < 3; i++) assert.equal((await api(n[i]!, 'POST', `/agents/low-${i + 1}/resume`, undefined, key)).status, 200);
});

test('emergency - memory gc --aggressive: every node collects and evicts the modules it no longer runs', { timeout: 90_000 }, async () => {
  // A module each node compiled, then no agent there runs any more: only an aggressive gc drops it.
  for (const [i, node] of NODES.entries()) {
    const r = await api(n[0]!, 'POST', '/agents', { name: `tmp-${i + 1}`, module: b64(agentWasm('counter')), target_node: node }, key);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.node, node);
    // Agent control goes to the node that runs the agent.
    const removed = await api(n[i]!, 'DELETE', `/agents/tmp-${i + 1}`, undefined, key);
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
  }
  const r = await cx(['memory', 'gc', '--aggressive']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^NODE\s+BEFORE\s+AFTER\s+FREED\s+MODULES EVICTED$/m);
  for (const node of NODES) assert.match(r.stdout, new RegExp(`^${node}\\s+[\\d.]+[KMGT]?B\\s+[\\d.]+[KMGT]?B\\s+[\\d.]+[KMGT]?B\\s+1$`, 'm'), `${node} evicted the counter module`);
  assert.match(r.stdout, /^✓ freed .* on 3 nodes, 3 cached modules evicted$/m);
  // Each node's own collection now has nothing left to evict.
  for (const [i, node] of NODES.entries()) {
    const one = await api(n[i]!, 'POST', '/memory/gc', { aggressive: true, node }, key);
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.deepEqual([one.body.nodes.map((x: { node: string }) => x.node), one.body.modules_evicted], [[node], 0]);
  }
});

test('emergency - circuit-breaker activate --all opens every agent\'s breaker on every node; reset closes them', { timeout: 60_000 }, async () => {
  const r = await cx(['circuit-breaker', 'activate', '--all']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '✓ 6 circuit breakers opened on node-1 (2), node-2 (2), node-3 (2)\n');
  for (let i = 0; i < 3; i++) {
    for (const name of [`low-${i + 1}`, `calc-${i + 1}`]) await until(`${name}'s breaker is open on ${NODES[i]}`, async () => (await onNode(i, name)).circuit === 'forced-open');
  }
  // A message to node-3's agent through node-1 fails fast.
  const refused = await api(n[0]!, 'POST', '/messages?wait_reply=true&timeout_ms=5000', { performative: 'query-ref', receiver: 'calc-3', content: { op: 'add', args: [1, 1] } }, key);
  assert.equal(refused.body.reply?.performative, 'failure', JSON.stringify(refused.body));
  assert.match(JSON.stringify(refused.body.reply.content), /circuit/);
  const reset = await cx(['circuit-breaker', 'reset']);
  assert.equal(reset.code, 0, reset.stderr);
  assert.equal(reset.stdout, '✓ 6 circuit breakers reset on node-1 (2), node-2 (2), node-3 (2)\n');
  for (let i = 0; i < 3; i++) await until(`calc-${i + 1}'s breaker is closed`, async () => (await onNode(i, `calc-${i + 1}`)).circuit === 'closed');
  // One agent by name: opened on the node that runs it only; a name no node runs is an error.
  const one = await cx(['circuit-breaker', 'activate', '--agent', 'calc-2']);
  assert.equal(one.stdout, '✓ 1 circuit breaker opened (calc-2) on node-1 (0), node-2 (1), node-3 (0)\n');
  await until('calc-2 open', async () => (await onNode(1, 'calc-2')).circuit === 'forced-open');
  assert.equal((await onNode(2, 'calc-3')).circuit, 'closed');
  assert.equal((await cx(['circuit-breaker', 'reset', '--agent', 'calc-2'])).code, 0);
  const nobody = await cx(['circuit-breaker', 'activate', '--agent', 'nobody']);
  assert.equal(nobody.code, 1);
  assert.match(nobody.stderr, /no agent named nobody on any node/);
});

test('emergency - trace --error-cascade gathers every node\'s errors: the root is the first failure, on the node it happened', { timeout: 90_000 }, async () => {
  // crash (node-2) traps on what it gets; front (node-1) asks crash once it is told to.
  for (const [name, wasm, node] of [['crash', fixtureWasm('trap-handler'), 'node-2'], ['front', await initiatorAgent('{"performative":"request","receiver":"crash","content":"work","conversation_id":"storm-2"}'), 'node-1']] as const) {
    const r = await api(n[0]!, 'POST', '/agents', { name, module: b64(wasm), target_node: node }, key);
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  // Through node-1's API, to crash on node-2: a fault there; the failure comes back to node-1.
  await api(n[0]!, 'POST', '/messages', { performative: 'request', receiver: 'crash', content: 1, conversation_id: 'storm-1' }, key);
  await until('crash faulted on node-2', async () => (await api(n[1]!, 'GET', '/agents/crash', undefined, key)).body.last_fault !== null);
  assert.equal((await api(n[1]!, 'POST', '/agents/crash/stop', undefined, key)).status, 200);
  await api(n[0]!, 'POST', '/messages', { performative: 'inform', receiver: 'front', content: 'go' }, key);
  const cascade = async () => JSON.parse((await cx(['trace', '--error-cascade', '--last', '5m', '-o', 'json'])).stdout);
  const r = await until('the cascade spans node-2 and node-1', async () => {
    const v = await cascade();
    const c0 = v.cascades.find((x: { agents: { name: string }[] }) => x.agents.some((a) => a.name === 'crash'));
    return c0 !== undefined && c0.nodes.includes('node-1') && c0.nodes.includes('node-2') && c0.affected.includes('front') ? { v, c0 } : undefined;
  }, 30_000, 200);
  assert.deepEqual(r.v.nodes, ['node-1', 'node-2', 'node-3']);
  assert.deepEqual(r.v.missing, []);
  assert.deepEqual([r.c0.root.kind, r.c0.root.agent, r.c0.root.node], ['fault', 'crash', 'node-2'], 'the first failure, on node-2, though node-1 was asked');
  assert.equal(r.c0.nodes[0], 'node-2');
  assert.ok(r.c0.conversations.some((x: { id: string }) => x.id === 'storm-1'), JSON.stringify(r.c0.conversations));
  // Node-1 alone does not hold the root: the cluster-wide answer is what finds it.
  const local = await api(n[0]!, 'GET', '/error-cascade?last_ms=300000', undefined, key);
  assert.ok(local.body.cascades.flatMap((x: { events: { node: string }[] }) => x.events).some((e: { node: string }) => e.node === 'node-2'));
  const table = await cx(['trace', '--error-cascade', '--last', '5m']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^root cause: crash on node-2: fault /m);
  assert.match(table.stdout, /^TIME\s+NODE\s+KIND\s+AGENT\s+PEER\s+DETAIL$/m);
  for (const [i, name] of [[1, 'crash'], [0, 'front']] as const) assert.equal((await api(n[i]!, 'DELETE', `/agents/${name}`, undefined, key)).status, 200);
});

test('emergency - debug dump: one archive with a directory per node and cluster.json', { timeout: 60_000 }, async () => {
  const out = join(files.path, 'debug.tar.gz');
  const r = await cx(['debug', 'dump', '--output', out]);
  assert.equal(r.code, 0, r.stderr);
  const entries = untar(gunzipSync(readFileSync(out)));
  const names = [...entries.keys()];
  assert.equal(names[0], 'cluster.json');
  for (const node of NODES) {
    for (const f of ['status.json', 'agents.json', 'logs.jsonl', 'metrics.txt']) assert.ok(entries.has(`${node}/${f}`), `${node}/${f} in ${names.join(', ')}`);
    assert.equal(JSON.parse(entries.get(`${node}/status.json`)!).node_id, node);
    const agents = JSON.parse(entries.get(`${node}/agents.json`)!).map((a: { name: string }) => a.name).sort();
    const i = NODES.indexOf(node) + 1;
    assert.deepEqual(agents, [`calc-${i}`, `low-${i}`], `${node}'s own agents`);
  }
  assert.deepEqual(JSON.parse(entries.get('cluster.json')!).missing, []);
});

test('emergency - emergency stop --preserve-state --dump-to: every node copies its database on its machine, then stops its agents', { timeout: 120_000 }, async () => {
  const dir = join(files.path, 'emergency');
  const r = await cx(['emergency', 'stop', '--preserve-state', '--dump-to', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^NODE\s+AGENTS STOPPED\s+FAILED\s+STATE COPY$/m);
  assert.match(r.stdout, /^6 agents stopped on 3 nodes; restart an agent with `caxton agent restart <name>`$/m);
  const dumps = readdirSync(dir).sort();
  assert.equal(dumps.length, 3, dumps.join(', '));
  for (const [i, node] of NODES.entries()) {
    const file = dumps.find((f) => f.startsWith(`caxton-emergency-${node}-`));
    assert.ok(file !== undefined && /^caxton-emergency-node-\d-[0-9TZ-]+\.db$/.test(file), `${node}'s copy: ${dumps.join(', ')}`);
    assert.match(r.stdout, new RegExp(`^${node}\\s+2\\s+0\\s+${join(dir, file!).replace(/[.]/g, '\\.')}$`, 'm'));
    const db = new Database(join(dir, file!), { readonly: true, fileMustExist: true });
    try {
      const names = (db.prepare('SELECT name FROM deployments ORDER BY name').all() as { name: string }[]).map((d) => d.name);
      assert.ok(names.includes(`calc-${i + 1}`) && names.includes(`low-${i + 1}`), `${node}'s copy holds its deployments: ${names.join(', ')}`);
    } finally {
      db.close();
    }
    for (const name of [`low-${i + 1}`, `calc-${i + 1}`]) assert.equal((await onNode(i, name)).state, 'stopped', `${name} stopped on ${node}`);
  }
  for (let i = 0; i < 3; i++) for (const name of [`low-${i + 1}`, `calc-${i + 1}`]) assert.equal((await api(n[i]!, 'POST', `/agents/${name}/restart`, undefined, key)).status, 200);
  const audit = await api(n[0]!, 'GET', '/audit?action=emergency.stop', undefined, key);
  assert.equal(audit.status, 200, JSON.stringify(audit.body));
  assert.equal(audit.body.entries.at(-1)?.detail?.dump_to, dir);
});

test('emergency - a node that does not answer is named, and the command exits 1; its agents fail over stopped; then emergency stop --cluster stops every node process', { timeout: 120_000 }, async () => {
  await n[2]!.kill();
  // At once, before the cluster has declared node-3 failed (through the API: the CLI takes a second
  // to start): node-3 does not answer, and its agents, which fail over to node-1 and node-2 after the
  // stop, must come up stopped there, not as node-3 last said.
  const first = await api(n[0]!, 'POST', '/emergency/stop', {}, key);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.deepEqual(first.body.nodes.map((x: { node: string }) => x.node), ['node-1', 'node-2']);
  assert.deepEqual(first.body.missing.map((x: { node: string }) => x.node), ['node-3']);
  const stats = await cx(['memory', 'stats']);
  assert.equal(stats.code, 1, stats.stdout);
  assert.match(stats.stdout, /^node-1\s/m);
  assert.match(stats.stdout, /^warning: node-3 did not answer: /m);
  assert.match(stats.stderr, /1 node did not answer: node-3 /);
  const where = async () => {
    const list = (await api(n[0]!, 'GET', '/agents', undefined, key)).body.agents as { name: string; node: string; state: string }[];
    return new Map(list.map((a) => [a.name, a]));
  };
  await until('node-3\'s agents failed over to node-1 or node-2', async () => {
    const m = await where();
    return ['low-3', 'calc-3'].every((a) => ['node-1', 'node-2'].includes(m.get(a)?.node ?? ''));
  }, 30_000, 200);
  await new Promise((r) => setTimeout(r, 1000)); // a start would have happened by now
  const moved = await where();
  assert.deepEqual(['low-3', 'calc-3'].map((a) => moved.get(a)?.state), ['stopped', 'stopped'], 'the failed-over agents stay stopped');

  const agents = await cx(['emergency', 'stop', '--all-agents']);
  assert.equal(agents.code, 1, agents.stdout);
  assert.match(agents.stdout, /^node-1\s+0\s+0$/m, 'nothing left to stop');
  assert.match(agents.stdout, /^node-2\s+0\s+0$/m);
  assert.match(agents.stdout, /^warning: node-3 did not answer: /m);
  assert.match(agents.stderr, /1 node did not stop their agents: node-3 /);
  for (const [i, name] of [[0, 'calc-1'], [1, 'calc-2']] as const) assert.equal((await onNode(i, name)).state, 'stopped');
  for (let i = 0; i < 2; i++) for (const name of [`low-${i + 1}`, `calc-${i + 1}`]) assert.equal((await api(n[i]!, 'POST', `/agents/${name}/restart`, undefined, key)).status, 200);

  const stop = await cx(['emergency', 'stop', '--cluster']);
  assert.equal(stop.code, 1, `node-3 is down: ${stop.stdout}`);
  assert.match(stop.stdout, /^NODE\s+AGENTS STOPPED\s+FAILED\s+NODE STATE$/m);
  assert.match(stop.stdout, /^node-1\s+2\s+0\s+stopping$/m, 'the two restarted agents of node-1');
  assert.match(stop.stdout, /^node-2\s+2\s+0\s+stopping$/m);
  assert.match(stop.stderr, /1 node did not stop: node-3 /);
  // Both processes exit on their own, with status 0 (no signal from the test).
  for (const i of [0, 1]) {
    await until(`${NODES[i]}'s process exits`, () => !alive(n[i]!.pid), 30_000, 100);
    assert.equal(await n[i]!.stop(), 0, `${NODES[i]} exited with 0: ${n[i]!.logs().slice(-2000)}`);
    assert.match(n[i]!.logs(), /emergency stop: stopping the node now, without a drain/);
  }
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The files of a ustar archive, in order. */
function untar(tar: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  for (let off = 0; off + 512 <= tar.length; ) {
    const name = tar.subarray(off, off + 100).toString('utf8').replace(/\0.*$/s, '');
    if (name === '') break;
    const size = parseInt(tar.subarray(off + 124, off + 136).toString('ascii').replace(/\0.*$/s, ''), 8);
    out.set(name, tar.subarray(off + 512, off + 512 + size).toString('utf8'));
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}
