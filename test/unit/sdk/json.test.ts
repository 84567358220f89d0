/**
 * The AssemblyScript SDK's JSON parser and writer and its Message class, exercised inside real agent
 * instances (the json-probe fixture and the echo example, built by `npm run build`): escapes, UTF-8,
 * numbers, nesting, whitespace, duplicate keys, header fields, and malformed input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentWasm, fixtureWasm } from '../../helpers/agents.js';
import { InstanceAgent, type Sent } from '../../helpers/instance-agent.js';

const ERR_BAD_MESSAGE = -100;

/** The content's JSON text exactly as the agent wrote it (it comes before the conversation_id). */
function contentText(s: Sent): string {
  const at = s.json.indexOf('"content":') + '"content":'.length;
  return s.json.slice(at, s.json.lastIndexOf(',"conversation_id":'));
}

const probe = () => new InstanceAgent(fixtureWasm('json-probe'));

const STRINGS = [
  '',
  'plain ascii',
  'quote " backslash \\ slash / end',
  'controls \b \f \n \r \t and \u0000 \u0001 \u001f \u007f',
  'ünïcødé 中文 ελληνικά',
  'emoji 😀 and 𝄞 (surrogate pairs)',
  'lone \ud800 high, lone \udc00 low, reversed \udc00\ud800',
  '\u2028\u2029 separators',
  'x'.repeat(5000),
  'é'.repeat(3000),
];

test('sdk json - strings survive decoding and re-encoding: escapes, controls, UTF-8, surrogate pairs, lone surrogates', () => {
  const a = probe();
  for (const s of STRINGS) {
    const doc = { s, [s]: s, list: [s, { nested: s }] };
    const copy = a.ask('query-ref', doc);
    assert.deepEqual(copy.msg['content'], doc, `query-ref of ${JSON.stringify(s).slice(0, 60)}`);
    // Values the agent built are written exactly as JSON.stringify writes them.
    assert.equal(contentText(copy), JSON.stringify(doc));
    const fwd = a.ask('request', doc);
    assert.deepEqual(fwd.msg['content'], doc);
    assert.equal(contentText(fwd), JSON.stringify(doc), 'a forwarded value keeps its bytes');
  }
});

test('sdk json - every escape form of the input is decoded: \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX (either case, pairs)', () => {
  const a = probe();
  const text = '{"s":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u00E9\\uD83D\\ude00\\ud800x"}';
  const copy = a.ask('query-ref', text, { raw: true });
  const want = JSON.parse(text) as unknown;
  assert.deepEqual(copy.msg['content'], want);
  assert.equal(contentText(copy), JSON.stringify(want), 'decoded, then re-escaped the JSON.stringify way');
  const fwd = a.ask('request', text, { raw: true });
  assert.equal(contentText(fwd), text, 'forwarded as it came: \\/ and \\u0041 stay as written');
});

test('sdk json - numbers: integers, negatives, exponents, fractions, extremes', () => {
  const a = probe();
  const spellings = [
    '0', '-0', '1', '-1', '42', '9007199254740992', '-9007199254740992', '9007199254740994', '123456789012345678901234',
    '1e21', '1E21', '1e+21', '1.5', '-3.25', '0.1', '0.000001', '1e-7', '2.50e-3', '-0.0', '1E5', '1e300', '-1e-300',
    '5e-324', '1.7976931348623157e308', '3.141592653589793', '0.30000000000000004', '100', '1e2', '12345678901234567890',
  ];
  const text = `[${spellings.join(',')}]`;
  const want = JSON.parse(text) as number[];
  const copy = a.ask('query-ref', text, { raw: true });
  const got = copy.msg['content'] as number[];
  assert.equal(got.length, want.length);
  const printed = contentText(copy).slice(1, -1).split(',');
  for (let i = 0; i < want.length; i++) {
    assert.ok(Object.is(got[i], want[i]) || (want[i] === 0 && got[i] === 0), `${spellings[i]}: got ${got[i]}, want ${want[i]}`);
    if (Number.isInteger(want[i]) && Math.abs(want[i]!) < 1e21) {
      assert.equal(printed[i], JSON.stringify(want[i]), `${spellings[i]} is printed as JSON.stringify prints it`);
    }
  }
  const fwd = a.ask('request', text, { raw: true });
  assert.equal(contentText(fwd), text, 'forwarded numbers keep their spelling');
  // A number too large for an f64 is JSON.parse's Infinity; the writer prints a non-finite number as null.
  const huge = a.ask('query-ref', '[1e400,-1e400]', { raw: true });
  assert.deepEqual(huge.msg['content'], [null, null]);
});

