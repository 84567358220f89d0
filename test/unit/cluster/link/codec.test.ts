import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchWriter, EntryTooLarge, parseBatch, type BatchVisitor } from '../../../../src/cluster/link/batch.js';
import { FrameDecoder, FrameType, decodeHello, encodeHello, type FrameError } from '../../../../src/cluster/link/frame.js';
import { prng } from '../../../helpers/prng.js';

type Entry = ['post', string, unknown] | ['call', number, number, string, unknown] | ['reply', number, unknown, boolean];

function recorder(): BatchVisitor & { entries: Entry[] } {
  const entries: Entry[] = [];
  return {
    entries,
    post: (kind, body) => entries.push(['post', kind, body instanceof Uint8Array ? [...body] : body]),
    call: (id, timeoutMs, method, body) => entries.push(['call', id, timeoutMs, method, body instanceof Uint8Array ? [...body] : body]),
    reply: (id, body, error) => entries.push(['reply', id, body, error]),
  };
}

/** Decodes `bytes` fed in the given chunk sizes; returns the frames' types and the error, if any. */
function decodeAll(bytes: Uint8Array, chunks: number[], max = 1 << 20): { frames: { type: number; payload: Uint8Array }[]; error: FrameError | undefined } {
  const frames: { type: number; payload: Uint8Array }[] = [];
  const d = new FrameDecoder(max, (type, b, s, e) => {
    frames.push({ type, payload: b.slice(s, e) });
    return undefined;
  });
  let i = 0;
  let k = 0;
  let error: FrameError | undefined;
  while (i < bytes.length && error === undefined) {
    const n = Math.max(1, chunks[k++ % chunks.length] as number);
    error = d.push(bytes.subarray(i, i + n));
    i += n;
  }
  return { frames, error };
}

test('link codec - a batch of posts, calls and replies round-trips, JSON and raw bytes, in any chunking', () => {
  const w = new BatchWriter(1 << 20);
  w.post('fipa', { performative: 'inform', content: 'é ✓ 😀' });
  w.post('blob', new Uint8Array([0, 1, 2, 255]));
  w.post('empty', undefined);
  w.call(7, 1500, 'dir.lookup', ['a', 1, null]);
  w.reply(7, 'answer', false);
  w.reply(8, { code: 'CAXTON_ERR_CLUSTER_TIMEOUT', message: 'm' }, true);
  assert.deepEqual(w.calls, [7]);
  const frame = w.take();
  assert.ok(w.empty);
  for (const chunks of [[frame.length], [1], [2, 3], [4], [5, 1, 7]]) {
    const { frames, error } = decodeAll(frame, chunks);
    assert.equal(error, undefined);
    assert.equal(frames.length, 1);
    const f = frames[0] as { type: number; payload: Uint8Array };
    assert.equal(f.type, FrameType.Batch);
    const r = recorder();
    assert.equal(parseBatch(f.payload, 0, f.payload.length, r), undefined);
    assert.deepEqual(r.entries, [
      ['post', 'fipa', { performative: 'inform', content: 'é ✓ 😀' }],
      ['post', 'blob', [0, 1, 2, 255]],
      ['post', 'empty', undefined],
      ['call', 7, 1500, 'dir.lookup', ['a', 1, null]],
      ['reply', 7, 'answer', false],
      ['reply', 8, { code: 'CAXTON_ERR_CLUSTER_TIMEOUT', message: 'm' }, true],
    ]);
  }
});

test('link codec - one writer, many batches of any size (its buffer grows and shrinks with the traffic): each frame holds exactly its entries', () => {
  const rnd = prng(11);
  const w = new BatchWriter(1 << 20);
  for (let batch = 0; batch < 300; batch++) {
    // Mostly one small message (a quiet link), sometimes many, sometimes one past the last batch's size.
    const shape = rnd() * 10;
    const n = shape < 6 ? 1 : shape < 9 ? 1 + Math.floor(rnd() * 200) : 1 + Math.floor(rnd() * 3);
    const want: Entry[] = [];
    for (let i = 0; i < n; i++) {
      const len = shape >= 9 ? Math.floor(rnd() * 200_000) : Math.floor(rnd() * 600);
      if (rnd() < 0.5) {
        const body = 'm'.repeat(len) + String(batch);
        w.post('msg', body);
        want.push(['post', 'msg', body]);
      } else {
        const bytes = new Uint8Array(len).map((_, k) => (k * 31 + batch) & 0xff);
        w.post('raw', bytes);
        want.push(['post', 'raw', [...bytes]]);
      }
    }
    const frame = w.take();
    const { frames, error } = decodeAll(frame, [frame.length]);
    assert.equal(error, undefined, `batch ${batch}`);
    const f = frames[0] as { type: number; payload: Uint8Array };
    const r = recorder();
    assert.equal(parseBatch(f.payload, 0, f.payload.length, r), undefined, `batch ${batch}`);
    assert.equal(r.entries.length, want.length, `batch ${batch}`);
    assert.deepEqual(r.entries, want, `batch ${batch}`);
  }
});

