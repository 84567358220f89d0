/**
 * Property test of the AssemblyScript SDK's JSON parser and writer: random documents (seeded, bounded
 * in count) go through the json-probe agent and must come back equal after JSON.parse on the host,
 * both passed on unchanged (bytes copied) and decoded and rebuilt value by value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixtureWasm } from '../../helpers/agents.js';
import { InstanceAgent, type Sent } from '../../helpers/instance-agent.js';
import { prng } from '../../helpers/prng.js';

const SEED = 0x5d4a;
const DOCUMENTS = 150;

/** The content's JSON text exactly as the agent wrote it (it comes before the conversation_id). */
function contentText(s: Sent): string {
  const at = s.json.indexOf('"content":') + '"content":'.length;
  return s.json.slice(at, s.json.lastIndexOf(',"conversation_id":'));
}

// Characters that stress the escaper and the UTF-8 code: quotes, backslashes, slashes, every kind of
// control character, DEL, 2-, 3- and 4-byte UTF-8, lone surrogates of both kinds, U+2028, U+FFFF.
const CHARS = [
  ...'abcXYZ09 -_:.,{}[]', '"', '\\', '/', '\b', '\f', '\n', '\r', '\t', '\u0000', '\u0001', '\u001f', '\u007f',
  'é', 'ß', 'ü', 'Ω', '中', '文', '€', '\u2028', '\uffff', '😀', '𝄞', '\ud800', '\udfff',
];

function generator(seed: number) {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const str = (max: number, long = true): string => {
    const n = long && rnd() < 0.05 ? 100 + int(200) : int(max);
    let s = '';
    for (let i = 0; i < n; i++) s += rnd() < 0.6 ? String.fromCharCode(0x61 + int(26)) : pick(CHARS);
    return s;
  };
  const num = (): number => {
    switch (int(6)) {
      case 0: return int(1000) - 500;
      case 1: return (rnd() < 0.5 ? -1 : 1) * int(2 ** 53);
      case 2: return (rnd() - 0.5) * 10 ** (int(60) - 30);
      case 3: return pick([0, -0, 1e21, 1e-7, 5e-324, Number.MAX_VALUE, 0.1, 2 ** 53 + 2, 123456.789]);
      case 4: return Math.round((rnd() - 0.5) * 1e6) / 100;
      default: return rnd();
    }
  };
  const value = (depth: number): unknown => {
    const k = int(depth > 4 ? 4 : 7);
    if (k === 0) return null;
    if (k === 1) return rnd() < 0.5;
    if (k === 2) return num();
    if (k === 3) return str(12);
    if (k === 4 || k === 5) {
      const o: Record<string, unknown> = {};
      for (let i = int(6); i > 0; i--) o[str(8)] = value(depth + 1);
      return o;
    }
    return Array.from({ length: int(6) }, () => value(depth + 1));
  };
  return { value, str };
}

function onlySafeIntegers(v: unknown): boolean {
  if (typeof v === 'number') return Number.isSafeInteger(v);
  if (Array.isArray(v)) return v.every(onlySafeIntegers);
  if (v !== null && typeof v === 'object') return Object.values(v).every(onlySafeIntegers);
  return true;
}

test('sdk json - random documents round-trip through the parser and the writer inside an agent (seeded)', () => {
  const a = new InstanceAgent(fixtureWasm('json-probe'));
  const gen = generator(SEED);
  let floats = 0;
  for (let i = 0; i < DOCUMENTS; i++) {
    // Wrapped, so that the content is never null or "" (which a message may not carry).
    const content = { doc: gen.value(0) };
    const compact = JSON.stringify(content);
    const want = JSON.parse(compact) as unknown;
    const conversation = gen.str(30, false) || 'c'; // a conversation_id has at most 256 characters
    const where = `document ${i}: ${compact.slice(0, 200)}`;
    for (const text of [compact, JSON.stringify(content, null, i % 3)]) {
      const fwd = a.ask('request', text, { raw: true, extra: { conversation_id: conversation } });
      assert.deepEqual(fwd.msg['content'], want, `forwarded, ${where}`);
      assert.equal(contentText(fwd), text, `forwarded bytes, ${where}`);
      assert.equal(fwd.msg['conversation_id'], conversation, `conversation_id, ${where}`);
      const copy = a.ask('query-ref', text, { raw: true, extra: { conversation_id: conversation } });
      assert.deepEqual(copy.msg['content'], want, `decoded and rebuilt, ${where}`);
      // Built values are written as JSON.stringify writes them, except that a number other than a
      // safe integer may be spelled differently (both spellings read back as the same double).
      if (onlySafeIntegers(want)) {
        assert.equal(contentText(copy), compact, `rebuilt bytes, ${where}`);
      } else {
        floats++;
      }
    }
  }
  assert.ok(floats > 0 && floats < 2 * DOCUMENTS, 'the generator made documents with and without other numbers');
});
