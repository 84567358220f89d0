/**
 * Message validation: the one place that decides whether a FIPA-ACL message is acceptable. Used on
 * the hot path (every message an agent sends, every message the API accepts), so the common case — a
 * valid message with a canonical performative — costs one JSON.parse, one allocation-free pass over
 * the text's tokens (nesting depth, repeated keys: checkMessageText) and one compiled ajv check.
 * Everything else (variants, nulls, errors) takes a slower path that diagnoses the first problem in a
 * fixed order and reports it as a CaxtonError naming the field (JSON pointer) and the rule.
 *
 * Order of checks (the first failing one is reported):
 *   size → JSON → object → nesting depth and repeated keys (of the text) → performative → sender
 *   (present, name rule, = actual sender) →
 *   exactly one of receiver/capability/topic → receiver name rule, ≠ sender → content not empty →
 *   every other schema rule (types, lengths, enums, reply_by date-time, trace_context).
 */
import { randomUUID } from 'node:crypto';
import { Ajv, type ErrorObject } from 'ajv';
import ajvFormats from 'ajv-formats';
import { CaxtonError, type ErrorCode } from '../errors.js';
import { normalizePerformative, PERFORMATIVES } from './performatives.js';
import {
  AclMessageSchema,
  AGENT_NAME_RULE,
  DELIVERY_MODES,
  isAgentName,
  NULLABLE_FIELDS,
  PRIORITIES,
  type AclMessage,
} from './message-schema.js';

export interface ValidateOptions {
  /** Largest accepted message, in UTF-8 bytes of its JSON text. `Infinity` when the caller already checked. */
  readonly maxBytes: number;
  /** Who really sends the message (the agent itself, the authenticated client). `sender` must equal it. */
  readonly actualSender?: string;
  /** Fill an absent or null `sender` with `actualSender` and an absent or null `message_id` with a UUID v4. */
  readonly complete?: boolean;
  /** Accept `receiver` equal to `sender` (timer messages an agent sets for itself). Default false. */
  readonly allowSelfAddressed?: boolean;
}

// ---- the compiled schema (once per process) ----------------------------------------------------------

// `unicode: false`: minLength/maxLength count UTF-16 code units (String#length) instead of code points.
// Counting code points (ajv's default) made up 3/4 of the schema check; for these limits the only
// difference is that a character outside the BMP (an emoji) counts as 2, i.e. slightly stricter.
// The option is deprecated in ajv 8 (not removed; ajv is pinned) — its one-time notice is filtered.
const ajv = new Ajv({
  strict: true,
  strictTypes: false,
  strictRequired: false,
  allErrors: false,
  messages: false,
  unicode: false,
  unicodeRegExp: false, // our patterns are ASCII
  code: { optimize: true },
  logger: {
    log: (...args: unknown[]) => console.log(...args),
    warn: (...args: unknown[]) => {
      if (!String(args[0]).startsWith('DEPRECATED: option unicode')) console.warn(...args);
    },
    error: (...args: unknown[]) => console.error(...args),
  },
});
// ajv-formats is CommonJS: the default import is the plugin itself, or a namespace holding it.
const addFormats = ((ajvFormats as unknown as { default?: unknown }).default ?? ajvFormats) as unknown as (a: Ajv, f: string[]) => Ajv;
addFormats(ajv, ['date-time']);
const schemaCheck = ajv.compile<AclMessage>(AclMessageSchema);

// ---- errors -------------------------------------------------------------------------------------------

function fail(code: ErrorCode, field: string, text: string, extra?: Record<string, unknown>): never {
  throw new CaxtonError(code, field === '' ? text : `${field}: ${text}`, extra === undefined ? { field } : { field, ...extra });
}

