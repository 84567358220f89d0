/**
 * `caxton agent logs` from any node of a real 3-node cluster (`caxton server start` processes on
 * 127.0.0.125-127): an agent deployed on node-3 has its lines read through node-1 (node-1 asks node-3,
 * which keeps them), `--follow` through node-1 prints the earlier lines and then the new ones (node-3
 * relays them while the stream follows that agent), and a name that no node runs is still a 404.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { api, runCli, type RunningServer } from '../../helpers/server.js';
import { until } from '../../helpers/until.js';
import { loggingAgent } from '../../helpers/wat-agents.js';
import { startServerCluster, type ServerCluster } from '../../helpers/server-cluster.js';
import { caxtonArgs } from '../../helpers/caxton-command.js';

let c: ServerCluster | undefined;
let n1: RunningServer;
let n3: RunningServer;

before(async () => {
  c = await startServerCluster({ size: 3, base: 124, args: ['--set', 'security.api.rate_limit.enabled=false'] });
  n1 = c.nodes[0] as RunningServer;
  n3 = c.nodes[2] as RunningServer;
  const d = await api(n1, 'POST', '/agents', { name: 'far', target_node: 'node-3', module: Buffer.from(await loggingAgent()).toString('base64') });
  assert.equal(d.status, 201, JSON.stringify(d.body));
  assert.equal((await api(n1, 'GET', '/agents?node=node-3')).body.agents.some((a: { name: string }) => a.name === 'far'), true);
  const m = await api(n1, 'POST', '/messages', { performative: 'inform', sender: 'operator@node-1', receiver: 'far', content: 'line from before' });
  assert.equal(m.status, 202, JSON.stringify(m.body));
  // The line is on node-3, where the agent runs.
  await until('the line kept on node-3', async () => JSON.stringify((await api(n3, 'GET', '/agents/far/logs')).body).includes('line from before'));
});
after(async () => {
  await c?.stop();
});

/** `caxton <args>` against node-1. */
const viaNode1 = (...args: string[]) => [...args, '--api-url', n1.apiUrl, '--api-key', n1.adminKey];

test('agent logs (cluster) - the lines of an agent of node-3 read through node-1, as text and as JSON', { timeout: 120_000 }, async () => {
  const r = await runCli(viaNode1('agent', 'logs', 'far'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /INFO +.*line from before/);
  const j = await runCli(viaNode1('agent', 'logs', 'far', '-o', 'json'));
  assert.equal(j.code, 0, j.stderr);
  const body = JSON.parse(j.stdout) as { node: string; logs: { text: string }[] };
  assert.equal(body.node, 'node-3');
  assert.ok(body.logs.some((l) => l.text.includes('line from before')), j.stdout);
  // The route itself, with its query checked on node-1 and applied on node-3.
  const warn = await api(n1, 'GET', '/agents/far/logs?level=warn');
  assert.equal(warn.status, 200, JSON.stringify(warn.body));
  assert.deepEqual(warn.body, { node: 'node-3', logs: [] });
});

test('agent logs (cluster) - --follow through node-1 prints the earlier lines of node-3\'s agent, then its new ones', { timeout: 120_000 }, async (t) => {
  const follower = spawn(process.execPath, [...caxtonArgs, ...viaNode1('agent', 'logs', 'far', '--follow')], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => follower.kill('SIGINT'));
  let out = '';
  let err = '';
  follower.stdout.on('data', (d: Buffer) => (out += d.toString()));
  follower.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number>((r) => follower.once('exit', (code) => r(code ?? -1)));
  await until('the follower printed the earlier line', () => {
    assert.equal(follower.exitCode, null, `the follower exited: ${err}`);
    return out.includes('line from before');
  }, 30_000);
  assert.equal((await api(n1, 'POST', '/messages', { performative: 'inform', sender: 'operator@node-1', receiver: 'far', content: 'line while following' })).status, 202);
  await until('the follower printed the new line', () => out.includes('line while following'), 15_000);
  assert.equal(out.split('\n').filter((l) => l.includes('line while following')).length, 1, out);
  follower.kill('SIGINT');
  assert.equal(await exited, 0, err);
});

test('agent logs (cluster) - an agent that no node runs is CAXTON_ERR_AGENT_NOT_FOUND, from any node', { timeout: 60_000 }, async () => {
  const r = await api(n1, 'GET', '/agents/nowhere/logs');
  assert.equal(r.status, 404, JSON.stringify(r.body));
  assert.equal(r.body.error.code, 'CAXTON_ERR_AGENT_NOT_FOUND', JSON.stringify(r.body));
  const cliRun = await runCli(viaNode1('agent', 'logs', 'nowhere'));
  assert.notEqual(cliRun.code, 0);
  assert.match(cliRun.stderr, /no agent named nowhere/);
});
