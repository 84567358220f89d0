/**
 * Property test: random JSON values, random texts and random mutations of valid messages either
 * validate — and then satisfy the model's invariants — or are refused with a CaxtonError. Nothing else
 * may escape. Deterministic (seeded PRNG), bounded in count and time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaxtonError } from '../../../src/errors.js';
import { MAX_MESSAGE_DEPTH, parseMessage, parseMessageObject, validateMessage } from '../../../src/messaging/validate.js';
import { isAgentName, NULLABLE_FIELDS, type AclMessage } from '../../../src/messaging/message-schema.js';
import { PERFORMATIVES } from '../../../src/messaging/performatives.js';
import { outgoingSender, prepareOutgoing } from '../../../src/sandbox/outgoing.js';
import { HostError } from '../../../src/sandbox/abi.js';
import { prng } from '../../helpers/prng.js';

const SELF = outgoingSender('self');

const CASES = 5000;
const TIME_BUDGET_MS = 3000;


const rnd = prng(0xcaf7e);
const int = (n: number): number => Math.floor(rnd() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;

const FIELDS = ['message_id', 'performative', 'sender', 'receiver', 'capability', 'content', 'conversation_id', 'reply_with', 'in_reply_to', 'reply_by', 'protocol', 'language', 'ontology', 'trace_context', 'priority', 'delivery', 'topic', 'x-extra', '__proto__', 'constructor'];
const STRINGS = ['', 'a', 'b', 'self', 'inform', 'NOT_UNDERSTOOD', 'QueryIf', 'shout', 'low', 'critical', 'at-least-once', '2026-01-15T10:35:00Z', '2026-01-15T10:35:00', '2016-12-31T23:59:60Z', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'two words', '-x', 'é✓𝄞', '\u0000', 'x'.repeat(130), 'y'.repeat(300)];

function randomString(): string {
  if (rnd() < 0.7) return pick(STRINGS);
  let s = '';
  const n = int(12);
  for (let i = 0; i < n; i++) s += String.fromCharCode(rnd() < 0.9 ? 32 + int(95) : int(0x3000));
  return s;
}

function randomValue(depth = 0): unknown {
  const r = int(depth > 3 ? 5 : 8);
  switch (r) {
    case 0: return null;
    case 1: return rnd() < 0.5;
    case 2: return pick([0, -1, 1.5, 1e308, -0, 42]);
    case 3:
    case 4: return randomString();
    case 5: return Array.from({ length: int(4) }, () => randomValue(depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      const n = int(5);
      for (let i = 0; i < n; i++) o[rnd() < 0.5 ? pick(FIELDS) : randomString()] = randomValue(depth + 1);
      return o;
    }
  }
}

function validMessage(): Record<string, unknown> {
  const m: Record<string, unknown> = { message_id: `m${int(1000)}`, performative: pick(PERFORMATIVES), sender: 'self', content: randomValue(2) ?? 1 };
  if (m['content'] === '') m['content'] = 1;
  if (rnd() < 0.8) m['receiver'] = 'b';
  else m['capability'] = 'cap';
  if (rnd() < 0.3) m['reply_by'] = '2026-01-15T10:35:00Z';
  if (rnd() < 0.3) m['conversation_id'] = 'c1';
  if (rnd() < 0.2) m['priority'] = pick(['low', 'normal', 'high', 'critical']);
  return m;
}

function mutate(m: Record<string, unknown>): Record<string, unknown> {
  const n = 1 + int(3);
  for (let i = 0; i < n; i++) {
    const f = pick(FIELDS);
    switch (int(5)) {
      case 0: delete m[f]; break;
      case 1: m[f] = null; break;
      case 2: m[f] = randomString(); break;
      default: m[f] = randomValue(1);
    }
  }
  return m;
}

function checkInvariants(m: AclMessage, source: string): void {
  assert.ok((PERFORMATIVES as readonly string[]).includes(m.performative), source);
  assert.ok(isAgentName(m.sender), source);
  const addresses = [m.receiver, m.capability, m.topic].filter((a) => typeof a === 'string').length;
  assert.equal(addresses, 1, `exactly one of receiver/capability/topic: ${source}`);
  if (m.receiver !== undefined) {
    assert.ok(isAgentName(m.receiver), source);
    assert.notEqual(m.receiver, m.sender, source);
  }
  assert.ok(m.content !== undefined && m.content !== null && m.content !== '', `content: ${source}`);
  assert.ok(typeof m.message_id === 'string' && m.message_id.length >= 1 && m.message_id.length <= 128, source);
  for (const f of NULLABLE_FIELDS) assert.notEqual((m as Record<string, unknown>)[f], null, `${f}: ${source}`);
  if (m.reply_by !== undefined) assert.ok(Number.isFinite(Date.parse(m.reply_by)), source);
  // idempotent: a validated message validates again, unchanged
  assert.deepEqual(parseMessage(JSON.stringify(m), { maxBytes: Infinity }), m, source);
}

function attempt(fn: () => AclMessage, source: string): 'ok' | 'refused' {
  let m: AclMessage;
  try {
    m = fn();
  } catch (e) {
    if (e instanceof CaxtonError) return 'refused';
    throw new Error(`not a CaxtonError for ${source}: ${String(e)}`, { cause: e });
  }
  checkInvariants(m, source);
  return 'ok';
}

test('fuzz - random values, texts and mutated messages validate with invariants or throw CaxtonError', () => {
  const start = performance.now();
  const tally = { ok: 0, refused: 0 };
  let i = 0;
  for (; i < CASES && performance.now() - start < TIME_BUDGET_MS; i++) {
    let value: unknown;
    const kind = i % 4;
    if (kind === 0) value = randomValue();
    else if (kind === 1) value = validMessage();
    else value = mutate(validMessage());
    let source: string;
    try {
      source = JSON.stringify(value) ?? 'undefined';
    } catch {
      continue;
    }
    if (kind === 3 && source.length > 2) {
      // text-level damage: truncation or a flipped character
      source = rnd() < 0.5 ? source.slice(0, int(source.length)) : source.slice(0, int(source.length)) + pick(['"', '}', ',', '\\', 'x']) + source.slice(int(source.length));
    }
    const opts = { maxBytes: 2048, actualSender: 'self' };
    tally[attempt(() => parseMessage(source, opts), source)]++;
    if (kind !== 3) {
      const copy: unknown = JSON.parse(JSON.stringify(value) ?? 'null');
      attempt(() => validateMessage(copy, { maxBytes: 2048 }), source);
    }
    // the host's path: never throws, text and message agree, only the two documented codes
    const r = prepareOutgoing(SELF, source);
    if ('json' in r) assert.deepEqual(JSON.parse(r.json), r.msg, source);
    else assert.ok(r.error === HostError.INVALID_MESSAGE || r.error === HostError.TOO_LARGE, source);
  }
  assert.ok(i >= 1000, `ran ${i} cases in the time budget`);
  assert.ok(tally.ok > i / 10 && tally.refused > i / 10, `both outcomes exercised: ${JSON.stringify(tally)}`);
});

/**
 * How deep a JSON text nests objects and arrays, by a character-at-a-time reading (the validator skips
 * strings with indexOf instead). The text, not the parsed value: a repeated key's dropped copy counts.
 */
