// Tests of {{name}} with caxton/testing: the built module (npm test builds it first) runs in-process
// through the node's own validator, rewriter and host functions, on a test clock. Each step reports
// what the agent sent and logged, its fuel and its memory (printed below each test as a diagnostic).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgent } from 'caxton/testing';

const WASM = new URL('../target/wasm32-unknown-unknown/release/{{crate_name}}.wasm', import.meta.url);

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

test('{{name}} - keeps the count and the last message published to its topic; other topics do not reach it', async (t) => {
  await withAgent({ config: { topic: 'weather' } }, async (agent) => {
    // publish() delivers as a node delivers a publication to a subscriber: only on a topic it subscribed to.
    const first = await agent.publish('weather', { performative: 'inform', sender: 'press', content: { sky: 'rain' } });
    assert.equal(first.outcome, 'ok', first.error);
    assert.deepEqual(first.sent, [], 'a publication is not answered');
    assert.equal(first.logs.length, 1);
    assert.equal(first.logs[0].level, 'info');
    assert.match(first.logs[0].text, /"sky":"rain"/);
    cost(t, first);
    await agent.publish('weather', { performative: 'inform', sender: 'press', content: { sky: 'sun', temp: 21.5 } });
    assert.equal(agent.kv.get('count'), '2');
    assert.deepEqual(JSON.parse(agent.kv.get('last')), { sky: 'sun', temp: 21.5 });

    const elsewhere = await agent.publish('news', { performative: 'inform', sender: 'press', content: { headline: 'x' } });
    assert.equal(elsewhere.outcome, 'not_subscribed');
    assert.equal(agent.kv.get('count'), '2');

    const r = await agent.send({ performative: 'request', sender: 'alice', content: {} });
    assert.deepEqual(r.sent[0].content, { topic: 'weather', count: 2, last: { sky: 'sun', temp: 21.5 } });
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
