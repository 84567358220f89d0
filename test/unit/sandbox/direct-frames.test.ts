import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DirectFrameError, FrameKind, FrameReader, FrameWriter, type FrameKindCode, type FrameVisitor } from '../../../src/sandbox/worker/direct-frames.js';
import type { PriorityLevel } from '../../../src/sandbox/worker/mailbox.js';
import { prng } from '../../helpers/prng.js';

type ControlKind = Exclude<FrameKindCode, typeof FrameKind.MESSAGE>;
type Frame = { readonly t: 'message'; readonly to: string; readonly json: string; readonly priority: PriorityLevel } | { readonly t: 'control'; readonly kind: FrameKindCode; readonly body: unknown };

const CONTROL_KINDS: readonly ControlKind[] = [FrameKind.HELLO, FrameKind.FENCE_OK, FrameKind.REVOKE, FrameKind.CLOSE, FrameKind.CLOSED];
const PRIORITIES: readonly PriorityLevel[] = [0, 1, 2, 3];

/** A visitor that records every frame it is handed, in order. */
function recorder(): { readonly frames: Frame[]; readonly visit: FrameVisitor } {
  const frames: Frame[] = [];
  return {
    frames,
    visit: {
      message: (to, json, priority) => frames.push({ t: 'message', to, json, priority }),
      control: (kind, body) => frames.push({ t: 'control', kind, body }),
    },
  };
}

function write(w: FrameWriter, f: Frame): void {
  if (f.t === 'message') w.message(f.to, f.json, f.priority);
  else w.control(f.kind as ControlKind, f.body);
}

/** Writes the frames with one writer, reads them back in one push. */
function roundTrip(frames: readonly Frame[], maxFrameBytes = 1 << 24): Frame[] {
  const w = new FrameWriter();
  for (const f of frames) write(w, f);
  const bytes = w.take();
  assert.ok(bytes !== undefined);
  const r = new FrameReader(maxFrameBytes);
  const rec = recorder();
  r.push(bytes, rec.visit);
  assert.equal(r.buffered, 0);
  return rec.frames;
}

/** Every frame's u32 length prefix agrees with the bytes that follow it. */
function frameLengths(bytes: Buffer): number[] {
  const out: number[] = [];
  let at = 0;
  while (at < bytes.length) {
    const len = bytes.readUInt32BE(at);
    out.push(len);
    at += 4 + len;
  }
  assert.equal(at, bytes.length, 'the length prefixes tile the buffer exactly');
  return out;
}

/** A frame header (length, kind) followed by `body`, built by hand. */
function rawFrame(kind: number, body: Buffer, len = 1 + body.length): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(len, 0);
  head[4] = kind;
  return Buffer.concat([head, body]);
}

function rawMessageBody(priority: number, nameLen: number, rest: Buffer): Buffer {
  const h = Buffer.alloc(3);
  h[0] = priority;
  h.writeUInt16BE(nameLen, 1);
  return Buffer.concat([h, rest]);
}

function throwsFrameError(bytes: Buffer, match: RegExp, maxFrameBytes = 1024): void {
  const r = new FrameReader(maxFrameBytes);
  const rec = recorder();
  assert.throws(
    () => r.push(bytes, rec.visit),
    (e: unknown) => e instanceof DirectFrameError && match.test(e.message),
  );
  assert.deepEqual(rec.frames, []);
}

test('direct frames - ASCII messages round-trip with their receiver and priority 0 to 3', () => {
  const frames: Frame[] = PRIORITIES.map((priority, i) => ({ t: 'message', to: `agent-${i}`, json: JSON.stringify({ performative: 'inform', content: `hello ${i}` }), priority }));
  assert.deepEqual(roundTrip(frames), frames);
});