function depthOf(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  let escaped = false;
  for (const ch of text) {
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === '\\') escaped = true;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{' || ch === '[') max = Math.max(max, ++depth);
    else if (ch === '}' || ch === ']') depth--;
  }
  return max;
}

/** `key` as a JSON string, some characters written as \uXXXX (either case) or / as \/. */
function spell(key: string, escape: boolean): string {
  const plain = JSON.stringify(key);
  if (!escape) return plain;
  let out = '"';
  for (const ch of plain.slice(1, -1)) {
    if (ch === '/' && rnd() < 0.5) out += '\\/';
    else if (/[A-Za-z0-9_-]/.test(ch) && rnd() < 0.3) {
      const hex = ch.charCodeAt(0).toString(16).padStart(4, '0');
      out += `\\u${rnd() < 0.5 ? hex : hex.toUpperCase()}`;
    } else out += ch;
  }
  return `${out}"`;
}

test('fuzz - repeated keys and nesting depth: refused exactly when a key repeats in the message object or it nests past the limit', () => {
  const start = performance.now();
  const tally = { repeated: 0, deep: 0, passed: 0 };
  let i = 0;
  for (; i < 3000 && performance.now() - start < TIME_BUDGET_MS; i++) {
    const m = validMessage();
    if (rnd() < 0.3) m['x/y'] = randomValue(2) ?? 1;
    // Repeats inside content are allowed; written into the text by hand, since an object cannot hold them.
    let content = JSON.stringify(m['content']);
    if (rnd() < 0.3) content = `{"sender":${content},"sender":"again"}`;
    const wrap = rnd() < 0.4 ? 100 + int(50) : 0;
    for (let w = 0; w < wrap; w++) content = rnd() < 0.5 ? `[${content}]` : `{"k":${content}}`;
    const members = Object.entries(m).filter(([k]) => k !== 'content').map(([k, v]) => [k, JSON.stringify(v)] as [string, string]);
    members.splice(int(members.length + 1), 0, ['content', content]);
    let repeated: string | undefined;
    if (rnd() < 0.4) {
      const [k, v] = pick(members);
      repeated = k;
      members.splice(int(members.length + 1), 0, [k, rnd() < 0.5 ? v : JSON.stringify(randomString())]);
    }
    const escape = rnd() < 0.5;
    const text = `{${members.map(([k, v]) => `${spell(k, escape)}:${v}`).join(',')}}`;
    const depth = depthOf(text);
    let refused: CaxtonError | undefined;
    try {
      parseMessageObject(text);
    } catch (e) {
      if (!(e instanceof CaxtonError)) throw e;
      refused = e;
    }
    if (repeated !== undefined || depth > MAX_MESSAGE_DEPTH) {
      assert.ok(refused !== undefined, `should be refused (repeated ${repeated}, depth ${depth}): ${text.slice(0, 300)}`);
      assert.match(refused.message, /appears more than once|nests deeper than 128/);
      tally[/appears/.test(refused.message) ? 'repeated' : 'deep']++;
    } else {
      assert.equal(refused, undefined, `should pass (depth ${depth}): ${refused?.message} ${text.slice(0, 300)}`);
      tally.passed++;
    }
    // The host's path agrees.
    const r = prepareOutgoing(SELF, text);
    assert.equal('error' in r && /appears more than once|nests deeper/.test(r.reason), refused !== undefined, text.slice(0, 300));
  }
  assert.ok(i >= 500, `ran ${i} cases in the time budget`);
  assert.ok(tally.repeated > 50 && tally.deep > 50 && tally.passed > 50, `every outcome exercised: ${JSON.stringify(tally)}`);
});
