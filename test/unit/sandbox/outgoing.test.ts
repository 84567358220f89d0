import { test } from 'node:test';
import assert from 'node:assert/strict';
import { outgoingSender, prepareOutgoing } from '../../../src/sandbox/outgoing.js';
import { HostError } from '../../../src/sandbox/abi.js';

const A = outgoingSender('a');

test('outgoing - a complete message passes through unchanged (no re-serialization)', () => {
  const text = '{"message_id":"m1","performative":"inform","sender":"a","receiver":"b","content":1}';
  const r = prepareOutgoing(A, text);
  assert.ok('json' in r);
  assert.equal(r.json, text);
});

test('outgoing - sender and message_id are filled in when absent', () => {
  const r = prepareOutgoing(A, '{"performative":"request","receiver":"b","content":"x"}');
  assert.ok('json' in r);
  const m = JSON.parse(r.json);
  assert.equal(m.sender, 'a');
  assert.match(m.message_id, /^[0-9a-f-]{36}$/);
});

test('outgoing - performative spellings are normalized', () => {
  const r = prepareOutgoing(A, '{"performative":"NOT_UNDERSTOOD","receiver":"b","content":"?"}');
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
    ['{"performative":"inform"}', /exactly one of receiver, capability or topic/],
    ['{"performative":"inform","receiver":"b","capability":"c"}', /exactly one of receiver, capability or topic/],
    ['{"performative":"inform","receiver":""}', /exactly one of receiver, capability or topic/],
  ];
  for (const [text, reason] of cases) {
    const r = prepareOutgoing(A, text);
    assert.ok('error' in r, text);
    assert.equal(r.error, HostError.INVALID_MESSAGE, text);
    assert.match(r.reason, reason, text);
  }
});

test('outgoing - added fields are spliced in; the result is the same message as a re-serialization', () => {
  for (const text of [
    '{"performative":"inform","receiver":"b","content":{"x":[1,2]}}',
    '  {  "performative":"inform","receiver":"b","content":1}',
    '{"performative":"inform","receiver":"b","message_id":"keep","content":1}',
    '{"performative":"inform","receiver":"b","sender":"a","content":1}',
  ]) {
    const r = prepareOutgoing(A, text);
    assert.ok('json' in r, text);
    const m = JSON.parse(r.json);
    assert.equal(m.sender, 'a');
    assert.equal(typeof m.message_id, 'string');
    assert.deepEqual(m, r.msg, 'the text and the parsed message agree');
    assert.equal(Object.keys(m).length, new Set(Object.keys(m)).size);
  }
  const kept = prepareOutgoing(A, '{"performative":"inform","receiver":"b","message_id":"keep","content":1}');
  assert.ok('json' in kept && JSON.parse(kept.json).message_id === 'keep');
  // null fields are replaced, not duplicated
  const r = prepareOutgoing(A, '{"performative":"inform","receiver":"b","sender":null,"message_id":null,"content":1}');
  assert.ok('json' in r);
  assert.equal((r.json.match(/"sender"/g) ?? []).length, 1);
  assert.equal(JSON.parse(r.json).sender, 'a');
});

test('outgoing - the message model rules apply to agent sends (content, names, reply_by, sizes)', () => {
  const cases: [string, RegExp][] = [
    ['{"performative":"inform","receiver":"b"}', /\/content: must not be empty/],
    ['{"performative":"inform","receiver":"b","content":""}', /\/content: must not be empty/],
    ['{"performative":"inform","receiver":"b","content":null}', /\/content: must not be empty/],
    ['{"performative":"inform","receiver":"no spaces","content":1}', /\/receiver: must be an agent name/],
    ['{"performative":"inform","receiver":"b","content":1,"reply_by":"2026-01-01T00:00:00"}', /\/reply_by: must be an ISO-8601 date-time with a timezone/],
    ['{"performative":"inform","receiver":"b","content":1,"priority":"urgent"}', /\/priority: must be one of low, normal, high, critical/],
  ];
  for (const [text, reason] of cases) {
    const r = prepareOutgoing(A, text);
    assert.ok('error' in r, text);
    assert.equal(r.error, HostError.INVALID_MESSAGE, text);
    assert.match(r.reason, reason, text);
  }
  const big = prepareOutgoing(A, `{"performative":"inform","receiver":"b","content":"${'x'.repeat(200)}"}`, { maxBytes: 100 });
  assert.ok('error' in big);
  assert.equal(big.error, HostError.TOO_LARGE);
  assert.match(big.reason, /over the limit of 100 bytes/);
});

