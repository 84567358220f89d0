/**
 * Batch frames: many posts, calls and replies in one frame (frame.ts has the layout). The writer
 * encodes each entry straight into the batch's buffer (one JSON.stringify and one copy per body, no
 * other allocation per entry); the parser hands bodies out as views of the received bytes (raw bytes)
 * or parses them (JSON) and never throws: bad input is a FrameError.
 */
import { BodyEncoding, EntryType, FRAME_HEADER_BYTES, FrameType, type FrameError, writeU32 } from './frame.js';

/** Size at which a batch is flushed without waiting for the next turn of the event loop. */
export const BATCH_FLUSH_BYTES = 64 * 1024;

/**
 * Smallest buffer a batch starts with. Under 4 KiB (half of Buffer.poolSize) allocUnsafe slices
 * Node's shared pool instead of allocating: on a quiet link a batch carries one small message, and a
 * 65 KiB buffer for each (as before) was a fresh ArrayBuffer per message, the largest allocation on
 * the cross-node path and work for the GC.
 */
const MIN_BATCH_BUFFER = 2048;

/** A body ready to be written: its encoding and, for JSON, the text. */
interface Encoded {
  enc: number;
  text: string;
  bytes: Uint8Array | undefined;
  len: number;
}

/** Reused by encodeBody: the writer copies out of it before the next call. */
const scratch: Encoded = { enc: 0, text: '', bytes: undefined, len: 0 };

function encodeBody(body: unknown, asError = false): Encoded {
  const e = scratch;
  e.bytes = undefined;
  e.text = '';
  if (body instanceof Uint8Array && !asError) {
    e.enc = BodyEncoding.Bytes;
    e.bytes = body;
    e.len = body.length;
    return e;
  }
  const text = body === undefined ? undefined : (JSON.stringify(body) as string | undefined);
  if (text === undefined) {
    e.enc = BodyEncoding.Undefined;
    e.len = 0;
    return e;
  }
  e.enc = asError ? BodyEncoding.Error : BodyEncoding.Json;
  e.text = text;
  e.len = Buffer.byteLength(text, 'utf8');
  return e;
}

/** Why an entry was not added to a batch. */
export class EntryTooLarge extends RangeError {
  override readonly name = 'EntryTooLarge';
}

/**
 * One batch being filled. `bytes` is the size the frame will have; `take()` closes it and returns the
 * whole frame (header included), after which the writer starts a new buffer.
 */
export class BatchWriter {
  #buf: Buffer | undefined;
  #pos = FRAME_HEADER_BYTES;
  /** Size of the last batch taken: the next one starts from it (a busy link fills its batches). */
  #lastSize = MIN_BATCH_BUFFER;
  /** Ids of the calls in this batch (the link marks them sent when the frame is written). */
  calls: number[] | undefined;
  readonly #maxFrame: number;

  constructor(maxFrameBytes: number) {
    this.#maxFrame = maxFrameBytes;
  }

  get bytes(): number {
    return this.#pos;
  }

  get empty(): boolean {
    return this.#pos === FRAME_HEADER_BYTES;
  }

  /** Size an entry adds, for the queue bound; throws EntryTooLarge past the frame limit. */
  post(kind: string, body: unknown): number {
    const b = encodeBody(body);
    const klen = Buffer.byteLength(kind, 'utf8');
    if (klen > 255) throw new RangeError(`post kind ${JSON.stringify(kind)} is longer than 255 bytes`);
    const size = 1 + 1 + klen + 5 + b.len;
    const buf = this.#room(size);
    let p = this.#pos;
    buf[p++] = EntryType.Post;
    buf[p++] = klen;
    p += buf.write(kind, p, 'utf8');
    this.#pos = writeBody(buf, p, b);
    return size;
  }

  call(id: number, timeoutMs: number, method: string, body: unknown): number {
    const b = encodeBody(body);
    const mlen = Buffer.byteLength(method, 'utf8');
    if (mlen > 255) throw new RangeError(`call method ${JSON.stringify(method)} is longer than 255 bytes`);
    const size = 1 + 8 + 1 + mlen + 5 + b.len;
    const buf = this.#room(size);
    let p = this.#pos;
    buf[p++] = EntryType.Call;
    writeU32(buf, p, id);
    writeU32(buf, p + 4, Math.min(0xffffffff, Math.max(0, Math.ceil(timeoutMs))));
    p += 8;
    buf[p++] = mlen;
    p += buf.write(method, p, 'utf8');
    this.#pos = writeBody(buf, p, b);
    (this.calls ??= []).push(id);
    return size;
  }

  /** A reply; `error` set: the handler threw, `body` is {code, message}. */
  reply(id: number, body: unknown, error: boolean): number {
    const b = encodeBody(body, error);
    const size = 1 + 4 + 5 + b.len;
    const buf = this.#room(size);
    let p = this.#pos;
    buf[p++] = EntryType.Reply;
    writeU32(buf, p, id);
    this.#pos = writeBody(buf, p + 4, b);
    return size;
  }

