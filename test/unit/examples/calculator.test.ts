/** The calculator example agent (examples/calculator), run in the agent test harness (src/testing/). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgent, type StepResult } from '../../../src/testing/index.js';
import { agentWasm } from '../../helpers/agents.js';

const replies = (r: StepResult) => r.sent.map((m) => [m.performative, m.content]);

test('calculator - registers the capability "arithmetic" when it starts', async () => {
  const agent = await loadAgent(agentWasm('calculator'));
  assert.deepEqual(agent.capabilities, ['arithmetic']);
  await agent.close();
});

test('calculator - speaks fipa-request: agree, then inform; failure and refuse where due', async () => {
  const agent = await loadAgent(agentWasm('calculator'), { name: 'calc' });
  try {
    const mul = await agent.send({ performative: 'request', content: { op: 'mul', args: [6, 7] }, protocol: 'fipa-request', reply_with: 'rw-1', conversation_id: 'c-1' });
    assert.deepEqual(replies(mul), [
      ['agree', { op: 'mul', args: [6, 7] }],
      ['inform', { result: 42 }],
    ], 'agree comes before inform');
    assert.ok(mul.sent.every((m) => m.in_reply_to === 'rw-1' && m.conversation_id === 'c-1' && m.protocol === 'fipa-request'));
    assert.deepEqual(replies(await agent.send({ performative: 'request', content: { op: 'div', args: [1, 0] } })), [
      ['agree', { op: 'div', args: [1, 0] }],
      ['failure', { error: 'division by zero' }],
    ]);
    assert.deepEqual(replies(await agent.send({ performative: 'request', content: { op: 'pow', args: [2, 3] } })), [['refuse', { error: 'unknown op: pow' }]]);
    const bad = await agent.send({ performative: 'request', content: { op: 'add', args: 'not a list' } });
    assert.equal(bad.sent[0]?.performative, 'not-understood');
    assert.deepEqual(replies(await agent.send({ performative: 'request', content: { op: 'sub', args: [10, 4] } })).at(-1), ['inform', { result: 6 }]);
    assert.deepEqual(replies(await agent.send({ performative: 'request', content: { op: 'div', args: [1, 4] } })).at(-1), ['inform', { result: 0.25 }]);
  } finally {
    await agent.close();
  }
});

test('calculator - fipa-query: query-ref answers at once, query-if says whether an equation holds', async () => {
  const agent = await loadAgent(agentWasm('calculator'));
  try {
    assert.deepEqual(replies(await agent.send({ performative: 'query-ref', content: { op: 'add', args: [2, 3] } })), [['inform', { result: 5 }]]);
    assert.deepEqual(replies(await agent.send({ performative: 'query-if', content: { op: 'add', args: [2, 3], equals: 5 } })), [['inform', { holds: true }]]);
    assert.deepEqual(replies(await agent.send({ performative: 'query-if', content: { op: 'mul', args: [2, 3], equals: 5 } })), [['inform', { holds: false }]]);
    assert.deepEqual(replies(await agent.send({ performative: 'query-if', content: { op: 'div', args: [2, 0], equals: 5 } })), [['failure', { error: 'division by zero' }]]);
    assert.equal((await agent.send({ performative: 'query-if', content: { op: 'add', args: [2, 3] } })).sent[0]?.performative, 'not-understood');
    assert.equal((await agent.send({ performative: 'cfp', content: { op: 'add', args: [2, 3] } })).sent[0]?.performative, 'not-understood');
    assert.deepEqual((await agent.send({ performative: 'not-understood', content: { error: 'x' } })).sent, [], 'a not-understood is never answered');
  } finally {
    await agent.close();
  }
});