test('direct frames - multi-byte UTF-8 receivers and bodies, emoji, escaped lone surrogates, an empty JSON string', () => {
  const loneEscaped = JSON.stringify({ s: '\ud800x\udfff' }); // JSON.stringify escapes lone surrogates: {"s":"\ud800x\udfff"}
  assert.ok(loneEscaped.includes('\\ud800'));
  const frames: Frame[] = [
    { t: 'message', to: 'émile', json: JSON.stringify({ text: 'naïve café — 中文 日本語' }), priority: 0 },
    { t: 'message', to: '🤖-agent', json: JSON.stringify({ text: '🚀🎉 👩‍👩‍👧‍👦' }), priority: 1 },
    { t: 'message', to: 'lone', json: loneEscaped, priority: 2 },
    { t: 'message', to: 'empty', json: '""', priority: 3 },
    { t: 'message', to: 'nothing', json: '', priority: 1 },
    { t: 'message', to: '', json: '{}', priority: 0 },
  ];
  const out = roundTrip(frames);
  assert.deepEqual(out, frames);
  const back = out[2];
  assert.ok(back?.t === 'message');
  assert.deepEqual(JSON.parse(back.json), { s: '\ud800x\udfff' }, 'the escaped lone surrogates survive to the parsed value');
});

test('direct frames - a raw lone surrogate (not JSON-escaped) becomes U+FFFD and the frame stays well-formed', () => {
  const w = new FrameWriter(8);
  w.message('a', '"\ud800"', 1);
  w.message('b', 'after', 2);
  const bytes = w.take();
  assert.ok(bytes !== undefined);
  assert.deepEqual(frameLengths(bytes), [1 + 3 + 1 + 5, 1 + 3 + 1 + 5]); // "\ufffd" is 3 bytes of UTF-8, plus 2 quotes
  const rec = recorder();
  new FrameReader(1024).push(bytes, rec.visit);
  assert.deepEqual(rec.frames, [
    { t: 'message', to: 'a', json: '"\ufffd"', priority: 1 },
    { t: 'message', to: 'b', json: 'after', priority: 2 },
  ]);
});

test('direct frames - the length prefix and header of a message are the documented layout', () => {
  const w = new FrameWriter();
  w.message('bé', '{"x":"€"}', 2);
  const b = w.take();
  assert.ok(b !== undefined);
  const to = Buffer.from('bé');
  const json = Buffer.from('{"x":"€"}');
  assert.equal(b.readUInt32BE(0), 1 + 1 + 2 + to.length + json.length);
  assert.equal(b[4], FrameKind.MESSAGE);
  assert.equal(b[5], 2);
  assert.equal(b.readUInt16BE(6), to.length);
  assert.deepEqual(b.subarray(8, 8 + to.length), to);
  assert.deepEqual(b.subarray(8 + to.length), json);
});

test('direct frames - control frames of every kind round-trip with their JSON body', () => {
  const frames: Frame[] = [
    { t: 'control', kind: FrameKind.HELLO, body: { token: 'abc123', node: 'node-a', host: '127.0.0.1', port: 4000 } },
    { t: 'control', kind: FrameKind.FENCE_OK, body: { token: 'abc123', name: 'bob' } },
    { t: 'control', kind: FrameKind.REVOKE, body: { name: 'bøb 🙂' } },
    { t: 'control', kind: FrameKind.CLOSE, body: { name: 'bob' } },
    { t: 'control', kind: FrameKind.CLOSED, body: { name: 'bob' } },
    { t: 'control', kind: FrameKind.CLOSED, body: null },
    { t: 'control', kind: FrameKind.REVOKE, body: [1, 'two', { three: 3 }] },
    { t: 'control', kind: FrameKind.CLOSE, body: 'a string' },
    { t: 'control', kind: FrameKind.CLOSE, body: { lone: '\udc00' } },
  ];
  const mixed: Frame[] = [frames[0] as Frame, { t: 'message', to: 'bob', json: '{"n":1}', priority: 1 }, ...frames.slice(1)];
  assert.deepEqual(roundTrip(mixed), mixed);
});

