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

test('{{name}} - proposes the configured price for a cfp, in the same conversation', async (t) => {
  await withAgent({ config: { price: 42 } }, async (agent) => {
    const r = await agent.send({
      performative: 'cfp', sender: 'manager', content: { task: 'paint the fence' },
      conversation_id: 'cnet-1', reply_with: 'cnet-1', protocol: 'fipa-contract-net',
    });
    assert.equal(r.outcome, 'ok', r.error);
    assert.equal(r.sent.length, 1);
    assert.equal(r.sent[0].performative, 'propose');
    assert.equal(r.sent[0].receiver, 'manager');
    assert.equal(r.sent[0].conversation_id, 'cnet-1');
    assert.equal(r.sent[0].protocol, 'fipa-contract-net');
    assert.deepEqual(r.sent[0].content, { price: 42 });
    cost(t, r);
  });
});

test('{{name}} - without a configured price it bids a price from 10 to 99 derived from its name', async () => {
  const prices = [];
  for (const name of ['{{name}}', '{{name}}', 'another-bidder']) {
    const agent = await loadAgent(WASM, { name });
    try {
      const r = await agent.send({ performative: 'cfp', sender: 'manager', content: { task: 't' } });
      prices.push(r.sent[0].content.price);
    } finally {
      await agent.close();
    }
  }
  for (const p of prices) assert.ok(Number.isInteger(p) && p >= 10 && p <= 99, `price ${p}`);
  assert.equal(prices[0], prices[1], 'the same name bids the same price');
});

test('{{name}} - does the task when its proposal is accepted, and counts wins', async () => {
  await withAgent({ config: { price: 42 } }, async (agent) => {
    const r = await agent.send({
      performative: 'accept-proposal', sender: 'manager', content: { task: 'paint the fence', price: 42 },
      conversation_id: 'cnet-1', protocol: 'fipa-contract-net',
    });
    assert.equal(r.outcome, 'ok', r.error);
    assert.equal(r.sent[0].performative, 'inform');
    assert.deepEqual(r.sent[0].content, { result: 'done', task: 'paint the fence' });
    assert.equal(agent.kv.get('won'), '1');
    const rejected = await agent.send({ performative: 'reject-proposal', sender: 'manager', content: { reason: 'another proposal was accepted' } });
    assert.deepEqual(rejected.sent, []);
  });
});
