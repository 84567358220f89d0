/** The echo example agent (examples/echo), run in the agent test harness (src/testing/). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgent } from '../../../src/testing/index.js';
import { agentWasm } from '../../helpers/agents.js';
import { outsideTool } from '../../helpers/outside-tools.js';

// The C example agent exists only where clang and wasm-ld built it (scripts/build-agents.mjs).
const cBuild = outsideTool('clang').skip || outsideTool('wasm-ld').skip;

test('echo - answers inform with the same content, in the same conversation, to the sender', async () => {
  const agent = await loadAgent(agentWasm('echo'), { name: 'echo-1' });
  try {
    const content = { hello: ['world', 1, true, null], 'ünï': 'cødé "q"' };
    const r = await agent.send({ performative: 'request', sender: 'alice', content, conversation_id: 'c-1', reply_with: 'rw-1', protocol: 'fipa-request' });
    assert.equal(r.outcome, 'ok');
    assert.equal(r.sent.length, 1);
    const reply = r.sent[0]!;
    assert.equal(reply.performative, 'inform');
    assert.equal(reply.sender, 'echo-1');
    assert.equal(reply.receiver, 'alice');
    assert.equal(reply.conversation_id, 'c-1');
    assert.equal(reply.in_reply_to, 'rw-1');
    assert.equal(reply.protocol, 'fipa-request');
    assert.deepEqual(reply.content, content);
    assert.deepEqual(r.logs, []);
    assert.deepEqual(agent.kv.entries(), [], 'echo keeps no state');
  } finally {
    await agent.close();
  }
});

test('echo - every performative is echoed, and a handler stays cheap', async () => {
  const agent = await loadAgent(agentWasm('echo'));
  try {
    for (const performative of ['inform', 'query-ref', 'cfp', 'propose']) {
      const r = await agent.send({ performative, content: { p: performative } });
      assert.deepEqual(r.sent.map((m) => [m.performative, m.content]), [['inform', { p: performative }]], performative);
      // A budget an author can keep: far below the node's 10 M per call (the measured cost is ~25 k).
      assert.ok(r.fuel < 200_000, `echo used ${r.fuel} fuel for ${performative}`);
    }
  } finally {
    await agent.close();
  }
});

test('c-echo - the echo in C answers the same way: same ABI, same harness', { skip: cBuild }, async () => {
  const agent = await loadAgent(agentWasm('c-echo'), { name: 'c-echo' });
  try {
    const content = { n: 42, s: 'ünïcødé "quoted"' };
    const r = await agent.send({ performative: 'request', content, reply_with: 'rw-1', conversation_id: 'c-1' });
    assert.equal(r.outcome, 'ok');
    assert.deepEqual(r.sent.map((m) => [m.performative, m.sender, m.receiver, m.content, m.in_reply_to, m.conversation_id]), [['inform', 'c-echo', 'tester', content, 'rw-1', 'c-1']]);
  } finally {
    await agent.close();
  }
});
