/**
 * The tool-user example agent (examples/tool-user), run in the agent test harness (src/testing/): the
 * test plays the MCP server's part (the node's `mcp:<server>` receivers), so no server runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgent } from '../../../src/testing/index.js';
import { agentWasm } from '../../helpers/agents.js';

test('tool-user - asks mcp:<server> for the tool call, keeps who asked in its state, and passes the answer on', async () => {
  const agent = await loadAgent(agentWasm('tool-user'), { name: 'tu', now: Date.UTC(2030, 0, 1) });
  try {
    const ask = await agent.send({ performative: 'request', sender: 'alice', content: { server: 'everything', tool: 'echo', arguments: { message: 'hi' }, timeout_ms: 5000 }, reply_with: 'q-1', conversation_id: 'c-1' });
    assert.equal(ask.sent.length, 1);
    const call = ask.sent[0]!;
    assert.equal(call.performative, 'request');
    assert.equal(call.receiver, 'mcp:everything');
    assert.deepEqual(call.content, { tool: 'echo', arguments: { message: 'hi' } });
    assert.match(String(call.reply_with), /^tool-[0-9a-f]{16}$/);
    assert.equal(call.reply_by, '2030-01-01T00:00:05.000Z', 'timeout_ms from the test clock\'s now');
    assert.deepEqual(JSON.parse(agent.kv.get(`pending:${call.reply_with}`) ?? 'null'), { to: 'alice', reply_with: 'q-1', conversation_id: 'c-1' });

    const answer = await agent.send({ performative: 'inform', sender: 'mcp:everything', content: { tool: 'echo', content: [{ type: 'text', text: 'Echo: hi' }] }, in_reply_to: call.reply_with as string, conversation_id: call.conversation_id as string });
    assert.deepEqual(answer.sent.map((m) => [m.performative, m.receiver, m.content, m.in_reply_to, m.conversation_id]), [
      ['inform', 'alice', { server: 'everything', tool: 'echo', content: [{ type: 'text', text: 'Echo: hi' }], text: 'Echo: hi' }, 'q-1', 'c-1'],
    ]);
    assert.deepEqual(agent.kv.entries(), [], 'the pending call is forgotten once answered');
    assert.deepEqual((await agent.send({ performative: 'inform', sender: 'mcp:everything', content: { content: [] }, in_reply_to: call.reply_with as string })).sent, [], 'a second answer is not passed on');
  } finally {
    await agent.close();
  }
});

test('tool-user - a tool failure goes back as a failure with the server\'s details; a wrong request is not understood', async () => {
  const agent = await loadAgent(agentWasm('tool-user'), { config: { capability: 'tools' } });
  try {
    assert.deepEqual(agent.capabilities, ['tools'], 'the capability from its config');
    const call = (await agent.send({ performative: 'request', sender: 'bob', content: { server: 's', list: 'tools' } })).sent[0]!;
    assert.equal(call.performative, 'query-ref');
    assert.deepEqual(call.content, { list: 'tools' });
    const failed = await agent.send({ performative: 'failure', sender: 'mcp:s', content: { error: 'CAXTON_ERR_TOOL_FORBIDDEN', reason: 'not allowed' }, in_reply_to: call.reply_with as string });
    assert.deepEqual(failed.sent.map((m) => [m.performative, m.receiver, m.content]), [['failure', 'bob', { error: 'CAXTON_ERR_TOOL_FORBIDDEN', reason: 'not allowed', server: 's' }]]);
    const wrong = await agent.send({ performative: 'request', content: { tool: 'x' } });
    assert.equal(wrong.sent[0]?.performative, 'not-understood');
  } finally {
    await agent.close();
  }
});

test('tool-user - no answer by timeout_ms: the node\'s reply_timeout failure, on the test clock, goes back to the asker', async () => {
  const agent = await loadAgent(agentWasm('tool-user'));
  try {
    const call = (await agent.send({ performative: 'request', sender: 'alice', content: { server: 'slow', tool: 'wait', timeout_ms: 2000 }, reply_with: 'q-1' })).sent[0]!;
    assert.deepEqual((await agent.advance(1999)).sent, [], 'not yet');
    const timedOut = await agent.advance(1);
    assert.equal(timedOut.calls, 1, 'the node\'s failure to the agent');
    assert.deepEqual(timedOut.sent.map((m) => [m.performative, m.receiver, m.in_reply_to]), [['failure', 'alice', 'q-1']]);
    const content = timedOut.sent[0]!.content as Record<string, unknown>;
    assert.equal(content['error'], 'reply_timeout');
    assert.equal(content['message_id'], call.message_id);
    assert.deepEqual(agent.kv.entries(), [], 'the pending call is forgotten');
  } finally {
    await agent.close();
  }
});
