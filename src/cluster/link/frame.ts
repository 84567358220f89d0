/**
 * The link's wire format (docs/cluster-routing.md, "Link"). A link stream starts with one byte,
 * LINK_MAGIC, sent by the dialer (it tells a link stream from a memberlist one on the shared gossip
 * port), then frames both ways:
 *
 *     [u32 BE length of what follows][u8 type][payload]
 *
 * ONLY APPEND to FrameType and EntryType, and bump LINK_VERSION when a layout changes: the numbers are
 * on the wire.
 *
 * The decoder never throws on bad input: it returns a FrameError naming what was wrong, and the caller
 * closes that connection. Payloads are handed out as views into the bytes received (no copy) when a
 * frame sits inside one chunk; a frame spanning chunks is assembled once into its own buffer.
 */

/**
 * First byte of a link stream. No memberlist stream starts with it: message types are 0..13 (wire/
 * messages.ts), 244 is memberlist ≥ 0.3's label; 0x16 stays free for TLS (issue 13).
 */
export const LINK_MAGIC = 0xca;
/** Link protocol version, in the hello. 1: this layout. */
export const LINK_VERSION = 1;
/** Default cap on one frame (a module blob fits). */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Bytes before the payload: length (4) + type (1). */
export const FRAME_HEADER_BYTES = 5;
/** Bytes of a hello nonce. */
export const NONCE_BYTES = 16;
/** Bytes of a handshake proof (HMAC-SHA256). */
export const PROOF_BYTES = 32;

export const FrameType = {
  /** [u8 version][u8 flags: 1 = keyed, a proof follows][16 nonce][u8 name length][name] */
  Hello: 1,
  /** [32 HMAC-SHA256]: see handshake.ts */
  Proof: 2,
  /** entries (EntryType) until the end of the frame; costs its whole length in credit */
  Batch: 3,
  /** [u32 bytes]: the receiver consumed that many more bytes of batches */
  Credit: 4,
  /** [u32 sequence] */
  Ping: 5,
  /** [u32 sequence], echoing a ping */
  Pong: 6,
  /** [reason utf8]: the sender closes the connection after it */
  GoAway: 7,
} as const;
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

export const EntryType = {
  /** [u8 kind length][kind][body] */
  Post: 1,
  /** [u32 id][u32 timeout ms][u8 method length][method][body] */
  Call: 2,
  /** [u32 id][body]; a body of encoding Error carries {code, message} */
  Reply: 3,
} as const;

/** How a body is encoded: [u8 encoding][u32 BE length][bytes]. */
export const BodyEncoding = {
  Undefined: 0,
  Json: 1,
  Bytes: 2,
  /** Replies only: the handler threw; JSON {code, message}. */
  Error: 3,
} as const;
export type BodyEncodingCode = (typeof BodyEncoding)[keyof typeof BodyEncoding];

export type FrameErrorReason = 'too-large' | 'empty' | 'unknown-type' | 'malformed' | 'truncated';

export interface FrameError {
  readonly reason: FrameErrorReason;
  readonly message: string;
}

const frameError = (reason: FrameErrorReason, message: string): FrameError => ({ reason, message });

const KNOWN_TYPES = new Set<number>(Object.values(FrameType));

/**
 * Splits a byte stream into frames. `push` calls `onFrame(type, bytes, start, end)` for every whole
 * frame (payload = bytes[start, end)) and returns the first error met, after which the decoder is dead
 * (the connection must close). `onFrame` may return an error to stop as well.
 */
export class FrameDecoder {
  readonly #max: number;
  readonly #onFrame: (type: number, bytes: Uint8Array, start: number, end: number) => FrameError | undefined;
  /** A frame spanning chunks: its bytes so far (header included). */
  #partial: Uint8Array | undefined;
  #partialFill = 0;
  /** Header bytes of a frame whose length is not known yet. */
  readonly #head = new Uint8Array(4);
  #headFill = 0;
  #failed: FrameError | undefined;

  constructor(maxFrameBytes: number, onFrame: (type: number, bytes: Uint8Array, start: number, end: number) => FrameError | undefined) {
    this.#max = maxFrameBytes;
    this.#onFrame = onFrame;
  }

  /** True when bytes of an unfinished frame are held (a stream that ends now was truncated). */
  get midFrame(): boolean {
    return this.#partial !== undefined || this.#headFill > 0;
  }

