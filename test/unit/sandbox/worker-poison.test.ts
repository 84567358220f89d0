/**
 * Poison messages against the worker runtime on the test's thread, where the interplay of the
 * agent's breaker, its per-sender circuits and the dedup window can be driven message by message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inThreadRuntime, type InThread } from '../../helpers/runtime.js';
import { poisonableAgent } from '../../helpers/wat-agents.js';
import { admitInThread } from '../../../src/sandbox/admission.js';
import { DEFAULT_POLICY } from '../../../src/sandbox/policy.js';
import { NORMAL } from '../../../src/sandbox/worker/mailbox.js';

const tick = () => new Promise((r) => setImmediate(r));

async function withPoisonable(fn: (t: InThread) => Promise<void>): Promise<void> {
  const t = inThreadRuntime();
  try {
    const { module } = await admitInThread.admit(await poisonableAgent(), DEFAULT_POLICY);
    t.rt.addModule('h', module);
    t.rt.spawn({ op: 'spawn', key: 1, id: 'i', name: 'p', hash: 'h', config: '{}', restarts: 0, hold: false });
    await fn(t);
  } finally {
    t.close();
  }
}

let n = 0;
const message = (sender: string, content: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ performative: 'request', sender, receiver: 'p', content, message_id: `m-${n++}`, reply_with: `r-${n}`, ...extra });

test('worker poison - a sender shut out by its own circuit cannot take the half-open trial: the breaker closes on the next good message', async () => {
  await withPoisonable(async (t) => {
    // Five crashes in a row open the agent's breaker; mallory's three open mallory's circuit too.
    for (const s of ['mallory', 'eve', 'mallory', 'eve', 'mallory']) {
      t.rt.deliverBatch(['p', message(s, 'poison'), NORMAL]);
      await tick();
    }
    const stats = () => t.rt.stats()[0]!;
    assert.equal(stats().circuit, 'open');
    assert.deepEqual(stats().blockedSenders.map((b) => b.sender), ['mallory']);
    await new Promise((r) => setTimeout(r, 1100)); // the breaker's first cool-down is 1 s
    assert.equal(stats().circuit, 'half-open');
    t.posts.length = 0;
    // mallory's message is refused by mallory's circuit: it must not use up the trial.
    t.rt.deliverBatch(['p', message('mallory', 'hello'), NORMAL]);
    t.rt.deliverBatch(['p', message('alice', 'hello'), NORMAL]);
    await tick();
    const refused = t.posts.filter((p) => p.op === 'undeliverable').map((p) => (p.op === 'undeliverable' ? (JSON.parse(p.json) as { sender: string }).sender : ''));
    assert.deepEqual(refused, ['mallory']);
    assert.equal(stats().circuit, 'closed', 'alice\'s message was the trial, and it succeeded');
  });
});

test('worker poison - a redelivered copy of a poison message is a duplicate, not a second crash; only the node acknowledges it', async () => {
  await withPoisonable(async (t) => {
    const poison = message('client', 'poison', { delivery: 'at-least-once' });
    const fine = message('client', 'fine', { delivery: 'at-least-once' });
    const { message_id: poisonId } = JSON.parse(poison) as { message_id: string };
    t.outbox.add(poisonId, 'p', poison, Date.now() + 60_000);
    // The original and the relay's copy are both queued (a backlog longer than the redelivery delay).
    t.rt.deliverBatch(['p', poison, NORMAL, 'p', poison, NORMAL, 'p', fine, NORMAL, 'p', fine, NORMAL]);
    await tick();
    assert.equal(t.posts.filter((p) => p.op === 'poison').length, 1);
    const s = t.rt.stats()[0]!;
    assert.equal(s.poisoned, 1);
    assert.equal(s.duplicates, 2, 'the copy of the poison and the copy of the good message');
    assert.equal(t.outbox.count(), 1, 'the copy did not acknowledge it: the node does, once it is a dead letter');
  });
});
