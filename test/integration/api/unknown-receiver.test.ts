/**
 * A message to a name that exists nowhere: the sender hears why (a `failure` with no_such_agent), the
 * node counts it, dead-letters it, and `caxton trace` shows it as undeliverable, never as a reply.
 * Names the API sent as still take their replies, and only theirs: the API refuses to send to them.
 * And `caxton trace` lists the hops between agents.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteAgentStateStore } from '../../../src/storage/index.js';
import { agentWasm } from '../../helpers/agents.js';
import { initiatorAgent, sinkAgent } from '../../helpers/wat-agents.js';
import { withNode, type NodeContext } from '../../helpers/node.js';
import { until } from '../../helpers/until.js';

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const deploy = (ctx: NodeContext, name: string, bytes: Uint8Array) => ctx.call('POST', '/agents', { name, module: b64(bytes) });

/** The last message agent `name` received (the initiator keeps it under "last"). */
function lastMessage(ctx: NodeContext, name: string): Record<string, unknown> | undefined {
  const store = new SqliteAgentStateStore(ctx.node.databasePath);
  try {
    const v = store.get(name, new TextEncoder().encode('last'));
    return v === undefined ? undefined : (JSON.parse(new TextDecoder().decode(v)) as Record<string, unknown>);
  } finally {
    store.close();
  }
}

async function undeliverableTotal(ctx: NodeContext): Promise<number> {
  const m = /^caxton_messages_undeliverable_total (\d+)/m.exec(await ctx.node.metrics.text());
  return Number(m?.[1] ?? NaN);
}

for (const delivery of ['at-most-once', 'at-least-once'] as const) {
  test(`routing - an agent's ${delivery} send to a name that exists nowhere: failure to the sender, counted, dead-lettered, traced as undeliverable`, async () => {
    await withNode({}, async (ctx) => {
      const request = { performative: 'request', receiver: 'nobody-anywhere', content: 'hi', conversation_id: `c-ghost-${delivery}`, reply_with: 'rw1', delivery, message_id: `m-${delivery}` };
      assert.equal((await deploy(ctx, 'init', await initiatorAgent(JSON.stringify(request)))).status, 201);
      const before = await undeliverableTotal(ctx);
      // Any message wakes the initiator, which then sends its request.
      assert.equal((await ctx.call('POST', '/messages', { performative: 'inform', receiver: 'init', content: 'go' })).status, 202);

      const failure = await until('the failure reply reaches the sender', () => {
        const m = lastMessage(ctx, 'init');
        return m?.['performative'] === 'failure' ? m : undefined;
      });
      assert.equal(failure['sender'], 'caxton');
      assert.equal(failure['in_reply_to'], 'rw1');
      assert.equal(failure['conversation_id'], request.conversation_id);
      assert.deepEqual(failure['content'], { error: 'no_such_agent', reason: 'no agent named nobody-anywhere exists on this node or in its cluster', message_id: request.message_id });

      assert.equal(await undeliverableTotal(ctx), before + 1, 'caxton_messages_undeliverable_total counts it');
      const letters = (await ctx.call('GET', '/dead-letters?receiver=nobody-anywhere')).body;
      assert.equal(letters.total, 1, `dead-lettered: ${JSON.stringify(letters)}`);
      assert.equal(ctx.node.outbox.count(), 0, 'nothing left in the outbox to retry');

      const trace = (await ctx.call('GET', `/conversations/${request.conversation_id}`)).body.trace as { kind: string; to: string }[];
      assert.ok(trace.some((e) => e.kind === 'undeliverable' && e.to === 'nobody-anywhere'), JSON.stringify(trace));
      assert.ok(!trace.some((e) => e.kind === 'reply'), `listed as a reply: ${JSON.stringify(trace)}`);
    });
  });
}

test('routing - replies to the names the API sent as still reach the API', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 'echo', agentWasm('echo'));
    const asAlice = await ctx.call('POST', '/messages?wait_reply=true&timeout_ms=5000', { performative: 'request', sender: 'alice', receiver: 'echo', content: 'to alice' });
    assert.equal(asAlice.status, 200, JSON.stringify(asAlice.body));
    assert.equal(asAlice.body.reply.receiver, 'alice');
    assert.equal(asAlice.body.reply.content, 'to alice');
    const asApi = await ctx.call('POST', '/messages?wait_reply=true&timeout_ms=5000', { performative: 'request', receiver: 'echo', content: 'to api' });
    assert.equal(asApi.body.reply.receiver, 'api');
    assert.equal(ctx.node.deadLetters.count(), 0);
  });
});

