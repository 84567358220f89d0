import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaxtonError, type ErrorCode } from '../../../src/errors.js';
import { excessNesting, MAX_MESSAGE_DEPTH, parseMessage, validateMessage, type ValidateOptions } from '../../../src/messaging/validate.js';
import { priorityOf, deliveryOf, replyByMs, type AclMessage } from '../../../src/messaging/message-schema.js';

const OPTS: ValidateOptions = { maxBytes: 100 * 1024 };
const BASE = { message_id: 'm1', performative: 'request', sender: 'client-1', receiver: 'calculator', content: { op: 'add', args: [2, 3] } };

function text(over: Record<string, unknown> = {}, drop: string[] = []): string {
  const m: Record<string, unknown> = { ...BASE, ...over };
  for (const k of drop) delete m[k];
  return JSON.stringify(m);
}

/** Asserts that `fn` throws a CaxtonError with this code, this details.field and a message matching `phrase`. */
function rejects(fn: () => unknown, code: ErrorCode, field: string, phrase: RegExp): CaxtonError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CaxtonError, `a CaxtonError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.details?.['field'], field, e.message);
    assert.match(e.message, phrase);
    assert.ok(!/instancePath|keyword|schemaPath/.test(e.message), `no raw ajv output: ${e.message}`);
    return e;
  }
  assert.fail('expected a rejection');
}

// ---- rejections: one per rule ----------------------------------------------------------------------

test('validate - sender equal to receiver is refused', () => {
  rejects(() => parseMessage(text({ receiver: 'client-1' }), OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '/receiver', /must differ from sender: sender equals receiver \("client-1"\)/);
});

test('validate - self-addressed messages pass when allowed (timers)', () => {
  assert.equal(parseMessage(text({ receiver: 'client-1' }), { ...OPTS, allowSelfAddressed: true }).receiver, 'client-1');
});

test('validate - missing content is refused', () => {
  rejects(() => parseMessage(text({}, ['content']), OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '/content', /must not be empty/);
});

test('validate - null content is refused', () => {
  rejects(() => parseMessage(text({ content: null }), OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '/content', /may not be null or ""/);
});

test('validate - empty-string content is refused', () => {
  rejects(() => parseMessage(text({ content: '' }), OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '/content', /must not be empty/);
});

test('validate - {} , [], 0, false and " " are content (not empty)', () => {
  for (const content of [{}, [], 0, false, ' ']) assert.deepEqual(parseMessage(text({ content }), OPTS).content, content);
});

test('validate - a message over maxBytes is refused before parsing, measured in UTF-8 bytes', () => {
  const e = rejects(() => parseMessage(text({ content: 'x'.repeat(200) }), { maxBytes: 100 }), 'CAXTON_ERR_MESSAGE_TOO_LARGE', '', /message is \d+ bytes, over the limit of 100 bytes/);
  assert.equal(e.status, 413);
  assert.equal(e.details?.['limit'], 100);
  // 'é' is 2 bytes: the text is short in characters but over the limit in bytes
  const t = text({ content: 'é'.repeat(60) });
  const bytes = Buffer.byteLength(t);
  assert.ok(t.length <= bytes - 60);
  rejects(() => parseMessage(t, { maxBytes: bytes - 1 }), 'CAXTON_ERR_MESSAGE_TOO_LARGE', '', new RegExp(`message is ${bytes} bytes`));
  assert.ok(parseMessage(t, { maxBytes: bytes }), 'exactly the limit passes');
  // not even JSON: size comes first
  rejects(() => parseMessage('x'.repeat(101), { maxBytes: 100 }), 'CAXTON_ERR_MESSAGE_TOO_LARGE', '', /over the limit/);
});

test('validate - validateMessage measures an object by its JSON size', () => {
  rejects(() => validateMessage({ ...BASE, content: 'x'.repeat(200) }, { maxBytes: 100 }), 'CAXTON_ERR_MESSAGE_TOO_LARGE', '', /over the limit of 100 bytes/);
  assert.ok(validateMessage({ ...BASE, content: 'x'.repeat(200) }, { maxBytes: Infinity }));
});

test('validate - an unknown performative is refused and the valid ones are listed', () => {
  rejects(() => parseMessage(text({ performative: 'shout' }), OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '/performative', /unknown performative "shout"; must be one of request, inform, .*subscribe/);
  rejects(() => parseMessage(text({ performative: 42 }), OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '/performative', /unknown performative 42/);
  rejects(() => parseMessage(text({}, ['performative']), OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '/performative', /the field is required/);
});

test('validate - malformed JSON is refused with the parser error and position', () => {
  const e = rejects(() => parseMessage('{"performative":"inform",}', OPTS), 'CAXTON_ERR_MESSAGE_MALFORMED', '', /message is not JSON: .*position 25/);
  assert.equal(e.details?.['position'], 25);
  assert.equal(e.status, 400);
  rejects(() => parseMessage('{"a":', OPTS), 'CAXTON_ERR_MESSAGE_MALFORMED', '', /Unexpected end of JSON input/);
  rejects(() => parseMessage('not json', OPTS), 'CAXTON_ERR_MESSAGE_MALFORMED', '', /message is not JSON/);
  rejects(() => parseMessage('', OPTS), 'CAXTON_ERR_MESSAGE_MALFORMED', '', /message is not JSON/);
});

test('validate - a sender other than the actual sender is refused as spoofed', () => {
  const e = rejects(() => parseMessage(text({ sender: 'boss' }), { ...OPTS, actualSender: 'client-1' }), 'CAXTON_ERR_MESSAGE_SPOOFED', '/sender', /sender "boss" is not this agent \(client-1\)/);
  assert.equal(e.status, 403);
  assert.ok(parseMessage(text(), { ...OPTS, actualSender: 'client-1' }));
});

test('validate - neither receiver nor capability is refused (with a did-you-mean)', () => {
  rejects(() => parseMessage(text({}, ['receiver']), OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '/receiver', /exactly one of receiver, capability or topic; it has none$/);
  rejects(() => parseMessage(text({ reciever: 'x' }, ['receiver']), OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '/receiver', /did you mean receiver instead of "reciever"\?/);
  rejects(() => parseMessage(text({ receiver: '' }), OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '/receiver', /exactly one of receiver, capability or topic/);
});

test('validate - both receiver and capability is refused', () => {
  rejects(() => parseMessage(text({ capability: 'math' }), OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '/capability', /exactly one of receiver, capability or topic; it has more than one/);
});

test('validate - reply_by must be an ISO-8601 date-time with a timezone', () => {
  for (const bad of ['2026-01-15T10:35:00', '2026-01-15', 'tomorrow', '2026-02-30T10:00:00Z', '2016-12-31T23:59:60Z', '2026-01-15T10:35:00+05', 12]) {
    rejects(() => parseMessage(text({ reply_by: bad }), OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '/reply_by', typeof bad === 'number' ? /must be a string/ : /must be an ISO-8601 date-time with a timezone/);
  }
  for (const good of ['2026-01-15T10:35:00Z', '2026-01-15T10:35:00.123+01:00', '2026-01-15T10:35:00-0800']) {
    const m = parseMessage(text({ reply_by: good }), OPTS);
    assert.ok(Number.isFinite(replyByMs(m)), good);
  }
});

test('validate - non-object JSON is refused', () => {
  for (const [t, what] of [['[1,2]', 'an array'], ['"hi"', 'a string'], ['42', 'a number'], ['null', 'null'], ['true', 'a boolean']] as const) {
    rejects(() => parseMessage(t, OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '', new RegExp(`message must be a JSON object, got ${what}`));
  }
  rejects(() => validateMessage(undefined, OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '', /must be a JSON object/);
});

test('validate - names, types, lengths and enums name the field and the rule', () => {
  const cases: [Record<string, unknown>, string[], string, RegExp][] = [
    [{}, ['message_id'], '/message_id', /is required but missing/],
    [{}, ['sender'], '/sender', /is required but missing/],
    [{ message_id: 7 }, [], '/message_id', /must be a string, got a number/],
    [{ message_id: '' }, [], '/message_id', /at least 1 character/],
    [{ message_id: 'x'.repeat(129) }, [], '/message_id', /at most 128 characters/],
    [{ sender: '-flag' }, [], '/sender', /must be an agent name \(1 to 255 characters/],
    [{ sender: 'a'.repeat(256) }, [], '/sender', /must be an agent name/],
    [{ receiver: 'two words' }, [], '/receiver', /must be an agent name or id/],
    [{ receiver: 5 }, [], '/receiver', /must be an agent name or id/],
    [{ capability: 'x'.repeat(129) }, ['receiver'], '/capability', /at most 128 characters/],
    [{ conversation_id: 'c'.repeat(257) }, [], '/conversation_id', /at most 256 characters/],
    [{ protocol: '' }, [], '/protocol', /at least 1 character/],
    [{ language: 'l'.repeat(65) }, [], '/language', /at most 64 characters/],
    [{ ontology: ['x'] }, [], '/ontology', /must be a string, got an array/],
    [{ priority: 'urgent' }, [], '/priority', /must be one of low, normal, high, critical, got "urgent"/],
    [{ delivery: 'exactly-once' }, [], '/delivery', /must be one of at-most-once, at-least-once/],
    [{ trace_context: 'x' }, [], '/trace_context', /must be an object/],
    [{ trace_context: { traceparent: '00-abc' } }, [], '/trace_context/traceparent', /W3C traceparent/],
    [{ topic: '' }, [], '/topic', /at least 1 character/],
  ];
  for (const [over, drop, field, phrase] of cases) {
    rejects(() => parseMessage(text(over, drop), OPTS), 'CAXTON_ERR_MESSAGE_INVALID', field, phrase);
  }
});

// ---- acceptance, normalization, round trips ---------------------------------------------------------

test('validate - a full message round-trips unchanged; defaults are read, not inserted', () => {
  const full = {
    ...BASE,
    conversation_id: 'c-42',
    reply_with: 'r-1',
    in_reply_to: 'r-0',
    reply_by: '2026-11-27T12:00:00Z',
    protocol: 'fipa-request',
    language: 'json',
    ontology: 'arithmetic',
    trace_context: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'congo=t61rcWkgMzE' },
    priority: 'high',
    delivery: 'at-least-once',
  };
  const m = parseMessage(JSON.stringify(full), OPTS);
  assert.deepEqual(m, full);
  assert.deepEqual(parseMessage(JSON.stringify(m), OPTS), m);
  assert.equal(priorityOf(m), 'high');
  const plain = parseMessage(text(), OPTS);
  assert.ok(!('priority' in plain) && !('delivery' in plain));
  assert.equal(priorityOf(plain), 'normal');
  assert.equal(deliveryOf(plain), 'at-most-once');
});

test('validate - capability instead of receiver; agent ids as receiver', () => {
  const m: AclMessage = parseMessage(text({ capability: 'math' }, ['receiver']), OPTS);
  assert.equal(m.capability, 'math');
  assert.equal(parseMessage(text({ receiver: '0f6c2a4e-1f7e-4c0e-9a51-0c3f0d1e2b3a' }), OPTS).receiver, '0f6c2a4e-1f7e-4c0e-9a51-0c3f0d1e2b3a');
  assert.equal(parseMessage(text({ receiver: 'billing.eu@node-2' }), OPTS).receiver, 'billing.eu@node-2');
});

test('validate - performative variants are normalized to the canonical form', () => {
  for (const v of ['not_understood', 'NOT-UNDERSTOOD', 'NotUnderstood', 'NOT_UNDERSTOOD', 'not-understood']) {
    assert.equal(parseMessage(text({ performative: v }), OPTS).performative, 'not-understood', v);
  }
  assert.equal(parseMessage(text({ performative: 'QueryIf' }), OPTS).performative, 'query-if');
  assert.equal(validateMessage({ ...BASE, performative: 'ACCEPT_PROPOSAL' }, OPTS).performative, 'accept-proposal');
});

test('validate - null optional fields mean absent and are removed', () => {
  const m = parseMessage(text({ in_reply_to: null, reply_by: null, capability: null, trace_context: null }), OPTS);
  for (const k of ['in_reply_to', 'reply_by', 'capability', 'trace_context']) assert.ok(!(k in m), k);
});

test('validate - unknown fields are accepted and kept (ABI: ignore what you do not know)', () => {
  const m = parseMessage(text({ created_at: 123, 'x-vendor': { a: [1] } }), OPTS);
  assert.deepEqual((m as Record<string, unknown>)['x-vendor'], { a: [1] });
  const e = parseMessage(text({ trace_context: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', baggage: 'k=v' } }), OPTS);
  assert.ok(e.trace_context);
});

test('validate - complete fills sender and message_id; an explicit wrong sender is still spoofed', () => {
  const m = parseMessage('{"performative":"inform","receiver":"b","content":1}', { ...OPTS, actualSender: 'api-user', complete: true });
  assert.equal(m.sender, 'api-user');
  assert.match(m.message_id, /^[0-9a-f-]{36}$/);
  rejects(() => parseMessage('{"performative":"inform","sender":"x","receiver":"b","content":1}', { ...OPTS, actualSender: 'api-user', complete: true }), 'CAXTON_ERR_MESSAGE_SPOOFED', '/sender', /is not this agent/);
});

test('validate - the check order: performative before sender before receiver before content', () => {
  const t = '{"performative":"shout","sender":"x","content":""}';
  rejects(() => parseMessage(t, { ...OPTS, actualSender: 'a' }), 'CAXTON_ERR_MESSAGE_INVALID', '/performative', /unknown performative/);
  rejects(() => parseMessage('{"performative":"inform","sender":"x","content":""}', { ...OPTS, actualSender: 'a' }), 'CAXTON_ERR_MESSAGE_SPOOFED', '/sender', /not this agent/);
  rejects(() => parseMessage('{"performative":"inform","sender":"a","content":""}', { ...OPTS, actualSender: 'a' }), 'CAXTON_ERR_MESSAGE_INVALID', '/receiver', /exactly one/);
  rejects(() => parseMessage('{"performative":"inform","sender":"a","receiver":"b","content":""}', { ...OPTS, actualSender: 'a' }), 'CAXTON_ERR_MESSAGE_INVALID', '/content', /must not be empty/);
});

test('validate - error values are shortened, never echoed whole', () => {
  const e = rejects(() => parseMessage(text({ priority: 'p'.repeat(5000) }), OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '/priority', /must be one of/);
  assert.ok(e.message.length < 300, e.message);
});

test('validate - a topic is an address of its own: publish with topic, not with receiver or capability', () => {
  const m = parseMessage(text({ topic: 'prices' }, ['receiver']), OPTS);
  assert.equal(m.topic, 'prices');
  rejects(() => parseMessage(text({ topic: 'prices' }), OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '/topic', /exactly one of receiver, capability or topic; it has more than one/);
});

// ---- what only the text shows ------------------------------------------------------------------------

/** A message whose content nests so that the whole message is `depth` levels deep (the message object is 1). */
function nested(depth: number): string {
  return `{"message_id":"m1","performative":"inform","sender":"client-1","receiver":"calculator","content":${'['.repeat(depth - 1)}1${']'.repeat(depth - 1)}}`;
}

test('validate - a message may nest 128 levels of objects and arrays; deeper is refused with the field and the limit', () => {
  assert.equal(MAX_MESSAGE_DEPTH, 128);
  assert.ok(parseMessage(nested(128), OPTS));
  for (const depth of [129, 5_000, 50_000]) {
    const e = rejects(() => parseMessage(nested(depth), { maxBytes: Infinity }), 'CAXTON_ERR_MESSAGE_INVALID', '/content', /^\/content: nests deeper than 128 levels of objects and arrays, the most a message may have \(the message object is level 1\)$/);
    assert.equal(e.details?.['limit'], 128);
  }
  // Objects count like arrays, and brackets inside strings do not count.
  const objects = `{"message_id":"m1","performative":"inform","sender":"a","receiver":"b","content":${'{"k":'.repeat(128)}1${'}'.repeat(128)}}`;
  rejects(() => parseMessage(objects, { maxBytes: Infinity }), 'CAXTON_ERR_MESSAGE_INVALID', '/content', /nests deeper than 128/);
  assert.ok(parseMessage(`{"message_id":"m1","performative":"inform","sender":"a","receiver":"b","content":"${'['.repeat(500)}"}`, OPTS));
  // validateMessage with a finite maxBytes (a caller without the text) measures the value's serialization
  // and checks that text's nesting.
  rejects(() => validateMessage(JSON.parse(nested(129)) as unknown, OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '/content', /^\/content: nests deeper than 128 levels/);
  for (const depth of [5_000, 50_000]) {
    // Where JSON.stringify runs out of stack depends on the stack left; either way the depth is named.
    assert.throws(() => validateMessage(JSON.parse(nested(depth)) as unknown, OPTS), (e: unknown) => e instanceof CaxtonError && e.code === 'CAXTON_ERR_MESSAGE_INVALID' && /nests deeper than 128 levels/.test(e.message));
  }
});

test('validate - excessNesting: the same token pass for any JSON text, naming the top-level key the excess is under', () => {
  assert.equal(excessNesting('{"a":[[1]],"b":{}}', 3), undefined);
  assert.equal(excessNesting('{"a":[[1]],"b":{}}', 2), 'a');
  assert.equal(excessNesting('{"a":1,"b\\u0065":{"c":[[]]}}', 3), 'be', 'a key with escapes is decoded');
  assert.equal(excessNesting('[[[0]]]', 2), '', 'not under a key');
  assert.equal(excessNesting('{"a":"[[[[[[","b":[1]}', 2), undefined, 'brackets in strings do not count');
  assert.equal(excessNesting('"x"', 0), undefined);
  assert.equal(excessNesting(`{"a":${'['.repeat(50_000)}${']'.repeat(50_000)}}`, MAX_MESSAGE_DEPTH), 'a');
});

test('validate - a key twice in the message object is refused, however it is spelt', () => {
  const dup = rejects(() => parseMessage('{"message_id":"m1","performative":"inform","sender":"mallory","sender":"client-1","receiver":"calculator","content":1}', OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '/sender', /^\/sender: the key "sender" appears more than once in the message; each key may appear once/);
  assert.equal(dup.status, 400);
  rejects(() => parseMessage('{"performative":"inform","sender":"client-1","receiver":"calculator","s\\u0065nder":"mallory","content":1}', OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '/sender', /the key "sender" appears more than once/);
  rejects(() => parseMessage('{"performative":"inform","sender":"client-1","receiver":"calculator","content":1,"x\\/y":1,"x/y":2}', OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '/x~1y', /the key "x\/y" appears more than once/);
  rejects(() => parseMessage('{"performative":"inform","sender":"client-1","receiver":"calculator","content":1,"a\\nb":1,"a\\nb":2}', OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '/a\nb', /appears more than once/);
  // Checked before the field rules: the key twice is the problem reported, not what the last copy holds.
  rejects(() => parseMessage('{"performative":"inform","performative":"shout","sender":"client-1","receiver":"calculator","content":1}', OPTS), 'CAXTON_ERR_MESSAGE_INVALID', '/performative', /appears more than once/);
  // Not repeats: the same key in content or in another object, a value spelt like a key.
  const ok = parseMessage('{"message_id":"m1","performative":"inform","sender":"client-1","receiver":"calculator","content":{"sender":"x","sender":"y","receiver":["receiver"]},"trace_context":{}}', OPTS);
  assert.deepEqual(ok.content, { sender: 'y', receiver: ['receiver'] });
  assert.ok(parseMessage('{"message_id":"m1","performative":"inform","sender":"client-1","receiver":"calculator","content":"say \\"sender\\":\\\\"}', OPTS));
});
