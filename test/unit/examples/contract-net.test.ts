/**
 * The contract-net example agents (examples/contract-net): the bidder, and the manager's rounds driven
 * by its deadline timers, run in the agent test harness (src/testing/) on the test's clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgent, type AgentMessage, type StepResult, type TestAgent, type TestMessage } from '../../../src/testing/index.js';
import { agentWasm } from '../../helpers/agents.js';

/** The bidder's price without a configured one: 10 + FNV-1a-32 of its UTF-8 name, mod 90. */
function namePrice(name: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(name, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return 10 + (h % 90);
}

/** Hands a message one agent sent to another harness agent, as the node would route it. */
function forward(m: AgentMessage, to: TestAgent): Promise<StepResult> {
  assert.equal(m.receiver, to.name, `${m.performative} is addressed to ${m.receiver}, not ${to.name}`);
  return to.send(m as unknown as TestMessage);
}

test('cn-bidder - proposes its configured price for a cfp, in the cfp\'s conversation', async () => {
  const bidder = await loadAgent(agentWasm('cn-bidder'), { name: 'b1', config: { price: 30 } });
  try {
    const r = await bidder.send({ performative: 'cfp', sender: 'manager', content: { task: 'paint' }, conversation_id: 'cnet-1', reply_with: 'cnet-1', protocol: 'fipa-contract-net' });
    assert.deepEqual(r.sent.map((m) => [m.performative, m.receiver, m.content, m.conversation_id, m.in_reply_to, m.protocol]), [
      ['propose', 'manager', { price: 30 }, 'cnet-1', 'cnet-1', 'fipa-contract-net'],
    ]);
  } finally {
    await bidder.close();
  }
});

test('cn-bidder - without a configured price it bids 10 + FNV-1a(name) % 90; with refuse it refuses', async () => {
  for (const name of ['b1', 'painter', 'painter-7.eu']) {
    const bidder = await loadAgent(agentWasm('cn-bidder'), { name });
    const r = await bidder.send({ performative: 'cfp', content: { task: 't' }, conversation_id: 'c' });
    assert.deepEqual(r.sent[0]?.content, { price: namePrice(name) }, name);
    await bidder.close();
  }
  const refuser = await loadAgent(agentWasm('cn-bidder'), { config: { refuse: true } });
  const r = await refuser.send({ performative: 'cfp', content: { task: 't' }, conversation_id: 'c' });
  assert.deepEqual(r.sent.map((m) => [m.performative, m.content]), [['refuse', { reason: 'not bidding' }]]);
  await refuser.close();
});

test('cn-bidder - an accepted proposal is done and reported; a rejected one is forgotten; other messages are ignored', async () => {
  const bidder = await loadAgent(agentWasm('cn-bidder'), { config: { price: 5 } });
  try {
    await bidder.send({ performative: 'cfp', sender: 'manager', content: { task: 'paint' }, conversation_id: 'c-1' });
    const done = await bidder.send({ performative: 'accept-proposal', sender: 'manager', content: { price: 5 }, conversation_id: 'c-1', reply_with: 'acc-1' });
    assert.deepEqual(done.sent.map((m) => [m.performative, m.content, m.in_reply_to]), [['inform', { result: 'done: paint' }, 'acc-1']], 'the task is the cfp\'s');
    const own = await bidder.send({ performative: 'accept-proposal', content: { task: { walls: 4 } }, conversation_id: 'c-2' });
    assert.deepEqual(own.sent[0]?.content, { result: 'done: {"walls":4}' }, 'a task that is not a string is reported as its JSON');
    await bidder.send({ performative: 'cfp', content: { task: 'x' }, conversation_id: 'c-3' });
    assert.deepEqual((await bidder.send({ performative: 'reject-proposal', content: { reason: 'no' }, conversation_id: 'c-3' })).sent, []);
    const other = await bidder.send({ performative: 'inform', content: 1 });
    assert.deepEqual(other.sent, []);
    assert.deepEqual(other.logs, [{ level: 'debug', text: 'cn-bidder: ignored inform' }]);
  } finally {
    await bidder.close();
  }
});

test('cn-manager - a bidder that never answers: the deadline timer awards the round to the bids in by then', async () => {
  const manager = await loadAgent(agentWasm('cn-manager'), { name: 'manager' });
  try {
    const start = await manager.send({ performative: 'request', content: { task: 'paint', bidders: ['b1', 'silent'], deadline_ms: 1000 }, reply_with: 'job-1' });
    const cfps = start.sent;
    assert.deepEqual(cfps.map((m) => [m.performative, m.receiver, m.content, m.protocol]), [
      ['cfp', 'b1', { task: 'paint' }, 'fipa-contract-net'],
      ['cfp', 'silent', { task: 'paint' }, 'fipa-contract-net'],
    ]);
    const cid = cfps[0]!.conversation_id as string;
    assert.match(cid, /^cnet-[0-9a-f]{16}$/);
    assert.equal(manager.pendingTimers, 1, 'the deadline');
    assert.deepEqual((await manager.send({ performative: 'propose', sender: 'b1', content: { price: 30 }, conversation_id: cid, in_reply_to: cid })).sent, []);
    assert.deepEqual((await manager.advance(999)).sent, [], 'before the deadline nothing happens');
    const award = await manager.advance(1);
    assert.equal(award.calls, 1, 'the deadline timer\'s message');
    assert.deepEqual(award.sent.map((m) => [m.performative, m.receiver, m.content]), [['accept-proposal', 'b1', { task: 'paint', price: 30 }]]);
    assert.equal(manager.pendingTimers, 1, 'now the timer for the winner\'s result');
    const result = await manager.send({ performative: 'inform', sender: 'b1', content: { result: 'done: paint' }, conversation_id: cid });
    assert.deepEqual(result.sent.map((m) => [m.performative, m.receiver, m.content, m.in_reply_to]), [['inform', 'tester', { winner: 'b1', price: 30, result: 'done: paint' }, 'job-1']]);
    assert.equal(manager.pendingTimers, 0, 'the result timer was cancelled');
    const late = await manager.send({ performative: 'propose', sender: 'silent', content: { price: 1 }, conversation_id: cid });
    assert.deepEqual(late.sent.map((m) => [m.performative, m.receiver, m.content]), [['reject-proposal', 'silent', { reason: 'deadline passed' }]]);
  } finally {
    await manager.close();
  }
});

test('cn-manager - no bids by the deadline is a failure; a winner silent past the second deadline too', async () => {
  const manager = await loadAgent(agentWasm('cn-manager'));
  try {
    await manager.send({ performative: 'request', content: { task: 't', bidders: ['a'], deadline_ms: 500 } });
    const none = await manager.advance(500);
    assert.deepEqual(none.sent.map((m) => [m.performative, m.content]), [['failure', { error: 'no bids' }]]);

    const start = await manager.send({ performative: 'request', content: { task: 't', bidders: ['a'], deadline_ms: 500 } });
    const cid = start.sent[0]!.conversation_id as string;
    const award = await manager.send({ performative: 'propose', sender: 'a', content: { price: 3 }, conversation_id: cid });
    assert.deepEqual(award.sent.map((m) => m.performative), ['accept-proposal'], 'every bidder answered: awarded at once');
    const silent = await manager.advance(500);
    assert.deepEqual(silent.sent.map((m) => [m.performative, m.content]), [['failure', { error: 'winner did not report a result in time', winner: 'a' }]]);
    assert.equal(manager.pendingTimers, 0);
  } finally {
    await manager.close();
  }
});

test('cn-manager - its conversation ids come from caxton.random_fill: the seed fixes them', async () => {
  const cidWith = async (seed: number): Promise<string> => {
    const m = await loadAgent(agentWasm('cn-manager'), { seed });
    const r = await m.send({ performative: 'request', content: { task: 't', bidders: ['a'] } });
    await m.close();
    return r.sent[0]!.conversation_id as string;
  };
  assert.equal(await cidWith(7), await cidWith(7));
  assert.notEqual(await cidWith(7), await cidWith(8));
});

test('contract net - a whole round between a harness manager and harness bidders, lowest price wins', async () => {
  const manager = await loadAgent(agentWasm('cn-manager'), { name: 'manager' });
  const bidders = new Map<string, TestAgent>();
  for (const [name, config] of [['b1', { price: 30 }], ['b2', { price: 12 }], ['b3', { price: 20 }], ['b4', { refuse: true }]] as const) {
    bidders.set(name, await loadAgent(agentWasm('cn-bidder'), { name, config }));
  }
  try {
    const route = async (msgs: AgentMessage[]): Promise<AgentMessage[]> => {
      const back: AgentMessage[] = [];
      for (const m of msgs) {
        const to = m.receiver === 'manager' ? manager : bidders.get(m.receiver ?? '');
        if (to === undefined) back.push(m);
        else back.push(...(await forward(m, to)).sent);
      }
      return back;
    };
    let inFlight = (await manager.send({ performative: 'request', content: { task: 'paint', bidders: ['b1', 'b2', 'b3', 'b4'], deadline_ms: 2000 } })).sent;
    const toTester: AgentMessage[] = [];
    while (inFlight.length > 0) {
      const next = await route(inFlight);
      toTester.push(...next.filter((m) => m.receiver === 'tester'));
      inFlight = next.filter((m) => m.receiver !== 'tester');
    }
    assert.deepEqual(toTester.map((m) => [m.performative, m.content]), [['inform', { winner: 'b2', price: 12, result: 'done: paint' }]]);
    assert.equal(manager.pendingTimers, 0);
  } finally {
    await manager.close();
    for (const b of bidders.values()) await b.close();
  }
});