test('outgoing - a message to oneself is refused unless it is a timer message', () => {
  const text = '{"performative":"inform","receiver":"a","content":"tick"}';
  const r = prepareOutgoing(A, text);
  assert.ok('error' in r);
  assert.equal(r.error, HostError.INVALID_MESSAGE);
  assert.match(r.reason, /sender equals receiver/);
  assert.ok('json' in prepareOutgoing(A, text, { timer: true }), 'timer_set prepares it as a timer message');
});

test('outgoing - a timer message goes to the agent itself: receiver set or replaced, capability and topic dropped', () => {
  const absent = prepareOutgoing(A, '{"performative":"inform","content":"tick"}', { timer: true });
  assert.ok('json' in absent);
  assert.match(absent.json, /^\{"sender":"a","message_id":"[0-9a-f-]{36}","receiver":"a","performative":"inform","content":"tick"\}$/, 'spliced in front');
  assert.deepEqual(JSON.parse(absent.json), absent.msg);
  for (const text of [
    '{"performative":"inform","receiver":"b","content":"tick"}',
    '{"performative":"inform","receiver":null,"content":"tick"}',
    '{"performative":"inform","capability":"pricing","content":"tick"}',
    '{"performative":"inform","topic":"news","content":"tick"}',
    '{"performative":"inform","receiver":"a","topic":"news","capability":"c","content":"tick"}',
  ]) {
    const r = prepareOutgoing(A, text, { timer: true });
    assert.ok('json' in r, text);
    const m = JSON.parse(r.json);
    assert.deepEqual([m.receiver, m.capability, m.topic], ['a', undefined, undefined], text);
    assert.deepEqual(m, r.msg, text);
  }
  // The checks of a send apply, once, to the text the agent wrote.
  for (const text of ['{"performative":"inform","sender":"b","sender":"a","content":1}', `{"performative":"inform","content":${'['.repeat(200)}${']'.repeat(200)}}`, '{"performative":"inform","sender":"b","content":1}']) {
    const r = prepareOutgoing(A, text, { timer: true });
    assert.ok('error' in r, text);
    assert.equal(r.error, HostError.INVALID_MESSAGE);
  }
});

test('outgoing - added fields are spliced right after the brace, past leading JSON whitespace of every kind', () => {
  const r = prepareOutgoing(A, '\t\r\n {\n\t "performative":"inform","receiver":"b","content":1}');
  assert.ok('json' in r);
  assert.match(r.json, /^\{"sender":"a","message_id":"[0-9a-f-]{36}",\n\t "performative"/);
  assert.deepEqual(JSON.parse(r.json), r.msg);
});

test('outgoing - null optional fields are dropped, and the text then agrees with the message', () => {
  const r = prepareOutgoing(A, '{"performative":"inform","receiver":"b","content":1,"in_reply_to":null,"capability":null}');
  assert.ok('json' in r);
  const m = JSON.parse(r.json);
  assert.deepEqual(m, r.msg);
  assert.ok(!('in_reply_to' in m) && !('capability' in m));
});

test('outgoing - unknown fields are kept and forwarded as they are', () => {
  const text = '{"message_id":"m1","performative":"inform","sender":"a","receiver":"b","content":1,"x-custom":{"k":[1]}}';
  const r = prepareOutgoing(A, text);
  assert.ok('json' in r);
  assert.equal(r.json, text);
});

test('outgoing - a key twice in the agent\'s text is refused: the text is forwarded as written, and a receiver may read the other sender', () => {
  for (const text of [
    '{"sender":"victim","sender":"a","performative":"inform","receiver":"b","content":1}',
    '{"performative":"inform","receiver":"b","content":1,"s\\u0065nder":"a","sender":"a"}',
    '{"performative":"inform","receiver":"b","receiver":"c","content":1}',
  ]) {
    const r = prepareOutgoing(A, text);
    assert.ok('error' in r, text);
    assert.equal(r.error, HostError.INVALID_MESSAGE);
    assert.match(r.reason, /appears more than once in the message/);
  }
  // Repeats inside content are the agents' business: forwarded as written.
  const ok = prepareOutgoing(A, '{"performative":"inform","receiver":"b","content":{"k":1,"k":2}}');
  assert.ok('json' in ok);
  assert.match(ok.json, /"content":\{"k":1,"k":2\}/);
});

test('outgoing - an agent\'s send is held to the same nesting limit as the API (128 levels)', () => {
  const deep = (levels: number) => `{"performative":"inform","receiver":"b","content":${'['.repeat(levels - 1)}0${']'.repeat(levels - 1)}}`;
  assert.ok('json' in prepareOutgoing(A, deep(128)));
  for (const levels of [129, 50_000]) {
    const r = prepareOutgoing(A, deep(levels));
    assert.ok('error' in r, `${levels} levels`);
    assert.equal(r.error, HostError.INVALID_MESSAGE);
    assert.match(r.reason, /^\/content: nests deeper than 128 levels of objects and arrays/);
  }
});