test('link codec - raw byte bodies are views of the received bytes, not copies', () => {
  const w = new BatchWriter(1 << 20);
  w.post('b', new Uint8Array(1000).fill(7));
  const frame = w.take();
  let body: Uint8Array | undefined;
  assert.equal(
    parseBatch(frame, 5, frame.length, {
      post: (_k, b) => (body = b as Uint8Array),
      call: () => assert.fail(),
      reply: () => assert.fail(),
    }),
    undefined,
  );
  assert.equal(body?.buffer, frame.buffer);
});

test('link codec - an entry larger than the frame limit is refused before anything is written', () => {
  const w = new BatchWriter(4096);
  w.post('a', 1);
  const before = w.bytes;
  assert.throws(() => w.post('a', new Uint8Array(5000)), EntryTooLarge);
  assert.equal(w.bytes, before);
  assert.throws(() => w.post('k'.repeat(256), 1), /longer than 255 bytes/);
});

test('link codec - frames over the limit, empty or of unknown type are errors naming the problem', () => {
  const big = new Uint8Array([0, 0, 4, 1, 3]);
  assert.deepEqual(decodeAll(big, [5], 1024).error?.reason, 'too-large');
  assert.match(decodeAll(big, [2, 3], 1024).error?.message ?? '', /1025 bytes, over the link's frame limit of 1024/);
  assert.equal(decodeAll(new Uint8Array([0, 0, 0, 0]), [4]).error?.reason, 'empty');
  assert.equal(decodeAll(new Uint8Array([0, 0, 0, 1, 99]), [1]).error?.reason, 'unknown-type');
  // After an error the decoder stays failed.
  const d = new FrameDecoder(1024, () => undefined);
  assert.equal(d.push(new Uint8Array([0, 0, 0, 0]))?.reason, 'empty');
  assert.equal(d.push(new Uint8Array([0, 0, 0, 1, 4]))?.reason, 'empty');
});

test('link codec - a half-received frame is reported as mid-frame (truncated if the stream ends)', () => {
  const d = new FrameDecoder(1024, () => undefined);
  assert.equal(d.midFrame, false);
  d.push(new Uint8Array([0, 0]));
  assert.equal(d.midFrame, true);
  d.push(new Uint8Array([0, 5, 4, 0, 0]));
  assert.equal(d.midFrame, true);
  d.push(new Uint8Array([0, 9]));
  assert.equal(d.midFrame, false);
});

test('link codec - hello round-trips and refuses bad sizes and names', () => {
  const nonce = new Uint8Array(16).fill(3);
  const f = encodeHello({ version: 1, proof: true, nonce, name: 'node-é' });
  const h = decodeHello(f, 5, f.length);
  assert.deepEqual(h, { version: 1, proof: true, nonce, name: 'node-é' });
  assert.equal((decodeHello(f, 5, f.length - 1) as FrameError).reason, 'malformed');
  assert.equal((decodeHello(f, 5, 10) as FrameError).reason, 'malformed');
  const bad = Uint8Array.from(f);
  bad[bad.length - 1] = 0xff;
  assert.match((decodeHello(bad, 5, bad.length) as FrameError).message, /not UTF-8/);
});

test('link codec - random bytes and mutated batches never throw past the decoder nor hang', () => {
  const rand = prng(11);
  const int = (n: number): number => Math.floor(rand() * n);
  const r = recorder();
  const w = new BatchWriter(1 << 20);
  for (let i = 0; i < 20; i++) {
    w.post(`k${i}`, { i, s: 'x'.repeat(i) });
    w.call(i, 100, 'm', new Uint8Array(i));
    w.reply(i, [i], i % 2 === 0);
  }
  const good = w.take();
  let errors = 0;
  const started = Date.now();
  for (let round = 0; round < 3000; round++) {
    let bytes: Uint8Array;
    if (round % 3 === 0) {
      bytes = new Uint8Array(int(300));
      for (let i = 0; i < bytes.length; i++) bytes[i] = int(256);
      if (round % 2 === 0 && bytes.length > 5) bytes.set([0, 0, 0, Math.min(255, bytes.length - 4)], 0);
    } else {
      bytes = Uint8Array.from(good);
      for (let m = 1 + int(4); m > 0; m--) {
        const at = int(bytes.length);
        switch (int(3)) {
          case 0:
            bytes[at] = int(256);
            break;
          case 1:
            bytes = Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + 1 + int(8))]);
            break;
          default:
            bytes = Uint8Array.from([...bytes.subarray(0, at), int(256), ...bytes.subarray(at)]);
        }
      }
    }
    const d = new FrameDecoder(1 << 16, (type, b, s, e) => (type === FrameType.Batch ? parseBatch(b, s, e, r) : undefined));
    let i = 0;
    while (i < bytes.length) {
      const n = 1 + int(64);
      const e = d.push(bytes.subarray(i, i + n)); // must not throw
      i += n;
      if (e !== undefined) {
        errors++;
        assert.ok(['too-large', 'empty', 'unknown-type', 'malformed'].includes(e.reason), e.reason);
        assert.ok(e.message.length > 10);
        break;
      }
    }
    // And the batch parser alone, over any window of the bytes.
    const s = int(bytes.length + 1);
    parseBatch(bytes, s, s + int(bytes.length - s + 1), r);
  }
  assert.ok(errors > 1000, `most garbage is recognised as such (${errors})`);
  assert.ok(Date.now() - started < 60_000, 'no hang');
});
