import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SYSTEM_SENDER, SystemError, systemFailure } from '../../../src/messaging/system-messages.js';
import { parseMessage } from '../../../src/messaging/validate.js';

test('system failure - answers the sender in its conversation, with the reason', () => {
  const original = JSON.stringify({ message_id: 'm1', performative: 'request', sender: 'alice', receiver: 'bob', content: 1, conversation_id: 'c1', reply_with: 'r1', protocol: 'fipa-request' });
  const r = systemFailure(original, SystemError.mailboxFull, 'mailbox of bob is full');
  assert.ok(r);
  assert.equal(r.to, 'alice');
  const m = JSON.parse(r.json);
  assert.equal(m.performative, 'failure');
  assert.equal(m.sender, SYSTEM_SENDER);
  assert.equal(m.receiver, 'alice');
  assert.equal(m.in_reply_to, 'r1');
  assert.equal(m.conversation_id, 'c1');
  assert.equal(m.protocol, 'fipa-request');
  assert.deepEqual(m.content, { error: 'mailbox_full', reason: 'mailbox of bob is full', message_id: 'm1' });
  // It is a valid message by the node's own rules.
  parseMessage(r.json, { maxBytes: 100_000 });
});

test('system failure - never for failures, not-understood, system messages or junk', () => {
  const base = { performative: 'request', sender: 'alice', receiver: 'bob', content: 1 };
  assert.equal(systemFailure(JSON.stringify({ ...base, performative: 'failure' }), SystemError.noSuchAgent, 'x'), undefined);
  assert.equal(systemFailure(JSON.stringify({ ...base, performative: 'not-understood' }), SystemError.noSuchAgent, 'x'), undefined);
  assert.equal(systemFailure(JSON.stringify({ ...base, sender: SYSTEM_SENDER }), SystemError.noSuchAgent, 'x'), undefined);
  assert.equal(systemFailure(JSON.stringify({ ...base, sender: undefined }), SystemError.noSuchAgent, 'x'), undefined);
  assert.equal(systemFailure(JSON.stringify({ ...base, receiver: SYSTEM_SENDER }), SystemError.noSuchAgent, 'x'), undefined, 'no ping-pong with the node');
  assert.equal(systemFailure('not json', SystemError.noSuchAgent, 'x'), undefined);
  assert.equal(systemFailure('[1]', SystemError.noSuchAgent, 'x'), undefined);
});