  /** Closes the batch: the whole frame. */
  take(): Uint8Array {
    const buf = this.#buf as Buffer;
    writeU32(buf, 0, this.#pos - 4);
    buf[4] = FrameType.Batch;
    const out = buf.subarray(0, this.#pos);
    this.#lastSize = this.#pos;
    this.#buf = undefined;
    this.#pos = FRAME_HEADER_BYTES;
    return out;
  }

  #room(size: number): Buffer {
    if (this.#pos + size - 4 > this.#maxFrame) {
      throw new EntryTooLarge(`an entry of ${size} bytes does not fit the link's frame limit of ${this.#maxFrame} bytes: send large blobs in parts`);
    }
    const need = this.#pos + size;
    let buf = this.#buf;
    if (buf === undefined) {
      // Twice the last batch, up to a whole batch and an entry past the flush size: a link that
      // fills its batches never grows one (a copy of up to 64 KiB).
      buf = this.#buf = Buffer.allocUnsafe(Math.max(MIN_BATCH_BUFFER, Math.min(2 * this.#lastSize, BATCH_FLUSH_BYTES + 1024), need));
    } else if (need > buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, buf.length * 2));
      buf.copy(bigger, 0, 0, this.#pos);
      buf = this.#buf = bigger;
    }
    return buf;
  }
}

function writeBody(buf: Buffer, p: number, b: Encoded): number {
  buf[p] = b.enc;
  writeU32(buf, p + 1, b.len);
  p += 5;
  if (b.bytes !== undefined) {
    buf.set(b.bytes, p);
    b.bytes = undefined;
  } else if (b.len > 0) {
    buf.write(b.text, p, 'utf8');
    b.text = '';
  }
  return p + b.len;
}

export interface BatchVisitor {
  post(kind: string, body: unknown): void;
  call(id: number, timeoutMs: number, method: string, body: unknown): void;
  /** `error`: the body is the remote {code, message}. */
  reply(id: number, body: unknown, error: boolean): void;
}

const malformed = (message: string): FrameError => ({ reason: 'malformed', message });

/**
 * Walks the entries of a batch payload (bytes[start, end)). Stops at the first bad entry and returns
 * what was wrong; entries before it have been visited. Raw-byte bodies are views of `bytes`.
 */
export function parseBatch(bytes: Uint8Array, start: number, end: number, v: BatchVisitor): FrameError | undefined {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = start;
  while (p < end) {
    const type = buf[p++] as number;
    switch (type) {
      case EntryType.Post: {
        if (p >= end) return malformed('a post entry cut short');
        const klen = buf[p++] as number;
        if (p + klen > end) return malformed('a post kind runs past the frame');
        const kind = buf.toString('utf8', p, p + klen);
        p += klen;
        const r = readBody(buf, p, end);
        if (r !== undefined) return r;
        p = lastEnd;
        v.post(kind, lastBody);
        break;
      }
      case EntryType.Call: {
        if (p + 9 > end) return malformed('a call entry cut short');
        const id = buf.readUInt32BE(p);
        const timeoutMs = buf.readUInt32BE(p + 4);
        const mlen = buf[p + 8] as number;
        p += 9;
        if (p + mlen > end) return malformed('a call method runs past the frame');
        const method = buf.toString('utf8', p, p + mlen);
        p += mlen;
        const r = readBody(buf, p, end);
        if (r !== undefined) return r;
        p = lastEnd;
        v.call(id, timeoutMs, method, lastBody);
        break;
      }
      case EntryType.Reply: {
        if (p + 4 > end) return malformed('a reply entry cut short');
        const id = buf.readUInt32BE(p);
        const r = readBody(buf, p + 4, end);
        if (r !== undefined) return r;
        p = lastEnd;
        v.reply(id, lastBody, lastEnc === BodyEncoding.Error);
        break;
      }
      default:
        return malformed(`a batch entry of unknown type ${type}`);
    }
  }
  return undefined;
}

// readBody's results, in module state rather than an object per body (this runs for every message).
let lastBody: unknown;
let lastEnd = 0;
let lastEnc = 0;

function readBody(buf: Buffer, p: number, end: number): FrameError | undefined {
  if (p + 5 > end) return malformed('a body header cut short');
  const enc = buf[p] as number;
  const len = buf.readUInt32BE(p + 1);
  p += 5;
  if (len > end - p) return malformed(`a body of ${len} bytes runs past the frame`);
  lastEnc = enc;
  lastEnd = p + len;
  switch (enc) {
    case BodyEncoding.Undefined:
      if (len !== 0) return malformed('an empty body with bytes');
      lastBody = undefined;
      return undefined;
    case BodyEncoding.Bytes:
      lastBody = new Uint8Array(buf.buffer, buf.byteOffset + p, len);
      return undefined;
    case BodyEncoding.Json:
    case BodyEncoding.Error:
      try {
        lastBody = JSON.parse(buf.toString('utf8', p, p + len)) as unknown;
      } catch {
        return malformed('a body that is not JSON');
      }
      return undefined;
    default:
      return malformed(`a body of unknown encoding ${enc}`);
  }
}
