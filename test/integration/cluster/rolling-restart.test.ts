/**
 * `caxton cluster rolling-restart` (issue 13, deliver 6; docs/operations.md, "Rolling restart") on
 * real `caxton server start` processes: every node restarts in place, one at a time, while
 * at-least-once increments cross nodes; every accepted increment is counted exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, runCli, type RunningServer } from '../../helpers/server.js';
import { startServerCluster } from '../../helpers/server-cluster.js';
import { until } from '../../helpers/until.js';
import { agentWasm } from '../../helpers/agents.js';
import { tempDir } from '../../helpers/tmp.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

test('rolling-restart - each node restarts in place and rejoins with its agents, while at-least-once increments from another node are each counted once', { timeout: 300_000 }, async (t) => {
  const c = await startServerCluster({ size: 3, base: 211 });
  t.after(() => c.stop());
  const nodes = c.nodes as [RunningServer, RunningServer, RunningServer];
  const key = nodes[0].adminKey;
  await until('node-1 admin key works everywhere', async () => {
    for (const n of nodes) if ((await api(n, 'GET', '/status', undefined, key)).status !== 200) return false;
    return true;
  });
  // counter-k runs on node k; its increments come through the next node's API.
  const counters = nodes.map((_, i) => `counter-${i + 1}`);
  for (const [i, name] of counters.entries()) {
    const d = await api(nodes[0], 'POST', '/agents', { name, module: b64(agentWasm('counter')), target_node: c.name(i) }, key);
    assert.equal(d.status, 201, JSON.stringify(d.body));
  }
  const sender = (i: number) => nodes[(i + 1) % 3] as RunningServer;
  const get = async (i: number) => {
    const r = await api(sender(i), 'POST', '/messages?wait_reply=true&timeout_ms=5000', { performative: 'request', receiver: counters[i], content: { op: 'get' } }, key).catch(() => undefined);
    return r?.status === 200 && r.body.reply?.performative === 'inform' ? (r.body.reply.content as { count: number }).count : undefined;
  };
  for (const i of [0, 1, 2]) await until(`${counters[i]} answers`, async () => (await get(i)) === 0);
  const startedBefore = await Promise.all(nodes.map(async (n) => (await api(n, 'GET', '/status', undefined, key)).body.started_at as string));

  const accepted = [0, 0, 0];
  let sent = 0;
  let restarting = true;
  const traffic = (async () => {
    // Bounded: at most 3000 increments, and 30 more once the restart is over.
    let after = 0;
    while (sent < 3000 && (restarting || after < 30)) {
      if (!restarting) after++;
      const i = sent % 3;
      sent++;
      await new Promise((res) => setTimeout(res, 10));
      // A client of at-least-once: when a node does not answer (it may be restarting, and may have
      // taken the message before its answer was lost), the same message id goes again through the
      // next node; the receiver drops what it already handled.
      const msg = { performative: 'request', receiver: counters[i], delivery: 'at-least-once', message_id: `inc-${sent}`, content: { op: 'increment' } };
      for (let k = 0; k < 30; k++) {
        const r = await api(nodes[(i + 1 + k) % 3] as RunningServer, 'POST', '/messages', msg, key).catch(() => undefined);
        if (r !== undefined && r.status >= 200 && r.status < 300) {
          accepted[i] = (accepted[i] as number) + 1;
          break;
        }
        await new Promise((res) => setTimeout(res, 100));
      }
    }
  })();
  // --settle 0s: the next node restarts as soon as the previous one runs its agents again, while the
  // join moves back to it may still run. Nothing may depend on the settle wait (a health gate): with
  // it at 0, hand-overs, join moves and redeliveries overlap, as in a failover during a move.
  const rr = await runCli(['cluster', 'rolling-restart', '--reason', 'test: settings that cannot be reloaded', '--timeout', '90s', '--settle', '0s', '--api-url', nodes[0].apiUrl, '--api-key', key], { timeoutMs: 280_000 });
  restarting = false;
  const sentDuring = sent;
  await traffic;
  t.diagnostic(`increments sent during the restart ${sentDuring}, in all ${sent}`);
  assert.ok(sentDuring < 3000, 'the traffic lasted the whole restart');
  t.diagnostic(rr.stdout);
  assert.equal(rr.code, 0, rr.stdout + rr.stderr);
  assert.match(rr.stdout, /^node-2: restarted \(started \S+\), a member again, 3 agents running/m);
  assert.match(rr.stdout, /^node-3: restarted/m);
  assert.match(rr.stdout, /^node-1: restarted/m);
  assert.ok(rr.stdout.indexOf('node-1: restarted') > rr.stdout.indexOf('node-3: restarted'), 'the node behind --api-url last');
  assert.match(rr.stdout, /^✓ rolling restart done: 3 nodes restarted$/m);

  // Each node's start time changed, on the same API address.
  for (const [i, n] of nodes.entries()) {
    const s = await until(`${c.name(i)} answers`, async () => (await api(n, 'GET', '/status', undefined, key).catch(() => undefined))?.body);
    assert.ok(s.started_at > (startedBefore[i] as string), `${c.name(i)} started again (${startedBefore[i]} -> ${s.started_at})`);
    assert.match(n.logs(), /"reason":"test: settings that cannot be reloaded".*restarted/);
  }
  for (const n of nodes) await until('nothing left to redeliver', async () => (await api(n, 'GET', '/status', undefined, key)).body.outbox_pending === 0, 60_000, 250).catch(async (e) => {
    const q = await api(n, 'GET', '/queue', undefined, key);
    t.diagnostic(JSON.stringify(q.body).slice(0, 3000));
    for (const i of [0, 1, 2]) t.diagnostic(`${counters[i]}: accepted ${accepted[i]}, counted ${await get(i)}`);
    // What the nodes warned about, for whoever reads the failure.
    for (const [k, m] of nodes.entries()) t.diagnostic(`${c.name(k)}:\n${m.logs().split('\n').filter((l) => /"level":(40|50)/.test(l)).slice(-30).join('\n')}`);
    throw e;
  });
  for (const i of [0, 1, 2]) {
    const final = await until(`${counters[i]} answers`, () => get(i), 30_000, 250);
    t.diagnostic(`${counters[i]}: accepted ${accepted[i]}, counted ${final}`);
    assert.ok((accepted[i] as number) > 10, `traffic ran for ${counters[i]}`);
    assert.equal(final, accepted[i], `${counters[i]}: every accepted increment counted once`);
  }
  const st = await runCli(['cluster', 'status', '-o', 'json', '--api-url', nodes[0].apiUrl, '--api-key', key]);
  assert.equal(st.code, 0, st.stderr);
  const sj = JSON.parse(st.stdout) as { healthy: boolean; alive: number };
  assert.equal(sj.healthy, true);
  assert.equal(sj.alive, 3);
  // The audit log of the node the CLI talked to records the three restarts.
  const audit = await api(nodes[0], 'GET', '/audit?action=server.restart', undefined, key);
  assert.deepEqual((audit.body.entries as { target: string; result: string }[]).map((e) => `${e.target} ${e.result}`).sort(), ['node-1 ok', 'node-2 ok', 'node-3 ok']);
});

test('rolling-restart - a restart reads the configuration file again; a node that does not come back stops the command with an error naming it', { timeout: 240_000 }, async (t) => {
  const dir = tempDir('caxton-rolling-');
  t.after(() => dir.cleanup());
  const file = join(dir.path, 'node-2.yaml');
  writeFileSync(file, 'runtime:\n  max_agents: 100\n');
  const c = await startServerCluster({ size: 2, base: 222, nodeArgs: (i) => (i === 1 ? ['--config', file] : []) });
  t.after(() => c.stop());
  const [n1, n2] = c.nodes as [RunningServer, RunningServer];
  const key = n1.adminKey;
  await until('node-1 admin key works on node-2', async () => (await api(n2, 'GET', '/status', undefined, key)).status === 200);
  assert.equal((await api(n2, 'GET', '/config', undefined, key)).body.runtime.max_agents, 100);
  const cli = (args: string[]) => runCli([...args, '--api-url', n1.apiUrl, '--api-key', key], { timeoutMs: 200_000 });

  // A setting changed in the file: the restart applies it.
  writeFileSync(file, 'runtime:\n  max_agents: 200\n');
  const ok = await cli(['cluster', 'rolling-restart', '--reason', 'max_agents']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.equal((await api(n2, 'GET', '/config', undefined, key)).body.runtime.max_agents, 200);

  // A file that became invalid: node-2 cannot start again; the command stops there, naming it, and
  // node-1 (behind --api-url, last) is not restarted.
  const n1Started = (await api(n1, 'GET', '/status', undefined, key)).body.started_at as string;
  writeFileSync(file, 'runtime:\n  max_agents: many\n');
  const bad = await cli(['cluster', 'rolling-restart', '--reason', 'broken file', '--timeout', '10s']);
  assert.equal(bad.code, 1, bad.stdout + bad.stderr);
  assert.match(bad.stderr, /node-2 did not come back within 10 s: still waiting for /);
  assert.doesNotMatch(bad.stdout, /node-1: restarted/);
  assert.match(n2.logs(), /restart failed: exiting/);
  assert.equal((await api(n1, 'GET', '/status', undefined, key)).body.started_at, n1Started, 'node-1 was not restarted');
});
