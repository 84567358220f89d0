/** The counter example agent (examples/counter), run in the agent test harness (src/testing/). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgent } from '../../../src/testing/index.js';
import { agentWasm } from '../../helpers/agents.js';

test('counter - increments are kept in the key-value store across messages', async () => {
  const agent = await loadAgent(agentWasm('counter'));
  try {
    for (let i = 1; i <= 5; i++) {
      const r = await agent.send({ performative: 'request', content: { op: 'increment', by: 2 } });
      assert.deepEqual(r.sent.map((m) => [m.performative, m.content]), [['inform', { count: i * 2 }]]);
    }
    assert.equal(agent.kv.get('count'), '10');
    const get = await agent.send({ performative: 'request', content: { op: 'get' } });
    assert.deepEqual(get.sent[0]?.content, { count: 10 });
    await agent.send({ performative: 'request', content: { op: 'increment' } });
    assert.equal(agent.kv.get('count'), '11', 'by defaults to 1');
  } finally {
    await agent.close();
  }
});

test('counter - starts from the key-value state it is given (as after a restart or an upgrade)', async () => {
  const agent = await loadAgent(agentWasm('counter'), { kv: { count: '41' } });
  try {
    const r = await agent.send({ performative: 'request', content: { op: 'increment' } });
    assert.deepEqual(r.sent[0]?.content, { count: 42 });
    assert.deepEqual(agent.kv.toObject(), { count: '42' });
  } finally {
    await agent.close();
  }
});

test('counter - fipa-subscribe: agree, an inform to the subscriber after every increment, none after cancel', async () => {
  const agent = await loadAgent(agentWasm('counter'));
  try {
    const sub = await agent.send({ performative: 'subscribe', sender: 'watcher', content: {}, conversation_id: 'w-1', reply_with: 'sub-1', protocol: 'fipa-subscribe' });
    assert.deepEqual(sub.sent.map((m) => [m.performative, m.receiver, m.content]), [['agree', 'watcher', { subscribed: 'count' }]]);
    assert.ok(agent.kv.has('subscribers'), 'the subscription is state, so it survives a restart');
    const inc = await agent.send({ performative: 'request', sender: 'alice', content: { op: 'increment', by: 5 } });
    assert.deepEqual(
      inc.sent.map((m) => [m.performative, m.receiver, m.content, m.conversation_id, m.in_reply_to, m.protocol]),
      [
        ['inform', 'alice', { count: 5 }, undefined, undefined, undefined],
        ['inform', 'watcher', { count: 5 }, 'w-1', 'sub-1', 'fipa-subscribe'],
      ],
    );
    const inc2 = await agent.send({ performative: 'request', sender: 'alice', content: { op: 'increment', by: 2 } });
    assert.deepEqual(inc2.sent.filter((m) => m.receiver === 'watcher').map((m) => m.content), [{ count: 7 }], 'an inform per change');
    const cancel = await agent.send({ performative: 'cancel', sender: 'watcher', content: {} });
    assert.deepEqual(cancel.sent[0]?.content, { cancelled: true });
    const after = await agent.send({ performative: 'request', sender: 'alice', content: { op: 'increment' } });
    assert.deepEqual(after.sent.map((m) => m.receiver), ['alice']);
  } finally {
    await agent.close();
  }
});

test('counter - what it does not understand gets not-understood and leaves the count alone', async () => {
  const agent = await loadAgent(agentWasm('counter'), { kv: { count: '7' } });
  try {
    for (const [performative, content, why] of [
      ['request', { op: 'reset' }, /unknown op: reset/],
      ['request', { op: 'increment', by: 1.5 }, /"by" must be an integer/],
      ['request', { nothing: true }, /content must be/],
      ['inform', { op: 'increment' }, /only understands request, subscribe and cancel/],
    ] as const) {
      const r = await agent.send({ performative, content });
      assert.equal(r.sent[0]?.performative, 'not-understood');
      assert.match(String((r.sent[0]?.content as { error: string }).error), why);
    }
    assert.equal(agent.kv.get('count'), '7');
    const nu = await agent.send({ performative: 'not-understood', content: { error: 'x' } });
    assert.deepEqual(nu.sent, [], 'a not-understood is never answered');
  } finally {
    await agent.close();
  }
});
