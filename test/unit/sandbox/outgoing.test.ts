import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepareOutgoing } from '../../../src/sandbox/outgoing.js';
import { HostError } from '../../../src/sandbox/abi.js';

test('outgoing - a complete message passes through unchanged (no re-serialization)', () => {
  const text = '{"message_id":"m1","performative":"inform","sender":"a","receiver":"b","content":1}';
  const r = prepareOutgoing('a', text);
  assert.ok('json' in r);
  assert.equal(r.json, text);
});

test('outgoing - sender and message_id are filled in when absent', () => {
  const r = prepareOutgoing('a', '{"performative":"request","receiver":"b","content":"x"}');
  assert.ok('json' in r);
  const m = JSON.parse(r.json);
  assert.equal(m.sender, 'a');
  assert.match(m.message_id, /^[0-9a-f-]{36}$/);
});

test('outgoing - performative spellings are normalized', () => {
  const r = prepareOutgoing('a', '{"performative":"NOT_UNDERSTOOD","receiver":"b","content":""}');
  assert.ok('json' in r);
  assert.equal(JSON.parse(r.json).performative, 'not-understood');
});

test('outgoing - refusals name the problem', () => {
  const cases: [string, RegExp][] = [
    ['not json', /not JSON/],
    ['[1,2]', /JSON object/],
    ['null', /JSON object/],
    ['{"performative":"shout","receiver":"b"}', /unknown performative "shout"/],
    ['{"receiver":"b"}', /unknown performative undefined/],
    ['{"performative":"inform","sender":"mallory","receiver":"b"}', /sender "mallory" is not this agent \(a\)/],
    ['{"performative":"inform"}', /exactly one of receiver or capability/],
    ['{"performative":"inform","receiver":"b","capability":"c"}', /exactly one of receiver or capability/],
    ['{"performative":"inform","receiver":""}', /exactly one of receiver or capability/],
  ];
  for (const [text, reason] of cases) {
    const r = prepareOutgoing('a', text);
    assert.ok('error' in r, text);
    assert.equal(r.error, HostError.INVALID_MESSAGE, text);
    assert.match(r.reason, reason, text);
  }
});

test('outgoing - added fields are spliced in; the result is the same message as a re-serialization', () => {
  for (const text of [
    '{"performative":"inform","receiver":"b","content":{"x":[1,2]}}',
    '  {  "performative":"inform","receiver":"b"}',
    '{"performative":"inform","receiver":"b","message_id":"keep"}',
    '{"performative":"inform","receiver":"b","sender":"a"}',
  ]) {
    const r = prepareOutgoing('a', text);
    assert.ok('json' in r, text);
    const m = JSON.parse(r.json);
    assert.equal(m.sender, 'a');
    assert.equal(typeof m.message_id, 'string');
    assert.deepEqual(m, r.msg, 'the text and the parsed message agree');
    assert.equal(Object.keys(m).length, new Set(Object.keys(m)).size);
  }
  const kept = prepareOutgoing('a', '{"performative":"inform","receiver":"b","message_id":"keep"}');
  assert.ok('json' in kept && JSON.parse(kept.json).message_id === 'keep');
  // null fields are replaced, not duplicated
  const r = prepareOutgoing('a', '{"performative":"inform","receiver":"b","sender":null,"message_id":null}');
  assert.ok('json' in r);
  assert.equal((r.json.match(/"sender"/g) ?? []).length, 1);
  assert.equal(JSON.parse(r.json).sender, 'a');
});
