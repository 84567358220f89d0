/**
 * `caxton cluster stop --all` and `caxton cluster start --verify` (issue 14, point 2; the runbook's
 * "Recovery from Backup"; docs/operations.md, "Stopping and starting a cluster") on three real
 * `caxton server start` processes: at-least-once increments in flight, every node stopped and
 * parked (its database closed), started again with the same agents on the same nodes, nothing lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { api, runCli, type RunningServer } from '../../helpers/server.js';
import { startServerCluster } from '../../helpers/server-cluster.js';
import { until } from '../../helpers/until.js';
import { agentWasm } from '../../helpers/agents.js';

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

/** Whether process `pid` holds `file` open (its database: a restore must not write under an open node). */
function holdsOpen(pid: number, file: string): boolean {
  const dir = `/proc/${pid}/fd`;
  return readdirSync(dir).some((fd) => {
    try {
      return readlinkSync(join(dir, fd)) === file;
    } catch {
      return false; // closed meanwhile
    }
  });
}

test('cluster stop --all / start --verify - every node parks with its database closed, starts again with the same agents on the same nodes, and no accepted increment is lost or counted twice', { timeout: 300_000 }, async (t) => {
  const c = await startServerCluster({ size: 3, base: 217 });
  t.after(() => c.stop());
  const nodes = c.nodes as [RunningServer, RunningServer, RunningServer];
  const key = nodes[0].adminKey;
  await until('node-1 admin key works everywhere', async () => {
    for (const n of nodes) if ((await api(n, 'GET', '/status', undefined, key)).status !== 200) return false;
    return true;
  });
  const counters = nodes.map((_, i) => `counter-${i + 1}`);
  for (const [i, name] of counters.entries()) {
    const d = await api(nodes[0], 'POST', '/agents', { name, module: b64(agentWasm('counter')), target_node: c.name(i) }, key);
    assert.equal(d.status, 201, JSON.stringify(d.body));
  }
  const get = async (i: number) => {
    const r = await api(nodes[(i + 1) % 3] as RunningServer, 'POST', '/messages?wait_reply=true&timeout_ms=5000', { performative: 'request', receiver: counters[i], content: { op: 'get' } }, key).catch(() => undefined);
    return r?.status === 200 && r.body.reply?.performative === 'inform' ? (r.body.reply.content as { count: number }).count : undefined;
  };
  for (const i of [0, 1, 2]) await until(`${counters[i]} answers`, async () => (await get(i)) === 0);
  const cli = (args: string[], timeoutMs = 200_000) => runCli([...args, '--api-url', nodes[0].apiUrl, '--api-key', key], { timeoutMs });

  // At-least-once increments through another node than the counter's, while the cluster stops. A
  // client of at-least-once sends the same message id again through the next node when a node does
  // not answer; one that no node takes (all parked) may or may not have been taken: `unsure`.
  const accepted = [0, 0, 0];
  const unsure = [0, 0, 0];
  let sent = 0;
  let stopping = true;
  const traffic = (async () => {
    while (stopping && sent < 3000) {
      const i = sent % 3;
      sent++;
      await new Promise((res) => setTimeout(res, 10));
      const msg = { performative: 'request', receiver: counters[i], delivery: 'at-least-once', message_id: `inc-${sent}`, content: { op: 'increment' } };
      let taken = false;
      let answered = true;
      for (let k = 0; k < 3 && !taken; k++) {
        const r = await api(nodes[(i + 1 + k) % 3] as RunningServer, 'POST', '/messages', msg, key).catch(() => undefined);
        if (r !== undefined && r.status >= 200 && r.status < 300) taken = true;
        else if (r === undefined) answered = false; // may have been taken before the answer was lost
      }
      if (taken) accepted[i] = (accepted[i] as number) + 1;
      else if (!answered) unsure[i] = (unsure[i] as number) + 1;
    }
  })();
  await new Promise((res) => setTimeout(res, 1000));
  const stop = await cli(['cluster', 'stop', '--all']);
  stopping = false;
  await traffic;
  t.diagnostic(stop.stdout);
  assert.equal(stop.code, 0, stop.stdout + stop.stderr);
  assert.match(stop.stdout, /^node-2: stopped, parked/m);
  assert.ok(stop.stdout.indexOf('node-1: stopped') > stop.stdout.indexOf('node-3: stopped'), 'the node behind --api-url last');
  assert.match(stop.stdout, /✓ cluster stopped: 3 nodes, 3 agents kept on their nodes/);
  t.diagnostic(`increments accepted ${accepted.join('/')}, unsure ${unsure.join('/')}, sent ${sent}`);

  // Parked: /health says so, every other route is refused, the database is closed, the record is there.
  for (const [i, n] of nodes.entries()) {
    const h = await api(n, 'GET', '/health', undefined, null);
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'stopped');
    assert.equal(h.body.node_id, c.name(i));
    assert.equal((await api(n, 'GET', '/agents', undefined, key)).body.error.code, 'CAXTON_ERR_NODE_PARKED');
    assert.equal(holdsOpen(n.pid, join(n.dataDir, 'caxton.db')), false, `${c.name(i)}'s process still holds its database open`);
    const record = JSON.parse(readFileSync(join(n.dataDir, 'cluster-stopped.json'), 'utf8')) as { members: { name: string }[]; agents: { name: string; node: string }[] };
    assert.deepEqual(record.members.map((m) => m.name).sort(), ['node-1', 'node-2', 'node-3']);
    assert.deepEqual(record.agents.map((a) => `${a.name}@${a.node}`).sort(), ['counter-1@node-1', 'counter-2@node-2', 'counter-3@node-3']);
  }
  // The parked listener takes the keys the node had: none, or a wrong one, is refused.
  for (const k of [null, 'cax_not-a-key']) {
    const r = await api(nodes[1], 'POST', '/server/start', undefined, k);
    assert.equal(r.status, 401, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'CAXTON_ERR_API_UNAUTHORIZED');
  }
  assert.equal((await api(nodes[1], 'GET', '/health', undefined, null)).body.status, 'stopped', 'a refused start starts nothing');

  const start = await cli(['cluster', 'start', '--verify']);
  t.diagnostic(start.stdout);
  assert.equal(start.code, 0, start.stdout + start.stderr);
  for (const n of ['node-1', 'node-2', 'node-3']) assert.match(start.stdout, new RegExp(`^${n}\\s+back\\s+started\\s+1\\b`, 'm'));
  assert.match(start.stdout, /✓ cluster started: 3 nodes back, 3 agents as at the stop/);

  // Same agents on the same nodes; what was in flight delivered; every accepted increment counted once.
  const list = (await api(nodes[0], 'GET', '/agents', undefined, key)).body as { agents: { name: string; node: string; state: string }[] };
  assert.deepEqual(list.agents.map((a) => `${a.name}@${a.node}:${a.state}`).sort(), ['counter-1@node-1:running', 'counter-2@node-2:running', 'counter-3@node-3:running']);
  for (const n of nodes) {
    await until('nothing left to redeliver', async () => (await api(n, 'GET', '/status', undefined, key)).body.outbox_pending === 0, 60_000, 250).catch((e) => {
      for (const [k, m] of nodes.entries()) t.diagnostic(`${c.name(k)}:\n${m.logs().split('\n').filter((l) => /"level":(40|50)/.test(l)).slice(-30).join('\n')}`);
      throw e;
    });
  }
  for (const i of [0, 1, 2]) {
    const count = await until(`${counters[i]} answers`, () => get(i), 30_000, 250);
    t.diagnostic(`${counters[i]}: accepted ${accepted[i]}, unsure ${unsure[i]}, counted ${count}`);
    assert.ok((accepted[i] as number) > 10, `traffic ran for ${counters[i]}`);
    assert.ok(count >= (accepted[i] as number), `${counters[i]}: an accepted increment was lost (${count} < ${accepted[i]})`);
    assert.ok(count <= (accepted[i] as number) + (unsure[i] as number), `${counters[i]}: an increment was counted twice (${count} > ${accepted[i]} + ${unsure[i]})`);
  }
  for (const n of nodes) await until('the record becomes the one the cluster started from once every member is back', () => !existsSync(join(n.dataDir, 'cluster-stopped.json')) && existsSync(join(n.dataDir, 'cluster-started.json')));
  const audit = await api(nodes[0], 'GET', '/audit?action=server.stop', undefined, key);
  assert.ok((audit.body.entries as unknown[]).length >= 6, 'the freezes and the stops are audited');
});