test('direct frames - take() returns undefined when nothing was written, and after a take', () => {
  const w = new FrameWriter();
  assert.equal(w.take(), undefined);
  assert.equal(w.length, 0);
  w.control(FrameKind.CLOSE, { name: 'x' });
  assert.ok(w.length > 0);
  const first = w.take();
  assert.ok(first !== undefined);
  assert.equal(w.length, 0);
  assert.equal(w.take(), undefined);
  // the taken buffer is a copy: writing more does not change it
  const copy = Buffer.from(first);
  w.control(FrameKind.CLOSED, { name: 'yyyyyyyyyyyy' });
  assert.deepEqual(first, copy);
  const second = w.take();
  assert.ok(second !== undefined);
  const rec = recorder();
  new FrameReader(1024).push(Buffer.concat([first, second]), rec.visit);
  assert.deepEqual(rec.frames, [
    { t: 'control', kind: FrameKind.CLOSE, body: { name: 'x' } },
    { t: 'control', kind: FrameKind.CLOSED, body: { name: 'yyyyyyyyyyyy' } },
  ]);
});

test('direct frames - the writer grows past its initial 16 KiB, keeping what it gathered', () => {
  const w = new FrameWriter();
  const small: Frame = { t: 'message', to: 'a', json: '{"small":true}', priority: 1 };
  const big: Frame = { t: 'message', to: 'b', json: JSON.stringify({ blob: 'x'.repeat(100 * 1024) }), priority: 2 };
  const bigUtf8: Frame = { t: 'message', to: 'c', json: JSON.stringify({ blob: '€🙂'.repeat(20 * 1024) }), priority: 3 };
  const ctl: Frame = { t: 'control', kind: FrameKind.CLOSE, body: { name: 'z'.repeat(40 * 1024) } };
  const frames = [small, big, small, bigUtf8, ctl, small];
  for (const f of frames) write(w, f);
  const bytes = w.take();
  assert.ok(bytes !== undefined);
  assert.ok(bytes.length > 16 * 1024 * 8);
  assert.equal(frameLengths(bytes).length, frames.length);
  const rec = recorder();
  new FrameReader(1 << 20).push(bytes, rec.visit);
  assert.deepEqual(rec.frames, frames);
  // and it keeps working after the take, from a grown buffer
  write(w, small);
  const again = w.take();
  assert.ok(again !== undefined);
  const rec2 = recorder();
  new FrameReader(1024).push(again, rec2.visit);
  assert.deepEqual(rec2.frames, [small]);
});

test('direct frames - a writer starting tiny (1 byte) grows frame by frame', () => {
  const w = new FrameWriter(1);
  const frames: Frame[] = [];
  for (let i = 0; i < 200; i++) frames.push(i % 3 === 0 ? { t: 'control', kind: FrameKind.REVOKE, body: { name: `n${i}` } } : { t: 'message', to: `to-${i}`, json: JSON.stringify({ i, s: 'é'.repeat(i) }), priority: (i % 4) as PriorityLevel });
  for (const f of frames) write(w, f);
  const bytes = w.take();
  assert.ok(bytes !== undefined);
  const rec = recorder();
  new FrameReader(1 << 16).push(bytes, rec.visit);
  assert.deepEqual(rec.frames, frames);
});

test('direct frames - a receiver name longer than 65535 bytes is refused by the writer', () => {
  const w = new FrameWriter();
  assert.throws(() => w.message('é'.repeat(40_000), '{}', 1), DirectFrameError); // 80,000 bytes
  assert.equal(w.length, 0, 'nothing half-written');
  w.message('x'.repeat(0xffff), '{}', 1); // exactly the limit fits
  const bytes = w.take();
  assert.ok(bytes !== undefined);
  const rec = recorder();
  new FrameReader(1 << 20).push(bytes, rec.visit);
  assert.equal(rec.frames.length, 1);
  assert.equal(rec.frames[0]?.t === 'message' ? rec.frames[0].to.length : -1, 0xffff);
});

test('direct frames - a frame of exactly the reader limit is read; one byte more is refused', () => {
  const w = new FrameWriter();
  w.message('ab', 'x'.repeat(100 - 1 - 3 - 2), 0); // a frame of 100 bytes
  const bytes = w.take();
  assert.ok(bytes !== undefined);
  assert.equal(bytes.readUInt32BE(0), 100);
  const rec = recorder();
  new FrameReader(100).push(bytes, rec.visit);
  assert.equal(rec.frames.length, 1);
  throwsFrameError(bytes, /a frame of 100 bytes \(at most 99\)/, 99);
});

