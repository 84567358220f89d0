import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SENDER_COOLDOWN_MS,
  SENDER_FORGET_MS,
  SENDER_MAX_COOLDOWN_MS,
  SENDER_MAX_TRACKED,
  SENDER_POISON_LIMIT,
  SENDER_POISON_WINDOW_MS,
  SenderCircuits,
} from '../../../src/sandbox/worker/sender-circuits.js';

const from = (sender: string) => JSON.stringify({ performative: 'request', sender, receiver: 'a', content: 1 });

test('sender circuits - the third poison message within the window opens the sender\'s circuit, others stay open to traffic', () => {
  assert.equal(SENDER_POISON_LIMIT, 3);
  const c = new SenderCircuits();
  assert.equal(c.anyOpen, false, 'nothing to check before any poison');
  assert.equal(c.poisoned('m', 0), undefined);
  assert.equal(c.poisoned('m', 1000), undefined);
  assert.equal(c.anyOpen, false);
  assert.deepEqual(c.poisoned('m', 2000), { sender: 'm', until: 2000 + SENDER_COOLDOWN_MS });
  assert.equal(c.anyOpen, true);
  assert.deepEqual(c.refusing(from('m'), 3000), { sender: 'm', until: 2000 + SENDER_COOLDOWN_MS });
  assert.equal(c.refusing(from('alice'), 3000), undefined, 'another sender is not refused');
  assert.deepEqual(c.open(3000), [{ sender: 'm', until: 2000 + SENDER_COOLDOWN_MS }]);
  assert.equal(c.refusing(from('m'), 2000 + SENDER_COOLDOWN_MS), undefined, 'closed after the cool-down');
  assert.equal(c.anyOpen, false, 'and the per-message check is off again');
});

test('sender circuits - poison spread wider than the window does not open it', () => {
  const c = new SenderCircuits();
  const step = SENDER_POISON_WINDOW_MS / 2;
  for (let i = 0; i < 10; i++) assert.equal(c.poisoned('slow', i * step), undefined, `poison ${i + 1}`);
  assert.equal(c.anyOpen, false);
});

test('sender circuits - the cool-down doubles each time the sender trips again, up to the cap, and starts over after an hour closed', () => {
  const c = new SenderCircuits();
  let t = 0;
  const trip = () => {
    let opened;
    for (let i = 0; i < SENDER_POISON_LIMIT; i++) opened = c.poisoned('m', t);
    assert.ok(opened !== undefined);
    const cooldown = opened.until - t;
    t = opened.until; // it closes; the sender comes straight back
    return cooldown;
  };
  const cooldowns = Array.from({ length: 8 }, trip);
  assert.deepEqual(cooldowns, [1, 2, 4, 8, 16, 32, 60, 60].map((m) => Math.min(SENDER_MAX_COOLDOWN_MS, m * SENDER_COOLDOWN_MS)));
  t += SENDER_FORGET_MS;
  assert.equal(trip(), SENDER_COOLDOWN_MS, 'forgiven after its circuit stayed closed for an hour');
});

test('sender circuits - poison from a sender already refused (queued before) does not extend its circuit', () => {
  const c = new SenderCircuits();
  for (let i = 0; i < SENDER_POISON_LIMIT; i++) c.poisoned('m', 0);
  assert.equal(c.poisoned('m', 10), undefined);
  assert.deepEqual(c.open(10), [{ sender: 'm', until: SENDER_COOLDOWN_MS }]);
});

test('sender circuits - bounded: old closed entries make room; reset forgets everything', () => {
  const c = new SenderCircuits();
  for (let i = 0; i < SENDER_POISON_LIMIT; i++) c.poisoned('m', 0);
  for (let i = 0; i < SENDER_MAX_TRACKED + 10; i++) c.poisoned(`s${i}`, 1);
  assert.deepEqual(c.open(2).map((o) => o.sender), ['m'], 'the open circuit is kept while closed entries make room');
  c.reset();
  assert.equal(c.anyOpen, false);
  assert.equal(c.refusing(from('m'), 2), undefined);
});

test('sender circuits - a message without a sender, or not JSON, is never refused', () => {
  const c = new SenderCircuits();
  for (let i = 0; i < SENDER_POISON_LIMIT; i++) c.poisoned('m', 0);
  assert.equal(c.refusing('{"performative":"inform","content":1}', 1), undefined);
  assert.equal(c.refusing('not json', 1), undefined);
});