test('sdk json - nested objects and arrays, whitespace anywhere, empty containers, duplicate keys', () => {
  const a = probe();
  const text = ' { "a" : [ 1 , { "b" : [ [ ] , { } , [ null , true , false ] ] } ] ,\n\t"c" : { "d" : { "e" : "f" } } ,\r\n "a" : "again" } ';
  const want = JSON.parse(text) as unknown;
  const copy = a.ask('query-ref', text, { raw: true });
  assert.deepEqual(copy.msg['content'], want, 'the last of duplicate keys wins, as in JSON.parse');
  assert.match(contentText(copy), /^\{"a":\[1,\{"b":\[\[\],\{\},\[null,true,false\]\]\}\],"c":\{"d":\{"e":"f"\}\},"a":"again"\}$/, 'rebuilt compactly, duplicates kept in order');
  const fwd = a.ask('request', text, { raw: true });
  assert.equal(contentText(fwd), text.trim(), 'forwarded with its inner whitespace');
  assert.deepEqual(fwd.msg['content'], want);
});

test('sdk json - nesting: 128 levels in all (the host\'s message limit) are accepted, 129 are refused without a trap', () => {
  const a = probe();
  // The envelope is one level, so content may nest 127 deep; the reply carries it, within the host's limit.
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  const ok = a.ask('query-ref', deep(127), { raw: true });
  assert.equal(contentText(ok), deep(127));
  const prefix = '{"performative":"request","sender":"tester","content":';
  assert.equal(a.handle(`${prefix}${deep(128)}}`), ERR_BAD_MESSAGE);
  // The 128th bracket is the 129th level.
  assert.match(a.logs.at(-1)!.text, new RegExp(`dropped invalid message: invalid JSON: nesting too deep at byte ${prefix.length + 127}$`));
  assert.equal(a.ask('request', 1).msg['content'], 1, 'still serving');
});

test('sdk json - accessors on an unbuilt object (read from its bytes) agree with the built object', () => {
  const a = probe();
  const doc = { s: 'x\u00e9\n"', n: -2500, f: 0.5, t: true, no: false, z: null, o: { k: [1] }, 'k\u00e9y': 7, dup: 1, ['"quoted"']: 'q' };
  const cases: [string, unknown][] = [
    ['s', { getString: doc.s, getNumber: -12345, getBool: false, has: true, get: doc.s }],
    ['n', { getString: null, getNumber: -2500, getBool: false, has: true, get: -2500 }],
    ['f', { getString: null, getNumber: 0.5, getBool: false, has: true, get: 0.5 }],
    ['t', { getString: null, getNumber: -12345, getBool: true, has: true, get: true }],
    ['no', { getString: null, getNumber: -12345, getBool: false, has: true, get: false }],
    ['z', { getString: null, getNumber: -12345, getBool: false, has: true, get: null }],
    ['o', { getString: null, getNumber: -12345, getBool: false, has: true, get: { k: [1] } }],
    ['k\u00e9y', { getString: null, getNumber: 7, getBool: false, has: true, get: 7 }],
    ['"quoted"', { getString: 'q', getNumber: -12345, getBool: false, has: true, get: 'q' }],
    ['missing', { getString: null, getNumber: -12345, getBool: false, has: false, get: '(absent)' }],
  ];
  for (const [key, want] of cases) {
    const r = a.ask('query-if', { key, doc }).msg['content'] as Record<string, unknown>;
    const { headers: _headers, size, ...got } = r;
    assert.deepEqual(got, want, `doc[${JSON.stringify(key)}]`);
    assert.equal(size, Object.keys(doc).length);
  }
  // The key written with an escape, and duplicates (the last one wins) in the raw bytes.
  const raw = '{"key":"dup","doc":{"d\\u0075p":1,"x":0,"dup":2}}';
  const r = a.ask('query-if', raw, { raw: true }).msg['content'] as Record<string, unknown>;
  assert.equal(r['getNumber'], 2);
  assert.equal(r['get'], 2);
  assert.equal(r['size'], 3);
});