// --- a property test: random frame sequences in random chunk splits ---

function randomString(rand: () => number, maxLen: number): string {
  const pieces = ['a', 'Z', '0', ' ', '"', '\\', 'é', 'ß', '€', '中', '🙂', '🚀', '\n', '\u0000', '\u2028', '{', '}'];
  const n = Math.floor(rand() * (maxLen + 1));
  let s = '';
  for (let i = 0; i < n; i++) s += pieces[Math.floor(rand() * pieces.length)] as string;
  return s;
}

function randomFrame(rand: () => number): Frame {
  if (rand() < 0.6) {
    // a message's JSON as the agents' JSON.stringify would make it (lone surrogates come escaped)
    const value = rand() < 0.2 ? randomString(rand, 4) : { content: randomString(rand, rand() < 0.05 ? 5000 : 40), lone: rand() < 0.2 ? '\ud83d' : undefined, n: Math.floor(rand() * 1e6) };
    return { t: 'message', to: randomString(rand, 12), json: JSON.stringify(value), priority: Math.floor(rand() * 4) as PriorityLevel };
  }
  const kind = CONTROL_KINDS[Math.floor(rand() * CONTROL_KINDS.length)] as ControlKind;
  const body = kind === FrameKind.HELLO ? { token: randomString(rand, 24), node: randomString(rand, 8), host: '127.0.0.1', port: Math.floor(rand() * 65536) } : { name: randomString(rand, 16), token: rand() < 0.5 ? randomString(rand, 24) : undefined };
  return { t: 'control', kind, body: JSON.parse(JSON.stringify(body)) as unknown };
}

test('direct frames - property: random frame sequences survive any split into chunks (seeded)', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const rand = prng(seed);
    const count = 1 + Math.floor(rand() * 30);
    const frames: Frame[] = [];
    for (let i = 0; i < count; i++) frames.push(randomFrame(rand));
    // one writer for all, or a take() now and then (the turns of a real connection)
    const w = new FrameWriter(1 + Math.floor(rand() * 64));
    const parts: Buffer[] = [];
    for (const f of frames) {
      write(w, f);
      if (rand() < 0.3) {
        const b = w.take();
        if (b !== undefined) parts.push(b);
      }
    }
    const last = w.take();
    if (last !== undefined) parts.push(last);
    const bytes = Buffer.concat(parts);
    // the same bytes through the reader in random chunks: 1 byte, a few, a lot, or everything at once
    const reader = new FrameReader(1 << 20);
    const rec = recorder();
    const mode = rand();
    let at = 0;
    while (at < bytes.length) {
      const left = bytes.length - at;
      const size = mode < 0.15 ? 1 : mode < 0.3 ? left : 1 + Math.floor(rand() * Math.min(left, rand() < 0.5 ? 16 : 4096));
      reader.push(bytes.subarray(at, at + size), rec.visit);
      at += size;
      assert.ok(reader.buffered < bytes.length + 1);
    }
    assert.equal(reader.buffered, 0, `seed ${seed}: nothing left over`);
    assert.deepEqual(rec.frames, frames, `seed ${seed}: the same frames in the same order`);
  }
});

test('direct frames - property: an empty chunk and a split inside the length prefix are harmless', () => {
  const frames: Frame[] = [
    { t: 'message', to: 'x', json: '{"a":1}', priority: 3 },
    { t: 'control', kind: FrameKind.FENCE_OK, body: { token: 't', name: 'x' } },
  ];
  const w = new FrameWriter();
  for (const f of frames) write(w, f);
  const bytes = w.take();
  assert.ok(bytes !== undefined);
  const reader = new FrameReader(1024);
  const rec = recorder();
  reader.push(Buffer.alloc(0), rec.visit);
  reader.push(bytes.subarray(0, 2), rec.visit);
  assert.equal(reader.buffered, 2);
  reader.push(Buffer.alloc(0), rec.visit);
  reader.push(bytes.subarray(2, 7), rec.visit);
  assert.equal(reader.buffered, 7);
  assert.deepEqual(rec.frames, []);
  reader.push(bytes.subarray(7), rec.visit);
  assert.equal(reader.buffered, 0);
  assert.deepEqual(rec.frames, frames);
});

