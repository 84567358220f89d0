/**
 * The server as an operator runs it: a real `caxton server start` process on loopback, driven over
 * HTTP. Quick start, graceful SIGTERM, restart with state, kill -9 during at-least-once traffic, and a
 * configuration that is refused with file, line and key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentWasm } from '../helpers/agents.js';
import { api, startServer, type RunningServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { caxtonArgs } from '../helpers/caxton-command.js';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');


test('server - quick start: deploy, message, metrics; SIGTERM drains and exits 0; a restart finds it all', async () => {
  let s: RunningServer | undefined = await startServer();
  const dataDir = s.dataDir;
  try {
    assert.equal((await api(s, 'POST', '/agents', { name: 'calc', module: b64(agentWasm('calculator')) })).status, 201);
    assert.equal((await api(s, 'POST', '/agents', { name: 'counter', module: b64(agentWasm('counter')) })).status, 201);
    const r = await api(s, 'POST', '/messages?wait_reply=true', { performative: 'request', receiver: 'calc', content: { op: 'div', args: [84, 2] } });
    assert.deepEqual(r.body.reply.content, { result: 42 });
    for (let i = 0; i < 4; i++) await api(s, 'POST', '/messages?wait_reply=true', { performative: 'request', receiver: 'counter', content: { op: 'increment', by: 10 } });
    const metrics = await (await fetch(`${s.metricsUrl}/metrics`)).text();
    for (const name of ['caxton_agent_message_latency_p99', 'caxton_agent_crashes_total', 'caxton_agent_memory_used_bytes', 'caxton_system_cpu_usage_percent', 'caxton_system_memory_available_bytes', 'caxton_cluster_nodes_alive', 'caxton_http_requests_total', 'process_cpu_user_seconds_total']) {
      assert.match(metrics, new RegExp(`^${name}`, 'm'), name);
    }
    const code = await s.stop();
    assert.equal(code, 0, s.logs());
    assert.match(s.logs(), /"msg":"caxton node stopped"/);
    s = await startServer({ dataDir });
    const agents = (await api(s, 'GET', '/agents')).body.agents.map((a: { name: string; state: string }) => [a.name, a.state]);
    assert.deepEqual(agents, [['calc', 'running'], ['counter', 'running']]);
    const c = await api(s, 'POST', '/messages?wait_reply=true', { performative: 'request', receiver: 'counter', content: { op: 'get' } });
    assert.deepEqual(c.body.reply.content, { count: 40 });
  } finally {
    if (s !== undefined) await s.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('server - kill -9 during at-least-once traffic loses no acknowledged message', async (t) => {
  const args = ['--set', 'messaging.redeliver_after=300ms', '--set', 'messaging.outbox_scan_interval=100ms'];
  let s: RunningServer | undefined = await startServer({ args });
  const dataDir = s.dataDir;
  try {
    assert.equal((await api(s, 'POST', '/agents', { name: 'tally', module: b64(agentWasm('counter')) })).status, 201);
    let acknowledged = 0;
    let attempted = 0;
    let stop = false;
    const server = s;
    // 4 senders in parallel; each message is counted as acknowledged only on a 202.
    const sender = async () => {
      while (!stop && attempted < 3000) {
        attempted++;
        try {
          const r = await api(server, 'POST', '/messages', { performative: 'request', receiver: 'tally', delivery: 'at-least-once', content: { op: 'increment', by: 1 } });
          if (r.status === 202) acknowledged++;
          else if (r.status !== 429) throw new Error(`unexpected ${r.status}: ${JSON.stringify(r.body)}`);
        } catch (e) {
          if ((e as Error).message.startsWith('unexpected')) throw e;
          return; // the connection died with the server: not acknowledged
        }
      }
    };
    const senders = [sender(), sender(), sender(), sender()];
    await until('150 acknowledged messages', async () => acknowledged >= 150);
    await s.kill('SIGKILL');
    stop = true;
    await Promise.all(senders);
    const acked = acknowledged;
    s = await startServer({ dataDir, args });
    await until('the outbox to drain after the restart', async () => (await api(s as RunningServer, 'GET', '/queue')).body.outbox_pending === 0, 30_000);
    const r = await api(s, 'POST', '/messages?wait_reply=true', { performative: 'request', receiver: 'tally', content: { op: 'get' } });
    const count = r.body.reply.content.count as number;
    t.diagnostic(`attempted ${attempted}, acknowledged ${acked}, applied ${count} (duplicates allowed: at-least-once)`);
    assert.ok(count >= acked, `every acknowledged increment was applied: count ${count}, acknowledged ${acked}`);
    assert.ok(count <= attempted, `nothing was invented: count ${count}, attempted ${attempted}`);
  } finally {
    if (s !== undefined) await s.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('server - an invalid configuration is refused at start with the file, line and key', () => {
  const dir = tempDir();
  try {
    const file = join(dir.path, 'caxton.yaml');
    writeFileSync(file, ['node:', `  data_dir: ${dir.path}`, 'messaging:', '  queue_size: lots', 'server:', '  api_port: 8080', ''].join('\n'));
    const r = spawnSync(process.execPath, [...caxtonArgs, 'server', 'start', '--config', file], { encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /caxton\.yaml:4:\d+: messaging\.queue_size must be an integer/);
    assert.match(r.stderr, /caxton\.yaml:6:\d+: .*server\.api_port/);
    assert.match(r.stderr, /hint: /);
  } finally {
    dir.cleanup();
  }
});
