/** What a worker reports when it cannot queue a delivery: enough for the main thread to route it again as it was. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inThreadRuntime } from '../../helpers/runtime.js';
import { PRIORITY_LEVELS } from '../../../src/sandbox/worker/mailbox.js';

const { high: HIGH, low: LOW } = PRIORITY_LEVELS;

test('worker refusals - a delivery for an agent the worker does not host is reported with its own priority', () => {
  const t = inThreadRuntime();
  try {
    const urgent = JSON.stringify({ performative: 'request', sender: 'a', receiver: 'moved', content: 1 });
    const bulk = JSON.stringify({ performative: 'inform', sender: 'a', receiver: 'moved', content: 2 });
    t.rt.deliverBatch(['moved', urgent, HIGH, 'moved', bulk, LOW]);
    const refused = t.posts.filter((p) => p.op === 'undeliverable');
    assert.deepEqual(
      refused.map((p) => (p.op === 'undeliverable' ? [p.to, p.json, p.priority, p.refusal] : [])),
      [
        ['moved', urgent, HIGH, 'no_agent'],
        ['moved', bulk, LOW, 'no_agent'],
      ],
    );
  } finally {
    t.close();
  }
});