test('cluster start - a parked node whose process exited is named and the command fails; once its supervisor started it, it counts as back', { timeout: 240_000 }, async (t) => {
  const c = await startServerCluster({ size: 3, base: 218 });
  t.after(() => c.stop());
  const nodes = c.nodes as [RunningServer, RunningServer, RunningServer];
  const key = nodes[0].adminKey;
  await until('node-1 admin key works everywhere', async () => {
    for (const n of nodes) if ((await api(n, 'GET', '/status', undefined, key)).status !== 200) return false;
    return true;
  });
  const d = await api(nodes[0], 'POST', '/agents', { name: 'counter-x', module: b64(agentWasm('counter')), target_node: 'node-3' }, key);
  assert.equal(d.status, 201, JSON.stringify(d.body));
  const cli = (args: string[]) => runCli([...args, '--api-url', nodes[0].apiUrl, '--api-key', key], { timeoutMs: 200_000 });
  const stop = await cli(['cluster', 'stop', '--all', '--reason', 'restore from backup']);
  assert.equal(stop.code, 0, stop.stdout + stop.stderr);
  // A parked process exits cleanly on SIGTERM.
  const apiPort = new URL(nodes[2].apiUrl).port;
  assert.equal(await nodes[2].stop(), 0);
  const failed = await cli(['cluster', 'start', '--verify', '--timeout', '15s']);
  assert.equal(failed.code, 1, failed.stdout + failed.stderr);
  assert.match(failed.stderr, /not back within 15 s: node-3 \(/);
  assert.match(failed.stdout, /^node-3\s+not back/m);
  // Its supervisor starts it again on its data dir (a plain `caxton server start`): back, with its agent.
  await c.start(2, { dataDir: nodes[2].dataDir, args: ['--api-addr', `127.0.0.1:${apiPort}`] });
  const ok = await cli(['cluster', 'start', '--verify']);
  t.diagnostic(ok.stdout);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^node-3\s+back\s+was running/m);
  const list = (await api(nodes[0], 'GET', '/agents', undefined, key)).body as { agents: { name: string; node: string }[] };
  assert.deepEqual(list.agents.map((a) => `${a.name}@${a.node}`), ['counter-x@node-3']);
});