test('sdk json - header fields: decoded on read, passed on as bytes in a reply, escaped keys, non-strings are null', () => {
  const a = probe();
  const conv = 'c-\u00e9-"q"-\\-\ud83d\ude00';
  const r = a.ask('query-if', { key: 'x', doc: {} }, { extra: { conversation_id: conv, protocol: 'fipa-\u00e9', language: 'json', ontology: 'o/1', reply_by: '2030-01-01T00:00:00Z', trace_context: { traceparent: 'ignored' } } });
  assert.equal(r.msg['conversation_id'], conv, 'the reply carries the conversation_id it got');
  assert.equal(r.msg['protocol'], 'fipa-\u00e9');
  assert.equal(r.msg['language'], 'json');
  assert.equal(r.msg['ontology'], 'o/1');
  const h = (r.msg['content'] as { headers: Record<string, unknown> }).headers;
  assert.deepEqual(h, {
    performative: 'query-if', sender: 'tester', receiver: 'probe', message_id: 'm-1', conversation_id: conv, reply_with: 'rw-1',
    in_reply_to: null, reply_by: '2030-01-01T00:00:00Z', protocol: 'fipa-\u00e9', language: 'json', ontology: 'o/1',
  });
  // Keys spelled with escapes are recognised; a non-string header reads as null.
  const text = '{"\\u0070erformative":"query-if","sender":"tester","rec\\u0065iver":"probe","reply_with":"rw-9","conversation_id":"c","protocol":5,"content":{"key":"x","doc":{}}}';
  assert.equal(a.handle(text), 0);
  const reply = a.sent.at(-1)!;
  assert.equal(reply.msg['in_reply_to'], 'rw-9');
  const h2 = (reply.msg['content'] as { headers: Record<string, unknown> }).headers;
  assert.equal(h2['receiver'], 'probe');
  assert.equal(h2['protocol'], null);
  assert.equal(reply.msg['protocol'], undefined, 'a null header is not written');
});

test('sdk json - malformed messages are dropped with a reason, never a trap; the agent keeps serving', () => {
  const a = new InstanceAgent(agentWasm('echo'), 'echo');
  const cases: [string, RegExp][] = [
    ['', /invalid JSON: unexpected end of input at byte 0/],
    ['   ', /invalid JSON: unexpected end of input at byte 3/],
    ['{', /invalid JSON: expected string key at byte 1/],
    ['{"performative":"inform"', /invalid JSON: unterminated object at byte 24/],
    ['{"performative":"inform",}', /invalid JSON: expected string key at byte 25/],
    ['{"performative" "inform"}', /invalid JSON: expected ':' at byte 16/],
    ['{"performative":"inform"} x', /invalid JSON: trailing characters at byte 26/],
    ['{"performative":"inform" "sender":"x"}', /invalid JSON: expected ',' or '}' at byte 25/],
    ['[1,2]', /message is not a JSON object/],
    ['"x"', /message is not a JSON object/],
    ['[1,', /invalid JSON: unexpected end of input at byte 3/],
    ['{}', /message has no performative/],
    ['{"performative":5}', /message has no performative/],
    ['{"performative":"inform","content":tru}', /invalid JSON: invalid literal at byte 35/],
    ['{"performative":"inform","content":nul}', /invalid JSON: invalid literal/],
    ['{"performative":"inform","content":"a\u0001"}', /invalid JSON: control character in string at byte 37/],
    ['{"performative":"inform","content":"abc', /invalid JSON: unterminated string at byte 39/],
    ['{"performative":"inform","content":"\\q"}', /invalid JSON: bad escape at byte 36/],
    ['{"performative":"inform","content":"\\u12G4"}', /invalid JSON: bad \\u escape at byte 36/],
    ['{"performative":"inform","content":"\\u12"}', /invalid JSON: bad \\u escape/],
    ['{"performative":"inform","content":"\\', /invalid JSON: unterminated escape/],
    ['{"performative":"inform","content":01}', /invalid JSON: expected ',' or '}' at byte 36/],
    ['{"performative":"inform","content":1.}', /invalid JSON: bad number at byte 37/],
    ['{"performative":"inform","content":-}', /invalid JSON: bad number at byte 36/],
    ['{"performative":"inform","content":1e}', /invalid JSON: bad number at byte 37/],
    ['{"performative":"inform","content":.5}', /invalid JSON: unexpected character at byte 35/],
    ['{"performative":"inform","content":+1}', /invalid JSON: unexpected character at byte 35/],
    ['{"performative":"inform","content":[1,]}', /invalid JSON: unexpected character at byte 38/],
    ['{"performative":"inform","content":{"a":1,}}', /invalid JSON: expected string key at byte 42/],
    ['{"performative":"inform","content":{"a" 1}}', /invalid JSON: expected ':' at byte 40/],
    ['{"performative":"inform","content":[1 2]}', /invalid JSON: expected ',' or ']' at byte 38/],
    ['{"performative":"inform","content":{1:2}}', /invalid JSON: expected string key at byte 36/],
  ];
  for (const [text, why] of cases) {
    const logs = a.logs.length;
    assert.equal(a.handle(text), ERR_BAD_MESSAGE, text);
    const line = a.logs.slice(logs).find((l) => l.level === 4);
    assert.ok(line, `no error logged for ${text}`);
    assert.match(line.text, /^caxton sdk: dropped invalid message: /);
    assert.match(line.text, why, text);
  }
  assert.equal(a.sent.length, 0, 'nothing was answered');
  a.handle(JSON.stringify({ performative: 'request', sender: 'tester', content: { still: 'here' }, reply_with: 'r' }));
  assert.deepEqual(a.sent.at(-1)?.msg['content'], { still: 'here' });
});

