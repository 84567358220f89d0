/**
 * Poison messages (issue 10): a message that crashes its agent is dead-lettered and the agent is
 * re-instantiated at once, so senders cannot switch agents off; a sender that keeps sending poison is
 * refused by its own circuit while other senders go on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, fixtureWasm } from '../helpers/agents.js';
import { withNode, type NodeContext } from '../helpers/node.js';
import { withPool } from '../helpers/pool.js';
import { until } from '../helpers/until.js';
import { poisonableAgent } from '../helpers/wat-agents.js';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const noRateLimit = { api: { addr: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false, perSecond: 1, burst: 1 } } } as const;

/** Sends as `sender` and waits for the answer (an inform, or the node's failure). */
async function ask(ctx: NodeContext, to: string, sender: string, content: string): Promise<{ performative: string; content: { ok?: boolean; error?: string; reason?: string } }> {
  const r = await ctx.call('POST', '/messages?wait_reply=true&timeout_ms=10000', { performative: 'request', sender, receiver: to, content });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.reply;
}

test('poison - 50 agents sent poison through the API stay running, answer good messages, and the poison is dead-lettered with the trap reason', async () => {
  await withNode(noRateLimit, async (ctx) => {
    const module = b64(await poisonableAgent());
    const names = Array.from({ length: 50 }, (_, i) => `p${i}`);
    for (const name of names) assert.equal((await ctx.call('POST', '/agents', { name, module })).status, 201);
    // Per agent: six poison messages from two senders (more crashes than the restart intensity of 5 a
    // minute allows), a good message in between (so the agent-wide breaker, 5 failures in a row, stays
    // closed), then mallory once more: its circuit is open. Agents in parallel, messages in order.
    await Promise.all(
      names.map(async (name) => {
        const crashed = async (sender: string) => {
          const r = await ask(ctx, name, sender, 'poison');
          assert.equal(r.performative, 'failure');
          assert.equal(r.content.error, 'agent_crashed', JSON.stringify(r));
        };
        await crashed('mallory');
        await crashed('eve');
        await crashed('mallory');
        assert.deepEqual((await ask(ctx, name, 'alice', 'hello')).content, { ok: true });
        await crashed('eve');
        await crashed('mallory'); // mallory's third within 60 s: its circuit opens
        await crashed('eve'); // and eve's
        const refused = await ask(ctx, name, 'mallory', 'poison');
        assert.equal(refused.performative, 'failure');
        assert.equal(refused.content.error, 'circuit_open');
        assert.match(refused.content.reason ?? '', new RegExp(`^messages from mallory to ${name} are refused until \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z: `));
        assert.deepEqual((await ask(ctx, name, 'alice', 'hello again')).content, { ok: true }, 'another sender still gets through');
      }),
    );
    const agents = (await ctx.call('GET', '/agents')).body.agents as { name: string; state: string; restarts: number }[];
    assert.equal(agents.length, 50);
    for (const a of agents) {
      assert.equal(a.state, 'running', `${a.name} is running`);
      assert.equal(a.restarts, 6, `${a.name} was re-instantiated after each poison message`);
    }
    const letters = (await ctx.call('GET', '/dead-letters?limit=1000')).body.letters as { sender: string; receiver: string; reason: string; message: string }[];
    const poison = letters.filter((l) => l.reason.startsWith('poison:'));
    assert.equal(poison.length, 300, 'six poison messages for each of 50 agents');
    for (const l of poison) {
      assert.match(l.reason, /^poison: p\d+ crashed while handling it: trap: unreachable$/);
      assert.ok(l.sender === 'mallory' || l.sender === 'eve', l.sender);
      assert.equal(JSON.parse(l.message).content, 'poison');
    }
    const stats = (await ctx.call('GET', '/agents/p7/stats')).body;
    assert.equal(stats.poisoned, 6);
    assert.deepEqual(
      stats.blocked_senders.map((b: { sender: string }) => b.sender).sort(),
      ['eve', 'mallory'],
    );
  });
});

test('poison - an at-least-once poison message is dead-lettered once and acknowledged, not redelivered', async () => {
  await withNode({ relay: { intervalMs: 50, baseDelayMs: 200 } }, async (ctx) => {
    const m = await ctx.node.pool.admit(fixtureWasm('trap-handler'));
    await ctx.node.pool.spawn({ name: 't', module: m.hash });
    const r = await ctx.call('POST', '/messages', { performative: 'request', sender: 'client', receiver: 't', content: 'boom', delivery: 'at-least-once' });
    assert.equal(r.status, 202);
    await until('the poison dead letter', () => ctx.node.deadLetters.count() === 1);
    await until('the outbox acknowledgement', () => ctx.node.outbox.count() === 0);
    // Several relay scans and redelivery delays later: still one letter, one delivery.
    await new Promise((res) => setTimeout(res, 1000));
    const [letter] = ctx.node.deadLetters.list();
    assert.match(letter!.reason, /^poison: t crashed while handling it: trap: unreachable$/);
    assert.equal(letter!.messageId, r.body.message_id);
    assert.equal(ctx.node.deadLetters.count(), 1);
    assert.equal(ctx.node.pool.agent('t')!.restarts, 1, 'delivered once');
    assert.equal(ctx.node.pool.agent('t')!.state, 'running');
  });
});

test('poison - a sender\'s queued poison is refused once its circuit opens: it cannot keep the agent re-instantiating', async () => {
  await withPool({}, async (pool, { events }) => {
    const m = await pool.admit(await poisonableAgent());
    await pool.spawn({ name: 'p', module: m.hash });
    const mallory = new Client(pool, 'mallory');
    const sent = Array.from({ length: 8 }, () => mallory.send('p', 'request', 'poison')); // one batch: all queued at once
    const replies = await Promise.all(sent.map((rw) => mallory.waitFor((x) => x.in_reply_to === rw)));
    const errors = replies.map((x) => (x.content as { error: string }).error);
    assert.deepEqual(errors, ['agent_crashed', 'agent_crashed', 'agent_crashed', 'circuit_open', 'circuit_open', 'circuit_open', 'circuit_open', 'circuit_open']);
    assert.equal(pool.agent('p')!.restarts, 3);
    assert.equal(events.filter((e) => e.type === 'message_poisoned').length, 3);
    assert.equal(events.filter((e) => e.type === 'undeliverable' && /refused until/.test(e.reason)).length, 5, 'the refused ones are undeliverable (and so dead letters on a node)');
    const alice = new Client(pool, 'alice');
    assert.deepEqual((await alice.request('p', 'request', 'hi')).content, { ok: true });
    const [s] = await pool.stats();
    assert.equal(s!.poisoned, 3);
    assert.deepEqual(s!.blockedSenders.map((b) => b.sender), ['mallory']);
    // An operator reset forgives the sender.
    pool.resetCircuits({ name: 'p' });
    await until('the circuit reset', async () => (await pool.stats())[0]!.blockedSenders.length === 0);
    assert.deepEqual((await mallory.request('p', 'request', 'fine now')).content, { ok: true });
  });
});
