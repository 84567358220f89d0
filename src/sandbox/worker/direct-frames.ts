/**
 * The framing of the direct path between workers of two nodes (./direct-link.ts): length-prefixed
 * frames on one TCP connection.
 *
 *   frame   = u32 BE length of what follows, u8 kind, body
 *   MESSAGE = u8 priority, u16 BE byte length of the receiver, receiver (UTF-8), message JSON (UTF-8)
 *   control = one JSON value (HELLO, FENCE_OK, REVOKE, CLOSE, CLOSED)
 *
 * Frames written in one turn go out in one socket write (FrameWriter gathers them into one buffer).
 * A frame longer than the reader's limit, an unknown kind or a body that does not parse is a protocol
 * error: the reader throws DirectFrameError and the connection is closed with that reason.
 */
import type { PriorityLevel } from './mailbox.js';

export const FrameKind = {
  /** An agent's message for an agent of the other side. */
  MESSAGE: 1,
  /** Dialer → acceptor, first frame: { token, node, host, port }, the token a fence carried. */
  HELLO: 2,
  /** The fence for `name` came through: messages for it take this connection from now on. { token, name } */
  FENCE_OK: 3,
  /** `name` is not here (any more): send it through the main thread again. { name } */
  REVOKE: 4,
  /** No more messages for `name` on this connection; answer CLOSED after the ones before. { name } */
  CLOSE: 5,
  /** Every message for `name` sent before CLOSE was taken. { name } */
  CLOSED: 6,
} as const;
export type FrameKindCode = (typeof FrameKind)[keyof typeof FrameKind];

const HEADER = 5;
const MESSAGE_HEADER = 3;
const MAX_NAME_BYTES = 0xffff;

export class DirectFrameError extends Error {}

/** What a reader hands on: messages, and control frames with their parsed JSON body. */
export interface FrameVisitor {
  message(to: string, json: string, priority: PriorityLevel): void;
  control(kind: FrameKindCode, body: unknown): void;
}

/** Gathers the frames of one turn into one buffer; take() hands it over for one socket write. */
export class FrameWriter {
  #buf: Buffer;
  #len = 0;

  constructor(initialBytes = 16 * 1024) {
    this.#buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes gathered and not yet taken. */
  get length(): number {
    return this.#len;
  }

  message(to: string, json: string, priority: PriorityLevel): void {
    const toBytes = Buffer.byteLength(to);
    if (toBytes > MAX_NAME_BYTES) throw new DirectFrameError(`a receiver name of ${toBytes} bytes does not fit a frame (at most ${MAX_NAME_BYTES})`);
    // A UTF-16 code unit is at most 3 UTF-8 bytes: reserve that, write, then set the real length.
    this.#reserve(HEADER + MESSAGE_HEADER + toBytes + json.length * 3);
    const start = this.#len;
    const b = this.#buf;
    b[start + 4] = FrameKind.MESSAGE;
    b[start + 5] = priority;
    b.writeUInt16BE(toBytes, start + 6);
    let at = start + HEADER + MESSAGE_HEADER;
    at += b.write(to, at, 'utf8');
    at += b.write(json, at, 'utf8');
    b.writeUInt32BE(at - start - 4, start);
    this.#len = at;
  }

  control(kind: Exclude<FrameKindCode, typeof FrameKind.MESSAGE>, body: unknown): void {
    const text = JSON.stringify(body);
    this.#reserve(HEADER + text.length * 3);
    const start = this.#len;
    const b = this.#buf;
    b[start + 4] = kind;
    const at = start + HEADER + b.write(text, start + HEADER, 'utf8');
    b.writeUInt32BE(at - start - 4, start);
    this.#len = at;
  }

  /** The gathered frames as a buffer of their own (the socket keeps it until written), or undefined. */
  take(): Buffer | undefined {
    if (this.#len === 0) return undefined;
    const out = Buffer.from(this.#buf.subarray(0, this.#len));
    this.#len = 0;
    return out;
  }

  #reserve(bytes: number): void {
    const need = this.#len + bytes;
    if (need <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(need, this.#buf.length * 2));
    this.#buf.copy(next, 0, 0, this.#len);
    this.#buf = next;
  }
}

/** Cuts a byte stream into frames, across chunk boundaries, and hands each to a visitor. */
export class FrameReader {
  readonly #maxFrameBytes: number;
  #pending: Buffer | undefined;

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Bytes of an incomplete frame kept for the next chunk. */
  get buffered(): number {
    return this.#pending?.length ?? 0;
  }

  /** Reads every complete frame of `chunk` (after what an earlier chunk left). Throws DirectFrameError. */
  push(chunk: Buffer, visit: FrameVisitor): void {
    let b = chunk;
    if (this.#pending !== undefined) {
      b = Buffer.concat([this.#pending, chunk]);
      this.#pending = undefined;
    }
    let at = 0;
    while (b.length - at >= 4) {
      const len = b.readUInt32BE(at);
      if (len < 1 || len > this.#maxFrameBytes) throw new DirectFrameError(`a frame of ${len} bytes (at most ${this.#maxFrameBytes})`);
      if (b.length - at - 4 < len) break;
      this.#frame(b, at + 4, at + 4 + len, visit);
      at += 4 + len;
    }
    if (at < b.length) this.#pending = b.subarray(at);
  }

  #frame(b: Buffer, start: number, end: number, visit: FrameVisitor): void {
    const kind = b[start] as number;
    if (kind === FrameKind.MESSAGE) {
      if (end - start < 1 + MESSAGE_HEADER) throw new DirectFrameError('a message frame shorter than its header');
      const priority = b[start + 1] as number;
      if (priority > 3) throw new DirectFrameError(`a message of priority ${priority} (0 to 3)`);
      const toEnd = start + 1 + MESSAGE_HEADER + b.readUInt16BE(start + 2);
      if (toEnd > end) throw new DirectFrameError('a message frame whose receiver runs past its end');
      visit.message(b.toString('utf8', start + 1 + MESSAGE_HEADER, toEnd), b.toString('utf8', toEnd, end), priority as PriorityLevel);
      return;
    }
    if (kind < FrameKind.HELLO || kind > FrameKind.CLOSED) throw new DirectFrameError(`a frame of unknown kind ${kind}`);
    let body: unknown;
    try {
      body = JSON.parse(b.toString('utf8', start + 1, end));
    } catch {
      throw new DirectFrameError(`a control frame (kind ${kind}) whose body is not JSON`);
    }
    visit.control(kind as FrameKindCode, body);
  }
}