/** A short rendering of a value for an error message (never the whole of a large value). */
function show(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return v.length > 64 ? `${JSON.stringify(v.slice(0, 64))}…` : JSON.stringify(v);
  if (Array.isArray(v)) return 'an array';
  if (v !== null && typeof v === 'object') return 'an object';
  return String(v);
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

const PERFORMATIVE_LIST = PERFORMATIVES.join(', ');

/** Turns the first ajv error into one sentence naming the field and the rule. */
function fromAjv(e: ErrorObject | undefined, msg: Record<string, unknown>): never {
  if (e === undefined) fail('CAXTON_ERR_MESSAGE_INVALID', '', 'message does not match the message schema');
  const p = e.params as Record<string, unknown>;
  let field = e.instancePath;
  const value = valueAt(msg, field);
  switch (e.keyword) {
    case 'required':
      field = `${field}/${String(p['missingProperty'])}`;
      return fail('CAXTON_ERR_MESSAGE_INVALID', field, 'is required but missing');
    case 'type':
      return fail('CAXTON_ERR_MESSAGE_INVALID', field, `must be ${p['type'] === 'object' ? 'an object' : `a ${String(p['type'])}`}, got ${kind(value)}`);
    case 'minLength':
      return fail('CAXTON_ERR_MESSAGE_INVALID', field, `must be at least ${String(p['limit'])} character(s) long`);
    case 'maxLength':
      return fail('CAXTON_ERR_MESSAGE_INVALID', field, `must be at most ${String(p['limit'])} characters long`);
    case 'pattern':
      if (field === '/sender' || field === '/receiver') return fail('CAXTON_ERR_MESSAGE_INVALID', field, `must be an agent name (${AGENT_NAME_RULE}), got ${show(value)}`);
      if (field === '/trace_context/traceparent') return fail('CAXTON_ERR_MESSAGE_INVALID', field, `must be a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>), got ${show(value)}`);
      return fail('CAXTON_ERR_MESSAGE_INVALID', field, `must match ${String(p['pattern'])}, got ${show(value)}`);
    case 'format':
      return fail('CAXTON_ERR_MESSAGE_INVALID', field, `${REPLY_BY_RULE}, got ${show(value)}`);
    case 'enum': {
      const allowed = field === '/priority' ? PRIORITIES : field === '/delivery' ? DELIVERY_MODES : field === '/performative' ? PERFORMATIVES : [];
      return fail('CAXTON_ERR_MESSAGE_INVALID', field, `must be one of ${allowed.join(', ')}, got ${show(value)}`);
    }
    case 'not':
      return fail('CAXTON_ERR_MESSAGE_INVALID', field, CONTENT_RULE);
    case 'oneOf':
      return fail('CAXTON_ERR_MESSAGE_INVALID', '/receiver', 'a message needs exactly one of receiver, capability or topic');
    default:
      return fail('CAXTON_ERR_MESSAGE_INVALID', field, `breaks the schema rule "${e.keyword}"`);
  }
}

function valueAt(msg: Record<string, unknown>, pointer: string): unknown {
  let v: unknown = msg;
  for (const part of pointer.split('/').slice(1)) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return v;
}

const CONTENT_RULE = 'must not be empty: content is required and may not be null or "" ({} and [] are allowed)';
const REPLY_BY_RULE = 'must be an ISO-8601 date-time with a timezone, e.g. 2026-01-15T10:35:00Z or 2026-01-15T11:35:00+01:00';

// ---- size, JSON, object ------------------------------------------------------------------------------

/**
 * Refuses a text over `maxBytes` UTF-8 bytes. A UTF-16 code unit takes 1 to 3 UTF-8 bytes, so most
 * texts are decided from `length` alone; only the band in between is counted (natively, no copy).
 */
export function checkTextSize(text: string, maxBytes: number): void {
  const n = text.length;
  if (n * 3 <= maxBytes) return;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) tooLarge(bytes, maxBytes);
}

function tooLarge(bytes: number, maxBytes: number): never {
  return fail('CAXTON_ERR_MESSAGE_TOO_LARGE', '', `message is ${bytes} bytes, over the limit of ${maxBytes} bytes`, { bytes, limit: maxBytes });
}

/**
 * Parses `text` as a message object: JSON, an object, and what only the text shows (checkMessageText).
 * No field rules. Throws MESSAGE_MALFORMED or MESSAGE_INVALID.
 */
export function parseMessageObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    const at = /at position (\d+)/.exec(reason);
    const position = at !== null ? Number(at[1]) : /end of JSON input/.test(reason) ? text.length : undefined;
    return fail('CAXTON_ERR_MESSAGE_MALFORMED', '', `message is not JSON: ${reason}`, position === undefined ? undefined : { position });
  }
  const msg = asObject(value);
  checkMessageText(text, msg);
  return msg;
}

