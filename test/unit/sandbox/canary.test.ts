import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Canary } from '../../../src/sandbox/worker/canary.js';

const limits = { maxErrorRate: 0.05, maxP99Ms: 10, minSamples: 20 };
const module = {} as WebAssembly.Module;

test('canary split - messages without a conversation take exactly the share, spread evenly', () => {
  for (const percent of [1, 5, 25, 50, 99]) {
    const c = new Canary('h', module, percent, limits);
    let taken = 0;
    let longestGap = 0;
    let gap = 0;
    for (let i = 0; i < 1000; i++) {
      if (c.takes('{"performative":"inform"}')) {
        taken++;
        longestGap = Math.max(longestGap, gap);
        gap = 0;
      } else gap++;
    }
    assert.equal(taken, percent * 10, `${percent} %`);
    assert.ok(longestGap <= Math.ceil(100 / percent), `${percent} %: no long runs without the canary`);
  }
  assert.equal(new Canary('h', module, 100, limits).takes('{}'), true);
});

test('canary split - a conversation sticks to one version, and the share of conversations is about right', () => {
  const c = new Canary('h', module, 25, limits);
  let onCanary = 0;
  for (let i = 0; i < 2000; i++) {
    const json = `{"performative":"request","conversation_id":"conv-${i}","content":{}}`;
    const first = c.takes(json);
    for (let k = 0; k < 3; k++) assert.equal(c.takes(json), first, 'same conversation, same version');
    if (first) onCanary++;
  }
  assert.ok(onCanary > 2000 * 0.2 && onCanary < 2000 * 0.3, `${onCanary} of 2000 conversations on a 25 % canary`);
});

test('canary limits - the error rate is judged over at least minSamples messages', () => {
  const c = new Canary('h', module, 50, limits); // 5 % of max(n, 20): the second error rolls back
  assert.equal(c.record(0.1, true), undefined, 'one error in 20 is 5 %, not above');
  for (let i = 0; i < 30; i++) assert.equal(c.record(0.1, false), undefined);
  const why = c.record(0.1, true);
  assert.match(why ?? '', /error rate 6\.\d+% \(2 of 32 messages\) is above 5\.00%/);
});

test('canary limits - the P99 is judged once there are minSamples timings', () => {
  const c = new Canary('h', module, 50, limits);
  let why: string | undefined;
  let n = 0;
  while (why === undefined && n < 100) {
    why = c.record(n % 2 === 0 ? 50 : 1, false);
    n++;
  }
  assert.match(why ?? '', /P99 handling time 50\.00 ms is above 10 ms/);
  assert.ok(n >= 20 && n <= 32, `judged after ${n} messages`);
  assert.equal(c.stats().p99Ms, 50);
});