test('routing - the API refuses a message to a name it answers for (its own, a client\'s): no forged reply reaches a waiting caller', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 'sink', await sinkAgent());
    // Carol waits for the sink's reply to r1 (the sink never answers).
    const carol = ctx.call('POST', '/messages?wait_reply=true&timeout_ms=1500', { performative: 'request', sender: 'carol', receiver: 'sink', content: 'q', reply_with: 'r1', conversation_id: 'c-forge' });
    await until('carol\'s request is journalled', async () => ((await ctx.call('GET', '/conversations/c-forge')).status === 200 ? true : undefined));
    // Dave addresses carol, quoting her reply_with: refused before anything is delivered.
    const forged = await ctx.call('POST', '/messages', { performative: 'inform', sender: 'dave', receiver: 'carol', in_reply_to: 'r1', conversation_id: 'c-forge', content: 'forged' });
    assert.equal(forged.status, 400, JSON.stringify(forged.body));
    assert.equal(forged.body.error.code, 'CAXTON_ERR_MESSAGE_INVALID');
    assert.equal(forged.body.error.details.field, '/receiver');
    assert.match(forged.body.error.message, /^\/receiver: "carol" is not an agent but a name API clients send as; the API does not send messages to its own callers/);
    // The API's own name, and at-least-once, alike.
    for (const body of [{ receiver: 'api' }, { receiver: 'carol', delivery: 'at-least-once' }]) {
      const r = await ctx.call('POST', '/messages', { performative: 'inform', sender: 'dave', content: 'x', ...body });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(r.body.error.message, /is not an agent but (the API's own name|a name API clients send as)/);
    }
    assert.equal(ctx.node.outbox.count(), 0);
    const answer = await carol;
    assert.equal(answer.status, 504, `carol got no reply, not dave's message: ${JSON.stringify(answer.body)}`);
    const trace = (await ctx.call('GET', '/conversations/c-forge')).body.trace as { kind: string }[];
    assert.deepEqual(trace.map((e) => e.kind), ['sent'], 'nothing journalled as a reply');
  });
});

test('routing - a sender name is remembered only once its message was delivered', async () => {
  await withNode({}, async (ctx) => {
    // erin's message reaches nobody: erin is not a name the API answers for afterwards.
    assert.equal((await ctx.call('POST', '/messages', { performative: 'inform', sender: 'erin', receiver: 'nobody', content: 1 })).status, 404);
    const toErin = await ctx.call('POST', '/messages', { performative: 'inform', sender: 'dave', receiver: 'erin', content: 1 });
    assert.equal(toErin.status, 404, JSON.stringify(toErin.body));
    assert.equal(toErin.body.error.code, 'CAXTON_ERR_MESSAGE_UNDELIVERABLE');
  });
});

test('trace - hops between agents of the node are listed, in order, with the conversation they belong to', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 'echo', agentWasm('echo'));
    const request = { performative: 'request', receiver: 'echo', content: 'ping', conversation_id: 'c-hops', reply_with: 'h1' };
    await deploy(ctx, 'init', await initiatorAgent(JSON.stringify(request)));
    await ctx.call('POST', '/messages', { performative: 'inform', receiver: 'init', content: 'go' });
    const body = await until('both hops are traced', async () => {
      const r = await ctx.call('GET', '/conversations/c-hops');
      return r.status === 200 && r.body.trace.length >= 2 ? r.body : undefined;
    });
    assert.equal(body.conversation.messages, 2);
    assert.deepEqual(
      body.trace.map((e: { kind: string; from: string; to: string; performative: string }) => [e.kind, e.from, e.to, e.performative]),
      [
        ['sent', 'init', 'echo', 'request'],
        ['sent', 'echo', 'init', 'inform'],
      ],
    );
    assert.ok(body.trace.every((e: { message_id: string | null }) => typeof e.message_id === 'string'));
  });
});
