/**
 * `caxton cluster restore` (issue 14, point 1: "`cluster backup` and `cluster restore` cover all
 * nodes"; docs/operations.md, "Stopping and starting a cluster") on three real `caxton server start`
 * processes: a cluster backup, then changes (an agent deployed, counters incremented), the cluster
 * stopped, every parked node restored from its own backup by the one id, and `cluster start --verify`
 * content with the restored cluster: the later agent gone, the counters at their backed-up values.
 * A restore to a node that is not parked is refused, and its data is untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, runCli, type CliResult, type RunningServer } from '../../helpers/server.js';
import { startServerCluster } from '../../helpers/server-cluster.js';
import { until } from '../../helpers/until.js';
import { agentWasm } from '../../helpers/agents.js';
import { tempDir } from '../../helpers/tmp.js';

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

function json(r: CliResult): any {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
}

test('cluster restore - every parked node restores its own backup by the cluster backup\'s id; start --verify checks the restored agents; a running node refuses', { timeout: 300_000 }, async (t) => {
  const c = await startServerCluster({ size: 3, base: 244 });
  t.after(() => c.stop());
  const dest = tempDir('caxton-cluster-restore-');
  t.after(() => dest.cleanup());
  const nodes = c.nodes as [RunningServer, RunningServer, RunningServer];
  const key = nodes[0].adminKey;
  await until('node-1 admin key works everywhere', async () => {
    for (const n of nodes) if ((await api(n, 'GET', '/status', undefined, key)).status !== 200) return false;
    return true;
  });
  const deploy = async (name: string, node: string) => {
    const d = await api(nodes[0], 'POST', '/agents', { name, module: b64(agentWasm('counter')), target_node: node }, key);
    assert.equal(d.status, 201, JSON.stringify(d.body));
  };
  const send = async (agent: string, op: object) => {
    const r = await api(nodes[0], 'POST', '/messages?wait_reply=true&timeout_ms=10000', { performative: 'request', receiver: agent, content: op }, key).catch(() => undefined);
    return r?.status === 200 && r.body.reply?.performative === 'inform' ? (r.body.reply.content as { count: number }).count : undefined;
  };
  const counters = ['counter-1', 'counter-2', 'counter-3'];
  for (const [i, name] of counters.entries()) await deploy(name, c.name(i));
  for (const [i, name] of counters.entries()) {
    await until(`${name} answers`, async () => (await send(name, { op: 'get' })) === 0);
    assert.equal(await send(name, { op: 'increment', by: 10 * (i + 1) }), 10 * (i + 1));
  }
  const cli = (args: string[], timeoutMs = 200_000) => runCli([...args, '--api-url', nodes[0].apiUrl, '--api-key', key], { timeoutMs });

  // One id for the whole cluster: what `cluster restore --id` takes. node-1 has a backup of its own
  // at its place already, so its next id is another than the other nodes' first would be.
  const single = await cli(['backup', 'create', '--destination', join(dest.path, 'node-1'), '-o', 'json']);
  assert.equal(single.code, 0, single.stdout + single.stderr);
  const backup = await cli(['cluster', 'backup', '--destination', dest.path, '-o', 'json']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  const jobs = json(backup).nodes as { node: string; result: { id: string; location: string } }[];
  assert.deepEqual(jobs.map((j) => j.node).sort(), ['node-1', 'node-2', 'node-3']);
  const id = jobs[0]?.result.id as string;
  assert.match(id, /^backup-\d{8}-\d{4}(-\d+)?$/);
  assert.notEqual(id, json(single).id);
  for (const j of jobs) assert.equal(j.result.id, id, `${j.node} got its own id`);

  // After the backup: another agent, and more increments.
  await deploy('late', 'node-2');
  await until('late answers', async () => (await send('late', { op: 'get' })) === 0);
  for (const name of [...counters, 'late']) assert.ok((await send(name, { op: 'increment', by: 5 })) !== undefined);

  // Not parked: refused, by the API route and by every node through the CLI, and nothing changed.
  const direct = await api(nodes[1], 'POST', '/server/restore', { id }, key);
  assert.equal(direct.status, 409, JSON.stringify(direct.body));
  assert.equal(direct.body.error.code, 'CAXTON_ERR_NODE_NOT_PARKED');
  const live = await cli(['cluster', 'restore', '--id', id, '-o', 'json']);
  assert.equal(live.code, 1, live.stdout + live.stderr);
  t.diagnostic(live.stdout + live.stderr);
  const liveRows = json(live).nodes as { node: string; state: string; code: string }[];
  assert.deepEqual(liveRows.map((r) => `${r.node}:${r.state}:${r.code}`).sort(), ['node-1:failed:CAXTON_ERR_NODE_NOT_PARKED', 'node-2:failed:CAXTON_ERR_NODE_NOT_PARKED', 'node-3:failed:CAXTON_ERR_NODE_NOT_PARKED']);
  assert.equal(await send('counter-1', { op: 'get' }), 15, 'a refused restore changes nothing');
  assert.equal(await send('late', { op: 'get' }), 5);

  const stop = await cli(['cluster', 'stop', '--all', '--reason', 'restore from backup']);
  assert.equal(stop.code, 0, stop.stdout + stop.stderr);
  assert.match(stop.stdout, /4 agents kept on their nodes/);

  // Parked: a backup a node does not have is named, per node.
  const wrong = await cli(['cluster', 'restore', '--id', 'backup-19990101-0000']);
  assert.equal(wrong.code, 1, wrong.stdout + wrong.stderr);
  assert.match(wrong.stdout, /^node-2\s+failed\s+.*CAXTON_ERR_BACKUP_NOT_FOUND/m);
  assert.match(wrong.stderr, /not restored: node-1 \(failed, CAXTON_ERR_BACKUP_NOT_FOUND\)/);

  const restore = await cli(['cluster', 'restore', '--id', id]);
  t.diagnostic(restore.stdout);
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
  assert.match(restore.stdout, /^NODE\s+STATE\s+BACKUP-ID\s+TAKEN\s+AGENTS\s+DETAIL$/m);
  for (const n of ['node-1', 'node-2', 'node-3']) assert.match(restore.stdout, new RegExp(`^${n}\\s+restored\\s+${id}\\s+\\S+\\s+1\\s`, 'm'));
  assert.match(restore.stdout, new RegExp(`✓ cluster restored from ${id}: 3 nodes`));
  // Each node's part of the stop record is its restored database's: node-2 no longer lists `late`.
  const record = JSON.parse(readFileSync(join(nodes[1].dataDir, 'cluster-stopped.json'), 'utf8')) as { agents: { name: string; node: string }[] };
  assert.deepEqual(record.agents.filter((a) => a.node === 'node-2').map((a) => a.name), ['counter-2']);
  // Still parked: the restore starts nothing.
  for (const n of nodes) assert.equal((await api(n, 'GET', '/health', undefined, null)).body.status, 'stopped');

  const start = await cli(['cluster', 'start', '--verify', '-o', 'json']);
  t.diagnostic(start.stdout);
  assert.equal(start.code, 0, start.stdout + start.stderr);
  const s = json(start);
  assert.equal(s.ok, true);
  assert.deepEqual(s.verify, { agents: 3, missing: [], duplicated: [], notRunning: [] });

  // The backup's state on every node: the later agent gone, the counters at their backed-up values,
  // each agent on its own node (no join move when the last member comes back: src/agents/failover.ts).
  const list = (await api(nodes[0], 'GET', '/agents', undefined, key)).body as { agents: { name: string; node: string; state: string }[] };
  if (!list.agents.some((a) => a.name === 'counter-1' && a.node === 'node-1')) for (const [k, m] of nodes.entries()) t.diagnostic(`${c.name(k)}:\n${m.logs().split('\n').filter((l) => /counter-1|took over|takeover|failover|moved/.test(l)).slice(-40).join('\n')}`);
  assert.deepEqual(list.agents.map((a) => `${a.name}@${a.node}:${a.state}`).sort(), ['counter-1@node-1:running', 'counter-2@node-2:running', 'counter-3@node-3:running']);
  for (const [i, name] of counters.entries()) assert.equal(await until(`${name} answers`, () => send(name, { op: 'get' })), 10 * (i + 1));
  for (const n of nodes) assert.equal((await api(n, 'GET', '/agents/late', undefined, key)).status, 404);
  // Audited in the database the node started on.
  const audit = await api(nodes[1], 'GET', '/audit?action=server.restore', undefined, key);
  const entries = audit.body.entries as { result: string; target: string; detail: { id?: string } }[];
  assert.ok(entries.some((e) => e.result === 'ok' && e.target === 'node-2' && e.detail.id === id), JSON.stringify(entries));
});
