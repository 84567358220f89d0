/** REST API: sending messages (by name, capability, topic, at-least-once), waiting for replies, traces. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentWasm, fixtureWasm } from '../../helpers/agents.js';
import { withNode, type NodeContext } from '../../helpers/node.js';
import { initiatorAgent, sinkAgent } from '../../helpers/wat-agents.js';
import { until } from '../../helpers/until.js';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const deploy = (ctx: NodeContext, name: string, bytes: Uint8Array) => ctx.call('POST', '/agents', { name, module: b64(bytes) });

test('api messages - fipa-request through the API: the wait skips the agree and returns the inform', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 'calc', agentWasm('calculator'));
    const r = await ctx.call('POST', '/messages?wait_reply=true&timeout_ms=5000', { performative: 'request', receiver: 'calc', protocol: 'fipa-request', content: { op: 'mul', args: [6, 7] } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.reply.performative, 'inform');
    assert.deepEqual(r.body.reply.content, { result: 42 });
    assert.equal(r.body.interim.length, 1);
    assert.equal(r.body.interim[0].performative, 'agree');
    assert.equal(r.body.reply.conversation_id, r.body.conversation_id);
    assert.equal(r.body.delivered_to, 'local');
  });
});

test('api messages - by capability, to a topic, and fire-and-forget', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 'calc', agentWasm('calculator'));
    const r = await ctx.call('POST', '/messages?wait_reply=true', { performative: 'query-ref', capability: 'arithmetic', content: { op: 'add', args: [1, 2] } });
    assert.deepEqual(r.body.reply.content, { result: 3 });
    assert.equal(r.body.delivered_to, 'calc');
    const f = await ctx.call('POST', '/messages', { performative: 'inform', receiver: 'calc', content: 'hello' });
    assert.equal(f.status, 202);
    assert.match(f.body.message_id, /^[0-9a-f-]{36}$/);
    const t = await ctx.call('POST', '/messages', { performative: 'inform', topic: 'news', content: 'x' });
    assert.equal(t.status, 202);
    assert.equal(t.body.delivered_to, 'topic:0');
  });
});

test('api messages - bad messages are refused with the field named; nothing is delivered', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 'calc', agentWasm('calculator'));
    const bad = async (body: unknown, status: number, code: string, re: RegExp, query = '') => {
      const r = await ctx.call('POST', `/messages${query}`, body);
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.equal(r.body.error.code, code);
      assert.match(r.body.error.message, re);
    };
    await bad({ performative: 'shout', receiver: 'calc', content: 1 }, 400, 'CAXTON_ERR_MESSAGE_INVALID', /performative/);
    await bad({ performative: 'inform', receiver: 'calc', content: '' }, 400, 'CAXTON_ERR_MESSAGE_INVALID', /content/);
    await bad({ performative: 'inform', content: 1 }, 400, 'CAXTON_ERR_MESSAGE_INVALID', /receiver|capability|topic/);
    await bad({ performative: 'inform', receiver: 'calc', sender: 'calc', content: 1 }, 403, 'CAXTON_ERR_MESSAGE_SPOOFED', /an agent of this node/);
    await bad({ performative: 'inform', receiver: 'calc', sender: 'caxton', content: 1 }, 403, 'CAXTON_ERR_MESSAGE_SPOOFED', /the node itself/);
    await bad({ performative: 'inform', receiver: 'calc', content: 'x'.repeat(200 * 1024) }, 413, 'CAXTON_ERR_MESSAGE_TOO_LARGE', /bytes/);
    await bad({ performative: 'inform', receiver: 'nobody', content: 1 }, 404, 'CAXTON_ERR_MESSAGE_UNDELIVERABLE', /no agent named nobody/);
    await bad({ performative: 'inform', capability: 'flying', content: 1 }, 404, 'CAXTON_ERR_MESSAGE_UNDELIVERABLE', /flying/);
    await bad([1, 2], 400, 'CAXTON_ERR_API_INVALID_REQUEST', /JSON object/);
    await bad({ performative: 'inform', receiver: 'calc', content: 1 }, 400, 'CAXTON_ERR_API_INVALID_REQUEST', /timeout_ms/, '?timeout_ms=0');
    await ctx.call('POST', '/agents/calc/stop');
    await bad({ performative: 'inform', receiver: 'calc', content: 1 }, 409, 'CAXTON_ERR_AGENT_STATE', /stopped/);
  });
});

test('api messages - a wait that gets no reply ends in 504 after the timeout', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 'sink', await sinkAgent());
    const t0 = Date.now();
    const r = await ctx.call('POST', '/messages?wait_reply=true&timeout_ms=300', { performative: 'request', receiver: 'sink', content: 1 });
    assert.equal(r.status, 504);
    assert.equal(r.body.error.code, 'CAXTON_ERR_MESSAGE_TIMEOUT');
    assert.ok(Date.now() - t0 >= 290);
  });
});

test('api messages - at-least-once through the API is in the outbox before the answer, and acknowledged', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 'sink', await sinkAgent());
    await ctx.call('POST', '/agents/sink/suspend');
    const r = await ctx.call('POST', '/messages', { performative: 'inform', receiver: 'sink', content: 1, delivery: 'at-least-once' });
    assert.equal(r.status, 202);
    assert.equal(ctx.node.outbox.count(), 1, 'durable before the 202');
    await ctx.call('POST', '/agents/sink/resume');
    for (let i = 0; i < 100 && ctx.node.outbox.count() > 0; i++) await new Promise((res) => setTimeout(res, 10));
    assert.equal(ctx.node.outbox.count(), 0, 'acknowledged once handled');
  });
});

test('api messages - at-least-once to a capability is in the outbox before the answer too, and acknowledged; no provider at all is refused', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 'calc', agentWasm('calculator'));
    await ctx.call('POST', '/agents/calc/suspend');
    const r = await ctx.call('POST', '/messages', { performative: 'query-ref', capability: 'arithmetic', content: { op: 'add', args: [1, 2] }, delivery: 'at-least-once' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(ctx.node.outbox.count(), 1, 'durable before the 202');
    await ctx.call('POST', '/agents/calc/resume');
    await until('acknowledged once handled', () => (ctx.node.outbox.count() === 0 ? true : undefined));
    const none = await ctx.call('POST', '/messages', { performative: 'query-ref', capability: 'flying', content: 1, delivery: 'at-least-once' });
    assert.equal(none.status, 404, JSON.stringify(none.body));
    assert.equal(none.body.error.code, 'CAXTON_ERR_MESSAGE_UNDELIVERABLE');
    assert.equal(ctx.node.outbox.count(), 0, 'nothing stored for a capability nobody provides');
  });
});

test('api messages - an agent\'s at-least-once reply to an API caller is acknowledged when the API takes it: not redelivered, never dead-lettered', async () => {
  await withNode({ relay: { intervalMs: 20, baseDelayMs: 20, maxAttempts: 5 } }, async (ctx) => {
    const answer = { performative: 'inform', receiver: 'api', in_reply_to: 'x1', conversation_id: 'c-ack', content: 'acknowledge me', delivery: 'at-least-once' };
    await deploy(ctx, 'replier', await initiatorAgent(JSON.stringify(answer)));
    const r = await ctx.call('POST', '/messages?wait_reply=true&timeout_ms=5000', { performative: 'request', receiver: 'replier', content: 'go', reply_with: 'x1', conversation_id: 'c-ack' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.reply.content, 'acknowledge me');
    assert.equal(ctx.node.outbox.count(), 0, 'acknowledged when taken');
    // Past every redelivery the relay would make: nothing to redeliver, nothing dead-lettered.
    for (let i = 0; i < 6; i++) ctx.node.relay.tick(Date.now() + 3_600_000 * (i + 1));
    assert.equal(ctx.node.deadLetters.count(), 0);
    const trace = (await ctx.call('GET', '/conversations/c-ack')).body.trace as { kind: string }[];
    assert.deepEqual(trace.map((e) => e.kind), ['sent', 'reply'], 'the reply journalled once');
  });
});

test('api messages - the size limit applies to the message as delivered, with the fields the API adds', async () => {
  await withNode({ maxMessageBytes: 2048 }, async (ctx) => {
    await deploy(ctx, 'sink', await sinkAgent());
    const body = { performative: 'inform', sender: 'api', receiver: 'sink', conversation_id: 'c-size', content: '' };
    body.content = 'x'.repeat(2048 - 20 - JSON.stringify(body).length); // the body: 20 bytes under the limit
    assert.equal(JSON.stringify(body).length, 2028);
    const r = await ctx.call('POST', '/messages', body);
    assert.equal(r.status, 413, `with its message_id the message is over 2048 bytes: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, 'CAXTON_ERR_MESSAGE_TOO_LARGE');
    assert.equal(r.body.error.details.limit, 2048);
    assert.equal((await ctx.call('POST', '/messages', { ...body, content: 'x'.repeat(1000) })).status, 202);
  });
});

test('api messages - conversations list and a trace of the API exchange', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 'calc', agentWasm('calculator'));
    const r = await ctx.call('POST', '/messages?wait_reply=true', { performative: 'request', receiver: 'calc', conversation_id: 'abc-123', content: { op: 'sub', args: [5, 3] } });
    assert.equal(r.status, 200);
    const list = await ctx.call('GET', '/conversations');
    const conv = list.body.conversations.find((c: { id: string }) => c.id === 'abc-123');
    assert.ok(conv !== undefined, JSON.stringify(list.body));
    assert.ok(conv.participants.includes('calc'));
    const t = await ctx.call('GET', '/conversations/abc-123');
    assert.deepEqual(t.body.trace.map((e: { kind: string; performative: string }) => `${e.kind}:${e.performative}`), ['sent:request', 'reply:agree', 'reply:inform']);
    assert.equal((await ctx.call('GET', '/conversations/nope')).status, 404);
  });
});

test('api messages - analyze groups failures and dead letters matching a pattern', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 'calc', agentWasm('calculator'));
    // The calculator answers bad content with not-understood; an unknown receiver from an agent is a
    // failure and a dead letter. Here: a dead letter from a message to a stopped agent, by replay.
    ctx.node.deadLetters.record('ghost', JSON.stringify({ performative: 'inform', sender: 'calc', receiver: 'ghost', content: 1 }), 'no agent named ghost');
    ctx.node.deadLetters.record('ghost', JSON.stringify({ performative: 'inform', sender: 'calc', receiver: 'ghost', content: 2 }), 'no agent named ghost');
    const r = await ctx.call('GET', '/messages/analyze?pattern=no%20agent&last_ms=60000');
    assert.equal(r.status, 200);
    assert.equal(r.body.total, 2);
    assert.deepEqual(r.body.groups.map((g: { kind: string; agent: string; count: number }) => [g.kind, g.agent, g.count]), [['dead_letter', 'ghost', 2]]);
    assert.equal((await ctx.call('GET', '/messages/analyze?pattern=(')).status, 400);
  });
});

test('api messages - a key twice or nesting over 128 levels is refused, over the API and in an agent\'s send alike', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 's', await sinkAgent());
    const dup = await ctx.call('POST', '/messages', '{"performative":"inform","sender":"api","sender":"someone-else","receiver":"s","content":1}');
    assert.equal(dup.status, 400, JSON.stringify(dup.body));
    assert.equal(dup.body.error.code, 'CAXTON_ERR_MESSAGE_INVALID');
    assert.equal(dup.body.error.message, '/sender: the key "sender" appears more than once in the message; each key may appear once (JSON parsers differ on which one counts)');
    assert.equal(dup.body.error.details.field, '/sender');
    const deep = (levels: number) => `{"performative":"inform","receiver":"s","content":${'['.repeat(levels - 1)}1${']'.repeat(levels - 1)}}`;
    const tooDeep = await ctx.call('POST', '/messages', deep(5_000));
    assert.equal(tooDeep.status, 400, JSON.stringify(tooDeep.body));
    assert.match(tooDeep.body.error.message, /^\/content: nests deeper than 128 levels of objects and arrays/);
    assert.equal(tooDeep.body.error.details.limit, 128);
    assert.equal((await ctx.call('POST', '/messages', deep(128))).status, 202);
    // An agent whose send repeats `sender` (the receiver could read "victim"): refused, and logged.
    const spoof = '{"performative":"inform","sender":"victim","sender":"init","receiver":"s","content":"from victim"}';
    await deploy(ctx, 'init', await initiatorAgent(spoof));
    await ctx.call('POST', '/messages', { performative: 'inform', receiver: 'init', content: 'go' });
    // Until the refusal is logged, whatever else the agent logs first.
    const refusal = /send refused: \/sender: the key "sender" appears more than once/;
    await until('the refused send is logged', async () => ((await ctx.call('GET', '/agents/init/logs')).body.logs as { text: string }[]).some((l) => refusal.test(l.text)) || undefined);
    const stats = (await ctx.call('GET', '/agents/s/stats')).body;
    assert.equal(stats.messages_in, 1, 'the sink got the API\'s 128-level message, not the agent\'s');
  });
});

test('api messages - the error cascade groups the window\'s errors and names the root cause', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 'crash', fixtureWasm('trap-handler'));
    await deploy(ctx, 'front', await initiatorAgent('{"performative":"request","receiver":"crash","content":"work"}'));
    await deploy(ctx, 'lonely', await initiatorAgent('{"performative":"inform","receiver":"idle","content":1}'));
    await deploy(ctx, 'idle', await sinkAgent());
    // crash traps on its message: a fault, the message dead-lettered as poison, and a system failure back to the API.
    await ctx.call('POST', '/messages', { performative: 'request', receiver: 'crash', content: 1 });
    const cascade = async () => (await ctx.call('GET', '/error-cascade?last_ms=60000')).body;
    for (let i = 0; i < 100 && (await cascade()).errors < 3; i++) await new Promise((r) => setTimeout(r, 50));
    // Then front's message finds crash stopped, and lonely's finds idle stopped: unrelated.
    await ctx.call('POST', '/agents/crash/stop');
    await ctx.call('POST', '/agents/idle/stop');
    await ctx.call('POST', '/messages', { performative: 'inform', receiver: 'front', content: 'go' });
    await ctx.call('POST', '/messages', { performative: 'inform', receiver: 'lonely', content: 'go' });
    for (let i = 0; i < 100 && (await cascade()).errors < 5; i++) await new Promise((r) => setTimeout(r, 50));
    const r = await cascade();
    assert.equal(r.errors, 5, JSON.stringify(r));
    assert.equal(r.cascades.length, 2);
    const [first, second] = r.cascades;
    assert.equal(first.root.kind, 'fault');
    assert.equal(first.root.agent, 'crash');
    assert.match(first.root.detail, /trap/);
    assert.deepEqual(first.events.map((e: { kind: string; agent: string; peer: string | null }) => [e.kind, e.agent, e.peer]), [['fault', 'crash', null], ['poison', 'crash', 'api'], ['failure', 'crash', 'api'], ['undeliverable', 'crash', 'front']]);
    assert.deepEqual(first.agents.map((a: { name: string; caused_by: string | null }) => [a.name, a.caused_by]), [['crash', null]]);
    assert.deepEqual(first.affected, ['api', 'front']);
    assert.deepEqual([second.root.kind, second.root.agent, second.root.peer], ['undeliverable', 'idle', 'lonely']);
    // The window: nothing in the last millisecond... of an hour ago.
    assert.equal((await ctx.call('GET', '/error-cascade?last_ms=1')).body.errors, 0);
    assert.equal((await ctx.call('GET', '/error-cascade?last_ms=0')).status, 400);
  });
});

test('api messages - the error cascade returns the largest 100 cascades and says how many there were', async () => {
  await withNode({}, async (ctx) => {
    // 120 unrelated undeliverable messages, as the journal records them: 120 cascades of one error each.
    for (let i = 0; i < 120; i++) ctx.node.journal.recordMessage('undeliverable', JSON.stringify({ performative: 'inform', receiver: `ghost-${i}`, content: 1 }), `no agent named ghost-${i}`);
    const r = (await ctx.call('GET', '/error-cascade?last_ms=60000')).body;
    assert.equal(r.errors, 120);
    assert.equal(r.cascades_total, 120);
    assert.equal(r.truncated, true);
    assert.equal(r.cascades.length, 100);
  });
});
