// Tests of {{name}} with caxton/testing: the built module (npm test builds it first) runs in-process
// through the node's own validator, rewriter and host functions, on a test clock. Each step reports
// what the agent sent and logged, its fuel and its memory (printed below each test as a diagnostic).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgent } from 'caxton/testing';

const WASM = new URL('../build/{{name}}.wasm', import.meta.url);

/** Runs fn with a fresh instance of the agent, closed afterwards. */
async function withAgent(options, fn) {
  const agent = await loadAgent(WASM, { name: '{{name}}', ...options });
  try {
    await fn(agent);
  } finally {
    await agent.close();
  }
}

function cost(t, r) {
  t.diagnostic(`fuel ${r.fuel}, memory ${r.memoryBytes} bytes`);
}

test('{{name}} - subscribes to the topic of its config, "news" by default', async () => {
  await withAgent({}, async (agent) => {
    assert.deepEqual([...agent.topics], ['news']);
  });
  await withAgent({ config: { topic: 'weather' } }, async (agent) => {
    assert.deepEqual([...agent.topics], ['weather']);
  });
});

test('{{name}} - a request reports what it has heard: nothing yet', async (t) => {
  await withAgent({}, async (agent) => {
    const r = await agent.send({ performative: 'request', sender: 'alice', content: {}, reply_with: 'r-1' });
    assert.equal(r.outcome, 'ok', r.error);
    assert.equal(r.sent[0].performative, 'inform');
    assert.equal(r.sent[0].in_reply_to, 'r-1');
    assert.deepEqual(r.sent[0].content, { topic: 'news', count: 0, last: null });
    cost(t, r);
  });
});

test('{{name}} - a request reports the count and the last message kept in the key-value store', async () => {
  await withAgent({ kv: { count: '3', last: '{"headline":"rain"}' } }, async (agent) => {
    const r = await agent.send({ performative: 'request', content: {} });
    assert.deepEqual(r.sent[0].content, { topic: 'news', count: 3, last: { headline: 'rain' } });
  });
});