// ---- what only the text shows: nesting depth, repeated keys ---------------------------------------------

/**
 * How deep objects and arrays may nest in a message, the message object itself being level 1 (so
 * `content` may hold 127 levels). Receivers parse messages with recursive parsers (the AssemblyScript
 * SDK stops at 256, serde_json at 128) and the host serializes them recursively (JSON.stringify ran
 * out of stack at a few thousand); a message any of them would fail on is refused when it is sent.
 */
export const MAX_MESSAGE_DEPTH = 128;

/**
 * Refuses, in the text a message was parsed from (`msg` = JSON.parse(text), before anything was added
 * to it), what the parsed object no longer shows:
 * - nesting deeper than MAX_MESSAGE_DEPTH;
 * - a key twice in the message object. JSON.parse keeps the last one and other parsers the first,
 *   so the host would check one `sender` while a receiver reads another. Keys inside `content` and
 *   other nested values are not checked: the host decides nothing on them and forwards them as sent.
 *
 * Cost, on every message an agent sends: one pass over the text's tokens that allocates nothing
 * (string bodies are skipped with a native indexOf), counting the message object's keys and the depth;
 * a repeat shows as more keys in the text than in `msg`, and only then is the text read again to name
 * it. Measured on the 140-byte message of `npm run bench -- messaging`: 0.14 µs of CPU, a third of
 * its JSON.parse (0.45 µs); the per-hop P50/P99 did not move. A pass over the tokens was cheaper than
 * looking each top-level key up with a multi-character indexOf (0.6 µs: V8 runs those in C++).
 */
export function checkMessageText(text: string, msg: Record<string, unknown>): void {
  const keys = scanTokens(text, MAX_MESSAGE_DEPTH);
  if (keys < 0) tooDeep(keys === -1 ? '' : pointer(keyText(text, -keys - 2)));
  if (keys !== ownKeyCount(msg)) nameRepeatedKey(text);
}

/**
 * Where a JSON text that parsed first nests deeper than `limit` levels of objects and arrays (the
 * outermost value being level 1): the top-level key the excess is under, '' when it is not under one,
 * or undefined when the text stays within `limit`. The same token pass as a message's check, for
 * other JSON the node takes (API request bodies).
 */
export function excessNesting(text: string, limit: number): string | undefined {
  const r = scanTokens(text, limit);
  if (r >= 0) return undefined;
  return r === -1 ? '' : keyText(text, -r - 2);
}

function ownKeyCount(msg: Record<string, unknown>): number {
  let n = 0;
  // for...in on a JSON.parse result: its own keys (its prototype is Object.prototype). A count off by
  // an inherited key would only send the text to nameRepeatedKey, which decides.
  for (const _ in msg) n++;
  return n;
}

/**
 * One pass over the tokens of a JSON text that parsed: the number of members of its top-level object
 * (0 for any other value), or, as soon as it nests deeper than `limit`, a negative number saying
 * where: -1 when not under a top-level key, else -(2 + the index of that key's opening quote). A
 * number rather than an object: this runs on every message an agent sends and allocates nothing.
 */
function scanTokens(text: string, limit: number): number {
  let depth = 0;
  let keys = 0;
  let expectKey = false;
  let keyAt = -1; // where the top-level key being read starts, to name it in an error
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let end = text.indexOf('"', i + 1);
      while (text.charCodeAt(end - 1) === 0x5c && isEscaped(text, end)) end = text.indexOf('"', end + 1);
      if (expectKey) {
        keys++;
        keyAt = i;
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > limit) return keyAt < 0 ? -1 : -keyAt - 2;
      if (depth === 1) expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x2c /* , */ && depth === 1) {
      expectKey = true;
    }
  }
  return keys;
}

/** Reads the message object's keys in order and refuses the first one seen before. */
function nameRepeatedKey(text: string): void {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      if (expectKey) {
        const key = keyText(text, i);
        if (seen.has(key)) {
          fail('CAXTON_ERR_MESSAGE_INVALID', pointer(key), `the key ${show(key)} appears more than once in the message; each key may appear once (JSON parsers differ on which one counts)`);
        }
        seen.add(key);
        expectKey = false;
      }
      let end = text.indexOf('"', i + 1);
      while (text.charCodeAt(end - 1) === 0x5c && isEscaped(text, end)) end = text.indexOf('"', end + 1);
      i = end;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth === 1) expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x2c && depth === 1) {
      expectKey = true;
    }
  }
}