  push(chunk: Uint8Array): FrameError | undefined {
    if (this.#failed !== undefined) return this.#failed;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.#partial !== undefined) {
        const p = this.#partial;
        const take = Math.min(p.length - this.#partialFill, n - i);
        p.set(chunk.subarray(i, i + take), this.#partialFill);
        this.#partialFill += take;
        i += take;
        if (this.#partialFill < p.length) return undefined;
        this.#partial = undefined;
        const err = this.#deliver(p, 0, p.length);
        if (err !== undefined) return this.#fail(err);
        continue;
      }
      if (this.#headFill > 0 || n - i < 4) {
        // The length itself spans chunks.
        while (this.#headFill < 4 && i < n) this.#head[this.#headFill++] = chunk[i++] as number;
        if (this.#headFill < 4) return undefined;
        this.#headFill = 0;
        const len = readU32(this.#head, 0);
        const err = this.#check(len);
        if (err !== undefined) return this.#fail(err);
        const p = new Uint8Array(4 + len);
        p.set(this.#head, 0);
        this.#partial = p;
        this.#partialFill = 4;
        continue;
      }
      const len = readU32(chunk, i);
      const err = this.#check(len);
      if (err !== undefined) return this.#fail(err);
      if (n - i >= 4 + len) {
        const e = this.#deliver(chunk, i, i + 4 + len);
        if (e !== undefined) return this.#fail(e);
        i += 4 + len;
        continue;
      }
      const p = new Uint8Array(4 + len);
      p.set(chunk.subarray(i), 0);
      this.#partial = p;
      this.#partialFill = n - i;
      i = n;
    }
    return undefined;
  }

  #check(len: number): FrameError | undefined {
    if (len === 0) return frameError('empty', 'a frame of length 0 (every frame has a type byte)');
    if (len > this.#max) return frameError('too-large', `a frame of ${len} bytes, over the link's frame limit of ${this.#max} (ClusterOptions.link.maxFrameBytes)`);
    return undefined;
  }

  #deliver(bytes: Uint8Array, start: number, end: number): FrameError | undefined {
    const type = bytes[start + 4] as number;
    if (!KNOWN_TYPES.has(type)) return frameError('unknown-type', `a frame of unknown type ${type}`);
    return this.#onFrame(type, bytes, start + FRAME_HEADER_BYTES, end);
  }

  #fail(err: FrameError): FrameError {
    this.#failed = err;
    this.#partial = undefined;
    return err;
  }
}

export function readU32(b: Uint8Array, at: number): number {
  return (((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number)) >>> 0;
}

export function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/** A whole small control frame. */
export function controlFrame(type: FrameTypeCode, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  writeU32(out, 0, 1 + payload.length);
  out[4] = type;
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

export function u32Frame(type: FrameTypeCode, v: number): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + 4);
  writeU32(out, 0, 5);
  out[4] = type;
  writeU32(out, 5, v);
  return out;
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder('utf-8', { fatal: true });

export interface Hello {
  readonly version: number;
  readonly proof: boolean;
  readonly nonce: Uint8Array;
  readonly name: string;
}

export function encodeHello(h: Hello): Uint8Array {
  const name = utf8.encode(h.name);
  if (name.length > 255) throw new RangeError(`node name ${JSON.stringify(h.name)} is longer than 255 bytes`);
  const p = new Uint8Array(2 + NONCE_BYTES + 1 + name.length);
  p[0] = h.version;
  p[1] = h.proof ? 1 : 0;
  p.set(h.nonce, 2);
  p[2 + NONCE_BYTES] = name.length;
  p.set(name, 3 + NONCE_BYTES);
  return controlFrame(FrameType.Hello, p);
}

export function decodeHello(b: Uint8Array, start: number, end: number): Hello | FrameError {
  const fixed = 3 + NONCE_BYTES;
  if (end - start < fixed) return frameError('malformed', `a hello of ${end - start} bytes, shorter than ${fixed}`);
  const nameLen = b[start + 2 + NONCE_BYTES] as number;
  if (end - start !== fixed + nameLen) return frameError('malformed', `a hello whose name length ${nameLen} does not match its size`);
  let name: string;
  try {
    name = utf8d.decode(b.subarray(start + fixed, end));
  } catch {
    return frameError('malformed', 'a hello whose node name is not UTF-8');
  }
  if (name.length === 0) return frameError('malformed', 'a hello without a node name');
  return {
    version: b[start] as number,
    proof: ((b[start + 1] as number) & 1) === 1,
    nonce: b.slice(start + 2, start + 2 + NONCE_BYTES),
    name,
  };
}

export function encodeGoAway(reason: string): Uint8Array {
  return controlFrame(FrameType.GoAway, utf8.encode(reason.slice(0, 512)));
}

export function decodeGoAway(b: Uint8Array, start: number, end: number): string {
  return new TextDecoder().decode(b.subarray(start, end));
}
