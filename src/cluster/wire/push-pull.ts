/**
 * The push/pull exchange body (net.go sendLocalState / readRemoteState), after the type byte 6:
 *
 *     pushPullHeader{Nodes, UserStateLen, Join}  (msgpack)
 *     pushNodeState x Nodes                       (consecutive msgpack objects)
 *     UserStateLen raw bytes                      (the delegate's state; Serf: [2] + msgpack)
 *
 * The parser is resumable so the stream reader can feed it bytes as they arrive: it remembers the
 * last whole object and, when the buffer ends inside one, reports how many bytes it needs. Limits:
 * Nodes and UserStateLen must be >= 0, Nodes <= maxNodes, and both must fit below `limit` (the stream
 * cap, or the buffer end for a complete buffer) counting at least one byte per node, so a header
 * cannot make us allocate for data that could never arrive.
 */
import { WireError, isWireError } from './errors.js';
import { META_MAX_SIZE, MAX_PUSH_STATE_NODES } from './constants.js';
import { MsgpackReader, MsgpackWriter } from './msgpack.js';
import { readStruct, writeStruct } from './struct.js';
import { pushNodeStateSchema, pushPullHeaderSchema, type PushNodeState, type PushPullHeader } from './schemas.js';

/** A whole push/pull: the header's Nodes and UserStateLen are implied by the arrays. */
export interface PushPull {
  readonly Join: boolean;
  readonly Nodes: readonly PushNodeState[];
  /** The delegate's state; null or empty when there is none. */
  readonly UserState: Uint8Array | null;
}

export interface PushPullLimits {
  /** Maximum nesting inside one msgpack object. */
  readonly maxDepth?: number;
  /** Maximum Nodes accepted in a header (default MAX_PUSH_STATE_NODES). */
  readonly maxNodes?: number;
}

/** Checks Meta and Vsn of an outgoing node (also used for alive). */
export function checkNodeFields(what: string, meta: Uint8Array | null, vsn: Uint8Array | null): void {
  if (meta !== null && meta.length > META_MAX_SIZE) {
    throw new WireError('meta-too-large', `${what}: Meta is ${meta.length} bytes, limit is ${META_MAX_SIZE}`);
  }
  // memberlist v0.2.2 indexes Vsn[0..5] once it is non-empty (state.go verifyProtocol, aliveNode);
  // a short one panics or is ignored there, so never send one.
  if (vsn !== null && vsn.length !== 0 && vsn.length !== 6) {
    throw new WireError('invalid-value', `${what}: Vsn must be 6 bytes [pmin pmax pcur dmin dmax dcur], not ${vsn.length}`);
  }
}

/** Appends the push/pull body (without the type byte) to `w`. */
export function writePushPull(w: MsgpackWriter, msg: PushPull): void {
  const user = msg.UserState ?? new Uint8Array(0);
  const header: PushPullHeader = { Nodes: msg.Nodes.length, UserStateLen: user.length, Join: msg.Join };
  writeStruct(w, pushPullHeaderSchema, header);
  for (const n of msg.Nodes) {
    checkNodeFields(`pushNodeState ${n.Name}`, n.Meta, n.Vsn);
    writeStruct(w, pushNodeStateSchema, n);
  }
  w.raw(user);
}

/** Outcome of one parsing step: the message, or the buffer length needed before trying again. */
export type ParseStep<T> = { readonly done: true; readonly value: T; readonly end: number } | { readonly done: false; readonly needed: number };

/**
 * Resumable parser for a push/pull body starting at `start`. Call `step(buf, end)` with the bytes so
 * far (the same growing buffer, or any buffer holding the same bytes from offset 0).
 */
export class PushPullParser {
  #pos: number;
  #header: PushPullHeader | undefined;
  readonly #nodes: PushNodeState[] = [];
  readonly #limit: number;
  readonly #complete: boolean;
  readonly #maxDepth: number | undefined;
  readonly #maxNodes: number;