test('sdk json - Message.parseString, fromJSON and serialize inside the agent; parse errors name the problem', () => {
  const a = probe();
  const text = '{"performative":"cfp","receiver":"b","content":{"task":"t\\u00e9"},"conversation_id":"c1","reply_with":"r","protocol":"p","unknown":[1]}';
  const r = a.ask('propose', { text }).msg['content'] as Record<string, unknown>;
  assert.deepEqual(r['json'], JSON.parse(text));
  assert.equal(r['jsonError'], null);
  assert.equal(r['messageError'], null);
  const want = '{"performative":"cfp","receiver":"b","content":{"task":"t\\u00e9"},"conversation_id":"c1","reply_with":"r","protocol":"p"}';
  assert.equal(r['serialized'], want, 'header literals and content are written back as they came; unknown fields are dropped');
  assert.equal(r['fromJSON'], want);
  const bad = a.ask('propose', { text: '{"performative":"cfp","content":[1,2' }).msg['content'] as Record<string, unknown>;
  assert.equal(bad['json'], null);
  assert.equal(bad['jsonError'], 'unterminated array at byte 36');
  assert.equal(bad['messageError'], 'invalid JSON: unterminated array at byte 36');
  const noPerf = a.ask('propose', { text: '{"content":1}' }).msg['content'] as Record<string, unknown>;
  assert.equal(noPerf['messageError'], 'message has no performative');
});

test('sdk json - malformed UTF-8 in stored JSON is decoded to U+FFFD, never passed on as invalid UTF-8', () => {
  const a = probe();
  // {"s":"a<ff>b<c3>","t":["<ed a0 80>"]}: a stray byte, a cut-off sequence, an encoded surrogate.
  a.kv.set('doc', Uint8Array.from([...Buffer.from('{"s":"a'), 0xff, ...Buffer.from('b'), 0xc3, ...Buffer.from('","t":["'), 0xed, 0xa0, 0x80, ...Buffer.from('"]}')]));
  const r = a.ask('cfp', { key: 'doc' }).msg['content'] as Record<string, unknown>;
  const want = { s: 'a\ufffdb\ufffd', t: ['\ufffd\ufffd\ufffd'] };
  assert.deepEqual(r['value'], want, 'the parsed value, passed on');
  assert.deepEqual(r['copy'], want, 'its decoded copy');
});
