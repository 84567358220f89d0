/** REST API: deploying and operating agents, over real HTTP against an in-process node. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentWasm } from '../../helpers/agents.js';
import { withNode, type NodeContext } from '../../helpers/node.js';
import { wat } from '../../helpers/wat.js';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const deploy = (ctx: NodeContext, name: string, kind: string, extra: Record<string, unknown> = {}) => ctx.call('POST', '/agents', { name, module: b64(agentWasm(kind)), ...extra });

function assertError(r: { status: number; body: { error?: { code?: string; message?: string; hint?: string } } }, status: number, code: string, message?: RegExp): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.error?.code, code);
  assert.equal(typeof r.body.error?.hint, 'string');
  if (message !== undefined) assert.match(r.body.error?.message ?? '', message);
}

test('api agents - deploy with JSON, list, inspect with stats', async () => {
  await withNode({}, async (ctx) => {
    const r = await deploy(ctx, 'calc', 'calculator', { config: { precision: 2 }, priority: 'high' });
    assert.equal(r.status, 201);
    assert.equal(r.body.name, 'calc');
    assert.equal(r.body.state, 'running');
    assert.equal(r.body.priority, 'high');
    assert.deepEqual(r.body.config, { precision: 2 });
    assert.match(r.body.module, /^[0-9a-f]{64}$/);
    const list = await ctx.call('GET', '/agents');
    assert.equal(list.body.total, 1);
    assert.equal(list.body.agents[0].name, 'calc');
    assert.equal((await ctx.call('GET', '/agents?state=stopped')).body.total, 0);
    const one = await ctx.call('GET', '/agents/calc');
    assert.equal(one.status, 200);
    assert.equal(one.body.stats.messages_in, 0);
    assert.equal(one.body.stats.latency.buckets.length, 26);
  });
});

test('api agents - deploy with multipart, the module as a file part', async () => {
  await withNode({}, async (ctx) => {
    const form = new FormData();
    form.set('name', 'echo');
    form.set('config', JSON.stringify({ a: 1 }));
    form.set('module', new Blob([agentWasm('echo')]), 'echo.wasm');
    const res = await fetch(`${ctx.url}/agents`, { method: 'POST', headers: { authorization: `Bearer ${ctx.adminKey}` }, body: form });
    const body = (await res.json()) as { name: string; state: string; config: unknown };
    assert.equal(res.status, 201, JSON.stringify(body));
    assert.equal(body.state, 'running');
    assert.deepEqual(body.config, { a: 1 });
  });
});

test('api agents - bad deploys are refused with the field or the module problem named', async () => {
  await withNode({}, async (ctx) => {
    assertError(await ctx.call('POST', '/agents', { name: 'x' }), 400, 'CAXTON_ERR_API_INVALID_REQUEST', /body.module is required/);
    assertError(await ctx.call('POST', '/agents', { name: 'x', module: '!!!' }), 400, 'CAXTON_ERR_API_INVALID_REQUEST', /body.module is not valid base64/);
    assertError(await ctx.call('POST', '/agents', { name: 'bad name!', module: b64(agentWasm('echo')) }), 400, 'CAXTON_ERR_API_INVALID_REQUEST', /body.name/);
    assertError(await ctx.call('POST', '/agents', { name: 'x', module: b64(agentWasm('echo')), priority: 'urgent' }), 400, 'CAXTON_ERR_API_INVALID_REQUEST', /body.priority/);
    assertError(await ctx.call('POST', '/agents', { name: 'x', module: b64(agentWasm('echo')), extra: 1 }), 400, 'CAXTON_ERR_API_INVALID_REQUEST');
    assertError(await ctx.call('POST', '/agents', { name: 'x', module: b64(new Uint8Array([1, 2, 3, 4])) }), 400, 'CAXTON_ERR_MODULE_MALFORMED');
    assert.equal((await deploy(ctx, 'x', 'echo')).status, 201);
    assertError(await deploy(ctx, 'x', 'echo'), 409, 'CAXTON_ERR_AGENT_EXISTS');
    assertError(await ctx.call('GET', '/agents/nobody'), 404, 'CAXTON_ERR_AGENT_NOT_FOUND');
    assert.equal((await ctx.call('GET', '/agents')).body.total, 1, 'nothing half-deployed');
  });
});

test('api agents - suspend, resume, stop, restart, and illegal transitions', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 'e', 'echo');
    assert.equal((await ctx.call('POST', '/agents/e/suspend')).body.state, 'suspended');
    assertError(await ctx.call('POST', '/agents/e/suspend'), 409, 'CAXTON_ERR_AGENT_STATE');
    assert.equal((await ctx.call('POST', '/agents/e/resume')).body.state, 'running');
    assert.equal((await ctx.call('POST', '/agents/e/stop', { graceful: true, drain_timeout_ms: 1000 })).body.state, 'stopped');
    assertError(await ctx.call('POST', '/agents/e/stop'), 409, 'CAXTON_ERR_AGENT_STATE');
    const s = await ctx.call('GET', '/agents/e/stats');
    assert.equal(s.body.state, 'stopped');
    const r = await ctx.call('POST', '/agents/e/restart');
    assert.equal(r.body.state, 'running');
    assert.equal((await ctx.call('POST', '/agents/e/restart')).body.state, 'running', 'restart of a running agent: stop, then start');
  });
});

test('api agents - upgrade immediate, then a canary promoted by hand', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 'x', 'counter');
    const echo = b64(agentWasm('echo'));
    const up = await ctx.call('POST', '/agents/x/upgrade', { module: echo, strategy: 'immediate' });
    assert.equal(up.status, 200, JSON.stringify(up.body));
    const echoHash = up.body.module;
    const counter = b64(agentWasm('counter'));
    const c = await ctx.call('POST', '/agents/x/upgrade', { module: counter, strategy: 'canary', canary: { stages: '10:1h', max_error_rate: 0.5 } });
    assert.equal(c.status, 202, JSON.stringify(c.body));
    assert.equal(c.body.canary.percent, 10);
    assert.equal(c.body.module, echoHash, 'the old version is still the agent\'s module');
    assertError(await ctx.call('POST', '/agents/x/upgrade', { module: counter, strategy: 'canary', canary: { stages: '50:1m,10:1m' } }), 400, 'CAXTON_ERR_UPGRADE_PLAN');
    assert.equal((await ctx.call('POST', '/agents/x/canary/promote')).status, 202);
    for (let i = 0; i < 100 && (await ctx.call('GET', '/agents/x')).body.canary !== null; i++) await new Promise((r) => setTimeout(r, 20));
    const after = await ctx.call('GET', '/agents/x');
    assert.equal(after.body.canary, null);
    assert.notEqual(after.body.module, echoHash, 'promoted');
    assertError(await ctx.call('POST', '/agents/x/canary/rollback'), 409, 'CAXTON_ERR_AGENT_STATE');
  });
});

test('api agents - remove forgets the agent and its key-value state', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 'c', 'counter');
    await ctx.call('POST', '/messages?wait_reply=true', { performative: 'request', receiver: 'c', content: { op: 'increment', by: 5 } });
    assert.deepEqual((await ctx.call('DELETE', '/agents/c')).body, { name: 'c', removed: true });
    assertError(await ctx.call('GET', '/agents/c'), 404, 'CAXTON_ERR_AGENT_NOT_FOUND');
    await deploy(ctx, 'c', 'counter');
    const r = await ctx.call('POST', '/messages?wait_reply=true', { performative: 'request', receiver: 'c', content: { op: 'get' } });
    assert.deepEqual(r.body.reply.content, { count: 0 }, 'a new agent under the old name starts empty');
  });
});

test('api agents - logs keep the last lines, filtered by level', async () => {
  const logger = await wat(`(module
    (import "caxton" "log" (func $log (param i32 i32 i32)))
    (memory (export "memory") 1)
    (data (i32.const 0) "hello")
    (data (i32.const 16) "careful")
    (func (export "caxton_abi_version") (result i32) i32.const 1)
    (func (export "caxton_alloc") (param i32) (result i32) i32.const 8192)
    (func (export "handle_message") (param i32 i32) (result i32)
      (call $log (i32.const 2) (i32.const 0) (i32.const 5))
      (call $log (i32.const 3) (i32.const 16) (i32.const 7))
      i32.const 0))`);
  await withNode({}, async (ctx) => {
    assert.equal((await ctx.call('POST', '/agents', { name: 'l', module: b64(logger) })).status, 201);
    for (let i = 0; i < 3; i++) await ctx.call('POST', '/messages', { performative: 'inform', receiver: 'l', content: { i }, conversation_id: `conv-${i}` });
    let logs: { level: string; text: string }[] = [];
    for (let i = 0; i < 100 && logs.length < 6; i++) {
      logs = (await ctx.call('GET', '/agents/l/logs')).body.logs;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(logs.length, 6);
    assert.deepEqual(logs.slice(0, 2).map((l) => [l.level, l.text]), [['info', 'hello'], ['warn', 'careful']]);
    assert.deepEqual(logs.map((l) => (l as unknown as { conversation_id: string }).conversation_id), ['conv-0', 'conv-0', 'conv-1', 'conv-1', 'conv-2', 'conv-2'], 'each line carries the conversation of the message being handled');
    const warn = (await ctx.call('GET', '/agents/l/logs?level=warn&tail=2')).body.logs;
    assert.deepEqual(warn.map((l: { text: string }) => l.text), ['careful', 'careful']);
    assert.equal((await ctx.call('GET', '/agents/l/logs?tail=0')).status, 400);
  });
});

test('api agents - placement fields are validated; on a node alone it is the only candidate', async () => {
  await withNode({}, async (ctx) => {
    const pinned = await deploy(ctx, 'p1', 'echo', { target_node: 'test-node', placement_strategy: 'least-loaded' });
    assert.equal(pinned.status, 201, JSON.stringify(pinned.body));
    assert.equal(pinned.body.node, 'test-node');
    assert.equal((await deploy(ctx, 'p2', 'echo', { prefer_nodes: ['test-node'] })).status, 201);
    assert.equal((await deploy(ctx, 'p3', 'echo', { prefer_nodes: 'test-node', placement_strategy: 'even-distribution' })).status, 201);
    assertError(await deploy(ctx, 'x', 'echo', { target_node: 'node-9' }), 404, 'CAXTON_ERR_CLUSTER_UNKNOWN_NODE', /target node node-9 is not a member/);
    assertError(await deploy(ctx, 'x', 'echo', { prefer_nodes: 'test-node,node-9' }), 404, 'CAXTON_ERR_CLUSTER_UNKNOWN_NODE', /prefer_nodes names node-9/);
    assertError(await deploy(ctx, 'x', 'echo', { placement_strategy: 'random' }), 400, 'CAXTON_ERR_API_INVALID_REQUEST', /body\.placement_strategy/);
    assertError(await deploy(ctx, 'x', 'echo', { prefer_nodes: 'a,,b' }), 400, 'CAXTON_ERR_API_INVALID_REQUEST', /body\.prefer_nodes/);
    assertError(await deploy(ctx, 'x', 'echo', { target_node: 'test-node', prefer_nodes: ['test-node'] }), 400, 'CAXTON_ERR_API_INVALID_REQUEST', /exclude each other/);
    assert.equal((await ctx.call('GET', '/agents')).body.total, 3, 'nothing deployed by a refused request');
  });
});

test('api agents - each deploy\'s start is timed into caxton_agent_spawn_duration_seconds', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 'e1', 'echo');
    await deploy(ctx, 'e2', 'echo');
    const text = await ctx.node.metrics.text();
    assert.match(text, /^caxton_agent_spawn_duration_seconds_count 2$/m);
  });
});