  /**
   * @param limit the offset no byte of the message may reach past (stream cap or buffer end)
   * @param complete true when the buffer already holds everything there will be: running out of
   *   bytes is then an error (`truncated`) instead of a request for more
   */
  constructor(start: number, limit: number, complete: boolean, limits: PushPullLimits = {}) {
    this.#pos = start;
    this.#limit = limit;
    this.#complete = complete;
    this.#maxDepth = limits.maxDepth;
    this.#maxNodes = limits.maxNodes ?? MAX_PUSH_STATE_NODES;
  }

  #over(what: string, need: number): WireError {
    return this.#complete
      ? new WireError('truncated', `push/pull: ${what} needs ${need} bytes, the message has ${this.#limit}`, { offset: this.#pos, needed: need })
      : new WireError('too-large', `push/pull: ${what} would exceed the ${this.#limit}-byte limit`, { offset: this.#pos });
  }

  /** Reads one object; returns undefined (and sets `needed`) when the buffer ends inside it. */
  #object<T extends object>(buf: Uint8Array, end: number, read: (r: MsgpackReader) => T): T | { needed: number } {
    const r = new MsgpackReader(buf, this.#pos, end, this.#maxDepth);
    try {
      const v = read(r);
      this.#pos = r.pos;
      return v;
    } catch (err) {
      if (!this.#complete && isWireError(err, 'truncated')) {
        const needed = Math.max(err.needed ?? end + 1, end + 1);
        if (needed > this.#limit) throw this.#over('an object', needed);
        return { needed };
      }
      throw err;
    }
  }

  step(buf: Uint8Array, end: number): ParseStep<PushPull> {
    if (this.#header === undefined) {
      const h = this.#object(buf, end, (r) => readStruct(r, pushPullHeaderSchema));
      if ('needed' in h) return { done: false, needed: h.needed };
      if (h.Nodes < 0 || h.UserStateLen < 0) {
        throw new WireError('int-range', `push/pull: negative header (Nodes ${h.Nodes}, UserStateLen ${h.UserStateLen})`, { offset: this.#pos });
      }
      if (h.Nodes > this.#maxNodes) {
        throw new WireError('too-large', `push/pull: ${h.Nodes} nodes exceeds the limit of ${this.#maxNodes}`, { offset: this.#pos });
      }
      // Every node takes at least one byte, then the user state follows.
      const minEnd = this.#pos + h.Nodes + h.UserStateLen;
      if (minEnd > this.#limit) throw this.#over(`${h.Nodes} nodes and ${h.UserStateLen} bytes of user state`, minEnd);
      this.#header = h;
    }
    const h = this.#header;
    while (this.#nodes.length < h.Nodes) {
      const n = this.#object(buf, end, (r) => readStruct(r, pushNodeStateSchema));
      if ('needed' in n) return { done: false, needed: n.needed };
      this.#nodes.push(n);
      const minEnd = this.#pos + (h.Nodes - this.#nodes.length) + h.UserStateLen;
      if (minEnd > this.#limit) throw this.#over('the remaining nodes and user state', minEnd);
    }
    const userEnd = this.#pos + h.UserStateLen;
    if (userEnd > end) {
      if (this.#complete) throw this.#over(`${h.UserStateLen} bytes of user state`, userEnd);
      return { done: false, needed: userEnd };
    }
    const user = h.UserStateLen > 0 ? buf.slice(this.#pos, userEnd) : null;
    this.#pos = userEnd;
    return { done: true, value: { Join: h.Join, Nodes: this.#nodes, UserState: user }, end: userEnd };
  }
}

/** Decodes a whole push/pull body held in `body` (after the type byte). Trailing bytes are ignored. */
export function decodePushPullBody(body: Uint8Array, limits: PushPullLimits = {}): PushPull {
  const step = new PushPullParser(0, body.length, true, limits).step(body, body.length);
  if (!step.done) throw new WireError('truncated', 'push/pull: incomplete', { needed: step.needed });
  return step.value;
}