// --- protocol errors ---

test('direct frames - a frame of length 0 is a protocol error', () => {
  throwsFrameError(Buffer.from([0, 0, 0, 0]), /a frame of 0 bytes/);
  // also after a good frame in the same chunk: the good one is handed on first
  const w = new FrameWriter();
  w.control(FrameKind.CLOSE, { name: 'n' });
  const good = w.take();
  assert.ok(good !== undefined);
  const r = new FrameReader(1024);
  const rec = recorder();
  assert.throws(() => r.push(Buffer.concat([good, Buffer.from([0, 0, 0, 0])]), rec.visit), DirectFrameError);
  assert.deepEqual(rec.frames, [{ t: 'control', kind: FrameKind.CLOSE, body: { name: 'n' } }]);
});

test('direct frames - a length above the reader limit is refused from the prefix alone', () => {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(1025, 0);
  throwsFrameError(head, /a frame of 1025 bytes \(at most 1024\)/); // no body bytes needed
  throwsFrameError(Buffer.from([0xff, 0xff, 0xff, 0xff]), /at most 1024/);
  throwsFrameError(Buffer.from('GET / HTTP/1.1\r\n\r\n'), /a frame of \d+ bytes/);
  // split across chunks: thrown once the 4th prefix byte arrives
  const r = new FrameReader(1024);
  const rec = recorder();
  r.push(head.subarray(0, 3), rec.visit);
  assert.throws(() => r.push(head.subarray(3), rec.visit), DirectFrameError);
});

test('direct frames - unknown frame kinds are protocol errors', () => {
  for (const kind of [0, 7, 8, 100, 255]) throwsFrameError(rawFrame(kind, Buffer.from('{}')), new RegExp(`unknown kind ${kind}`));
});

test('direct frames - a control frame whose body is not JSON is a protocol error', () => {
  for (const kind of CONTROL_KINDS) {
    throwsFrameError(rawFrame(kind, Buffer.from('{"name":')), /whose body is not JSON/);
    throwsFrameError(rawFrame(kind, Buffer.alloc(0)), /whose body is not JSON/); // a kind byte and no body
    throwsFrameError(rawFrame(kind, Buffer.from([0xc3, 0x28])), /whose body is not JSON/);
  }
});

test('direct frames - a message whose receiver length runs past the frame end is a protocol error', () => {
  throwsFrameError(rawFrame(FrameKind.MESSAGE, rawMessageBody(1, 10, Buffer.from('abc'))), /receiver runs past its end/);
  throwsFrameError(rawFrame(FrameKind.MESSAGE, rawMessageBody(1, 0xffff, Buffer.alloc(0))), /receiver runs past its end/);
  // the receiver filling the frame exactly is fine: an empty JSON text
  const rec = recorder();
  new FrameReader(1024).push(rawFrame(FrameKind.MESSAGE, rawMessageBody(2, 3, Buffer.from('abc'))), rec.visit);
  assert.deepEqual(rec.frames, [{ t: 'message', to: 'abc', json: '', priority: 2 }]);
});

test('direct frames - a message frame shorter than its header is a protocol error', () => {
  throwsFrameError(rawFrame(FrameKind.MESSAGE, Buffer.alloc(0)), /shorter than its header/);
  throwsFrameError(rawFrame(FrameKind.MESSAGE, Buffer.from([1, 0])), /shorter than its header/);
});

test('direct frames - a message of priority above 3 is a protocol error', () => {
  for (const p of [4, 5, 128, 255]) throwsFrameError(rawFrame(FrameKind.MESSAGE, rawMessageBody(p, 1, Buffer.from('a{}'))), new RegExp(`priority ${p} \\(0 to 3\\)`));
});

test('direct frames - DirectFrameError is an Error', () => {
  const e = new DirectFrameError('x');
  assert.ok(e instanceof Error);
  assert.equal(e.message, 'x');
});