/** The decoded string that starts with the quote at `at` (escapes such as \u0065 decoded). */
function keyText(text: string, at: number): string {
  let end = text.indexOf('"', at + 1);
  while (text.charCodeAt(end - 1) === 0x5c && isEscaped(text, end)) end = text.indexOf('"', end + 1);
  const raw = text.slice(at, end + 1);
  return raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
}

function tooDeep(field: string): never {
  const what = field === '' ? 'message nests' : 'nests';
  return fail('CAXTON_ERR_MESSAGE_INVALID', field, `${what} deeper than ${MAX_MESSAGE_DEPTH} levels of objects and arrays, the most a message may have (the message object is level 1)`, { limit: MAX_MESSAGE_DEPTH });
}

/** Whether the quote at `at` is escaped: preceded by an odd number of backslashes. */
function isEscaped(text: string, at: number): boolean {
  let n = 0;
  while (text.charCodeAt(at - 1 - n) === 0x5c) n++;
  return n % 2 === 1;
}

function pointer(key: string): string {
  return key === '' ? '' : `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

function asObject(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail('CAXTON_ERR_MESSAGE_INVALID', '', `message must be a JSON object, got ${kind(value)}`);
  }
  return value as Record<string, unknown>;
}

// ---- the checks ----------------------------------------------------------------------------------------

/**
 * Validates `msg` in place and returns whether it was changed (performative normalized to its
 * canonical form, null optional fields removed) — callers that forward the original text must then
 * re-serialize. Does not check the size and does not fill fields (see `complete`). Throws CaxtonError.
 */
export function validateInPlace(msg: Record<string, unknown>, opts: ValidateOptions): boolean {
  // Fast path: canonical, schema-valid, and the three rules JSON Schema cannot express.
  if (schemaCheck(msg)) {
    const m = msg as AclMessage;
    if (
      (opts.actualSender === undefined || m.sender === opts.actualSender) &&
      (m.receiver !== m.sender || opts.allowSelfAddressed === true) &&
      (m.reply_by === undefined || !Number.isNaN(Date.parse(m.reply_by)))
    ) {
      return false;
    }
  }
  return diagnose(msg, opts);
}

/** The slow path: normalizes, then checks rule by rule in the documented order. */
function diagnose(msg: Record<string, unknown>, opts: ValidateOptions): boolean {
  let changed = false;

  const raw = msg['performative'];
  const performative = normalizePerformative(raw);
  if (performative === undefined) {
    const why = raw === undefined ? 'the field is required and must be' : 'must be';
    return fail('CAXTON_ERR_MESSAGE_INVALID', '/performative', `unknown performative ${show(raw)}; ${why} one of ${PERFORMATIVE_LIST} (variants such as not_understood, NOT-UNDERSTOOD and NotUnderstood are accepted)`);
  }
  if (performative !== raw) {
    msg['performative'] = performative;
    changed = true;
  }

  for (const f of NULLABLE_FIELDS) {
    if (msg[f] === null) {
      delete msg[f];
      changed = true;
    }
  }

  const sender = msg['sender'];
  if (sender === undefined || sender === null) return fail('CAXTON_ERR_MESSAGE_INVALID', '/sender', 'is required but missing');
  if (!isAgentName(sender)) return fail('CAXTON_ERR_MESSAGE_INVALID', '/sender', `must be an agent name (${AGENT_NAME_RULE}), got ${show(sender)}`);
  if (opts.actualSender !== undefined && sender !== opts.actualSender) {
    return fail('CAXTON_ERR_MESSAGE_SPOOFED', '/sender', `sender ${show(sender)} is not this agent (${opts.actualSender}); a message may only be sent in its actual sender's name`);
  }

  const receiver = msg['receiver'];
  const hasReceiver = receiver !== undefined && receiver !== '';
  const hasCapability = msg['capability'] !== undefined && msg['capability'] !== '';
  if (msg['topic'] === '') return fail('CAXTON_ERR_MESSAGE_INVALID', '/topic', 'must be at least 1 character(s) long');
  const hasTopic = msg['topic'] !== undefined;
  const addresses = Number(hasReceiver) + Number(hasCapability) + Number(hasTopic);
  if (addresses !== 1) {
    const what = addresses > 1 ? 'it has more than one' : `it has none${didYouMean(msg)}`;
    const field = addresses > 1 ? (hasCapability && hasReceiver ? '/capability' : '/topic') : '/receiver';
    return fail('CAXTON_ERR_MESSAGE_INVALID', field, `a message needs exactly one of receiver, capability or topic; ${what}`);
  }
  if (hasReceiver) {
    if (!isAgentName(receiver)) return fail('CAXTON_ERR_MESSAGE_INVALID', '/receiver', `must be an agent name or id (${AGENT_NAME_RULE}), got ${show(receiver)}`);
    if (receiver === sender && opts.allowSelfAddressed !== true) {
      return fail('CAXTON_ERR_MESSAGE_INVALID', '/receiver', `must differ from sender: sender equals receiver (${show(sender)})`);
    }
  }

  const content = msg['content'];
  if (content === undefined || content === null || content === '') return fail('CAXTON_ERR_MESSAGE_INVALID', '/content', CONTENT_RULE);

  if (!schemaCheck(msg)) return fromAjv(schemaCheck.errors?.[0], msg);

  const replyBy = msg['reply_by'];
  if (typeof replyBy === 'string' && Number.isNaN(Date.parse(replyBy))) {
    // Valid RFC 3339 that Date cannot read (leap second, hour-only offset): the router could not time it.
    return fail('CAXTON_ERR_MESSAGE_INVALID', '/reply_by', `${REPLY_BY_RULE}, got ${show(replyBy)}`);
  }
  return changed;
}

