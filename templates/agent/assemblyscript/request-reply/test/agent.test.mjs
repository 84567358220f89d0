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

test('{{name}} - greets the name in a request and counts requests in the key-value store', async (t) => {
  await withAgent({}, async (agent) => {
    const first = await agent.send({ performative: 'request', sender: 'alice', content: { name: 'Ada' }, conversation_id: 'c-1', reply_with: 'r-1' });
    assert.equal(first.outcome, 'ok', first.error);
    assert.equal(first.sent.length, 1);
    assert.equal(first.sent[0].performative, 'inform');
    assert.equal(first.sent[0].receiver, 'alice');
    assert.equal(first.sent[0].in_reply_to, 'r-1');
    assert.deepEqual(first.sent[0].content, { greeting: 'Hello, Ada!', count: 1 });
    const second = await agent.send({ performative: 'request', sender: 'bob', content: { name: 'Grace' } });
    assert.deepEqual(second.sent[0].content, { greeting: 'Hello, Grace!', count: 2 });
    assert.equal(agent.kv.get('count'), '2');
    cost(t, second);
  });
});

test('{{name}} - the count continues from the stored state (it survives restarts and upgrades)', async () => {
  await withAgent({ kv: { count: '41' } }, async (agent) => {
    const r = await agent.send({ performative: 'request', content: { name: 'Ada' } });
    assert.deepEqual(r.sent[0].content, { greeting: 'Hello, Ada!', count: 42 });
  });
});

test('{{name}} - refuses a request without a name, and does not understand other performatives', async () => {
  await withAgent({}, async (agent) => {
    const refused = await agent.send({ performative: 'request', content: { nom: 'Ada' } });
    assert.equal(refused.sent[0].performative, 'refuse');
    assert.deepEqual(refused.sent[0].content, { reason: 'content needs a string "name"' });
    const other = await agent.send({ performative: 'inform', content: 'hello' });
    assert.equal(other.sent[0].performative, 'not-understood');
    const loop = await agent.send({ performative: 'not-understood', content: {} });
    assert.deepEqual(loop.sent, [], 'a not-understood is never answered');
    assert.equal(agent.kv.get('count'), undefined);
  });
});
