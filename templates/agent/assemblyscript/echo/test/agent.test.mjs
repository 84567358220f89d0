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

test('{{name}} - answers a message with inform and the same content, in the same conversation', async (t) => {
  await withAgent({}, async (agent) => {
    const r = await agent.send({
      performative: 'request', sender: 'alice', content: { text: 'hi', n: [1, 2] },
      conversation_id: 'c-1', reply_with: 'r-1', protocol: 'fipa-request',
    });
    assert.equal(r.outcome, 'ok', r.error);
    assert.equal(r.sent.length, 1);
    const reply = r.sent[0];
    assert.equal(reply.performative, 'inform');
    assert.equal(reply.receiver, 'alice');
    assert.deepEqual(reply.content, { text: 'hi', n: [1, 2] });
    assert.equal(reply.conversation_id, 'c-1');
    assert.equal(reply.in_reply_to, 'r-1');
    assert.equal(reply.protocol, 'fipa-request');
    cost(t, r);
  });
});

test('{{name}} - answers every sender in its own conversation, whatever the performative', async () => {
  await withAgent({}, async (agent) => {
    const a = await agent.send({ performative: 'inform', sender: 'alice', content: 'one', conversation_id: 'a' });
    const b = await agent.send({ performative: 'query-ref', sender: 'bob', content: 2, conversation_id: 'b' });
    assert.deepEqual(
      [...a.sent, ...b.sent].map((m) => [m.receiver, m.conversation_id, m.content]),
      [['alice', 'a', 'one'], ['bob', 'b', 2]],
    );
    assert.equal(agent.sent.length, 2);
  });
});