function didYouMean(msg: Record<string, unknown>): string {
  for (const key of Object.keys(msg)) {
    const k = key.toLowerCase().replace(/[^a-z]/g, '');
    if (key !== 'receiver' && (k === 'receiver' || k === 'reciever' || k === 'recipient' || k === 'to')) return ` (did you mean receiver instead of ${JSON.stringify(key)}?)`;
    if (key !== 'capability' && k === 'capability') return ` (did you mean capability instead of ${JSON.stringify(key)}?)`;
  }
  return '';
}

function complete(msg: Record<string, unknown>, opts: ValidateOptions): void {
  if (opts.complete !== true) return;
  if ((msg['sender'] === undefined || msg['sender'] === null) && opts.actualSender !== undefined) msg['sender'] = opts.actualSender;
  if (msg['message_id'] === undefined || msg['message_id'] === null) msg['message_id'] = randomUUID();
}

// ---- public API ------------------------------------------------------------------------------------------

/**
 * Parses and validates a message received as JSON text (an agent's send, an API body, a cluster
 * frame). Checks the UTF-8 size before parsing. Returns the message with its performative in canonical
 * form and null optional fields removed. Throws CaxtonError: MESSAGE_TOO_LARGE, MESSAGE_MALFORMED,
 * MESSAGE_INVALID or MESSAGE_SPOOFED, with `details.field` a JSON pointer ("" = the whole message).
 */
export function parseMessage(text: string, opts: ValidateOptions): AclMessage {
  checkTextSize(text, opts.maxBytes);
  const msg = parseMessageObject(text);
  complete(msg, opts);
  validateInPlace(msg, opts);
  return msg as AclMessage;
}

/**
 * Validates an already parsed value (for example a body fastify parsed), normalizing it in place.
 * With a finite `maxBytes` the size is measured by serializing the value; pass `Infinity` when the
 * raw bytes were already checked.
 */
export function validateMessage(value: unknown, opts: ValidateOptions): AclMessage {
  const msg = asObject(value);
  if (opts.maxBytes !== Infinity) {
    let text = '';
    try {
      text = JSON.stringify(msg);
    } catch (e) {
      // JSON.stringify recurses: thousands of levels exhaust the stack before the depth check can run.
      if (e instanceof RangeError) tooDeep('');
      fail('CAXTON_ERR_MESSAGE_INVALID', '', `message is not serializable as JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
    checkTextSize(text, opts.maxBytes);
    checkMessageText(text, msg);
  }
  complete(msg, opts);
  validateInPlace(msg, opts);
  return msg as AclMessage;
}
