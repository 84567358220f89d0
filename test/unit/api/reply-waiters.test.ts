import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplyWaiters } from '../../../src/api/reply-waiters.js';

const reply = (m: Record<string, unknown>) => [JSON.stringify(m), m] as const;

test('reply waiters - a reply is handed over only when it quotes the reply_with and is addressed to the sender who waits', async () => {
  const w = new ReplyWaiters();
  const carol = w.wait('carol', 'r1', 5_000);
  // Someone else's message quoting carol's reply_with: not carol's reply.
  assert.equal(w.offer(...reply({ performative: 'inform', receiver: 'dave', in_reply_to: 'r1', content: 'forged' })), false);
  assert.equal(w.offer(...reply({ performative: 'inform', in_reply_to: 'r1', content: 'no receiver' })), false);
  assert.equal(w.offer(...reply({ performative: 'inform', receiver: 'carol', in_reply_to: 'r2', content: 'other request' })), false);
  assert.equal(w.offer(...reply({ performative: 'agree', receiver: 'carol', in_reply_to: 'r1', content: 'ok' })), true);
  assert.equal(w.offer(...reply({ performative: 'inform', receiver: 'carol', in_reply_to: 'r1', content: 'done' })), true);
  const r = await carol.promise;
  assert.equal(JSON.parse(r.reply as string).content, 'done');
  assert.deepEqual(r.interim.map((j) => JSON.parse(j).performative), ['agree']);
  assert.equal(w.size, 0);
});

test('reply waiters - two senders may use the same reply_with; each gets its own reply', async () => {
  const w = new ReplyWaiters();
  const a = w.wait('alice', 'same', 5_000);
  const b = w.wait('bob', 'same', 5_000);
  assert.ok(w.offer(...reply({ performative: 'inform', receiver: 'bob', in_reply_to: 'same', content: 'b' })));
  assert.ok(w.offer(...reply({ performative: 'inform', receiver: 'alice', in_reply_to: 'same', content: 'a' })));
  assert.equal(JSON.parse((await a.promise).reply as string).content, 'a');
  assert.equal(JSON.parse((await b.promise).reply as string).content, 'b');
});

test('reply waiters - a timeout or a cancel ends the wait without a reply, and an earlier wait ending leaves a later one of the same key in place', async () => {
  const w = new ReplyWaiters();
  const first = w.wait('alice', 'k', 20);
  const timedOut = await first.promise;
  assert.equal(timedOut.reply, undefined);
  const cancelled = w.wait('alice', 'k', 5_000);
  cancelled.cancel();
  assert.equal((await cancelled.promise).reply, undefined);
  assert.equal(w.size, 0);
  // The same sender reusing a reply_with takes the key over; the first one's end does not remove it.
  const old = w.wait('alice', 'again', 5_000);
  const current = w.wait('alice', 'again', 5_000);
  old.cancel();
  assert.ok(w.offer(...reply({ performative: 'inform', receiver: 'alice', in_reply_to: 'again', content: 1 })));
  assert.equal(JSON.parse((await current.promise).reply as string).content, 1);
});
