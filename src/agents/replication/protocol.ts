/**
 * The replication protocol between an agent's owner and its replica, over `Peers`
 * (src/cluster/peers.ts). Bodies are JSON; keys and values travel as base64. The kinds and methods
 * are on the wire: only append.
 *
 * - `repl.deltas` (post, owner → replica): deltas per agent, each {seq, writes}, stamped with the
 *   owner's epoch. Applied in seq order; a full snapshot replaces the copy.
 * - `repl.acks` (post, replica → owner): per agent, the highest seq the replica holds, or why not
 *   (fenced: a higher epoch owns the agent; behind: a delta is missing, send from seq + 1 or a snapshot).
 * - `repl.fence` (call, new owner → replica): raise the agent's epoch and return the copy, in one step.
 * - `repl.forget` (call, owner → replica): the agent was removed; drop its copy.
 */
import { CaxtonError } from '../../errors.js';

export const KIND_DELTAS = 'repl.deltas';
export const KIND_ACKS = 'repl.acks';
export const METHOD_FENCE = 'repl.fence';
export const METHOD_FORGET = 'repl.forget';

/** One delta on the wire. */
export interface WireDelta {
  /** seq */
  readonly s: number;
  /** 1: a full snapshot (replaces the copy). */
  readonly f?: 1;
  /** Flat [key, value-or-null, ...], base64. */
  readonly w: (string | null)[];
  /** Timers: flat [id, due_at, message-or-null (gone), ...]. */
  readonly t?: (number | string | null)[];
  /** The agent's last timer id (snapshots). */
  readonly l?: number;
  /** The at-least-once message id the handler applied. */
  readonly m?: string;
}

export interface WireAgentDeltas {
  /** agent */
  readonly a: string;
  /** epoch */
  readonly e: number;
  readonly d: WireDelta[];
}

export interface DeltasBody {
  readonly b: WireAgentDeltas[];
}

export const ACK_OK = 0;
export const ACK_FENCED = 1;
export const ACK_BEHIND = 2;
export type AckCode = typeof ACK_OK | typeof ACK_FENCED | typeof ACK_BEHIND;

/** Flat [agent, epoch, seq, code, ...]: OK → seq held at epoch; FENCED → epoch is the replica's; BEHIND → seq is what it holds at epoch (-1: it needs a snapshot). */
export interface AcksBody {
  readonly b: (string | number)[];
}

export interface FenceBody {
  readonly a: string;
  /** The epoch the new owner asks for at least. */
  readonly e: number;
}

export interface FenceReply {
  /** The agent's epoch now (≥ what was asked). */
  readonly epoch: number;
  /** The copy's epoch and seq before the fence (0, 0: the replica had no copy). */
  readonly priorEpoch: number;
  readonly seq: number;
  /** [key, value] pairs, base64. */
  readonly kv: [string, string][];
  /** Pending timers: [id, due_at, message]. */
  readonly timers: [number, number, string][];
  readonly lastTimerId: number;
  readonly applied: string[];
}

export const b64 = (u: Uint8Array): string => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
export const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

function frameError(from: string, what: string): CaxtonError {
  return new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', `bad ${what} from node ${from}; the frame was dropped (mismatched Caxton versions?)`, { node: from });
}

/** Checks a `repl.deltas` body from a peer; throws CAXTON_ERR_CLUSTER_FRAME naming what was wrong. */
export function parseDeltas(from: string, body: unknown): DeltasBody {
  const b = (body as { b?: unknown } | null)?.b;
  if (!Array.isArray(b)) throw frameError(from, `${KIND_DELTAS} body (no list)`);
  for (const x of b as unknown[]) {
    const ad = x as Partial<WireAgentDeltas> | null;
    if (ad === null || typeof ad.a !== 'string' || !isInt(ad.e) || !Array.isArray(ad.d)) throw frameError(from, `${KIND_DELTAS} entry`);
    for (const d of ad.d as unknown[]) {
      const w = d as Partial<WireDelta> | null;
      if (w === null || !isInt(w.s) || !Array.isArray(w.w) || w.w.length % 2 !== 0 || (w.m !== undefined && typeof w.m !== 'string')) throw frameError(from, `${KIND_DELTAS} delta of ${ad.a}`);
      for (let i = 0; i < w.w.length; i++) {
        const v = w.w[i];
        if (typeof v !== 'string' && !(v === null && i % 2 === 1)) throw frameError(from, `${KIND_DELTAS} write of ${ad.a}`);
      }
      if (w.l !== undefined && !isInt(w.l)) throw frameError(from, `${KIND_DELTAS} last timer id of ${ad.a}`);
      if (w.t !== undefined) {
        if (!Array.isArray(w.t) || w.t.length % 3 !== 0) throw frameError(from, `${KIND_DELTAS} timers of ${ad.a}`);
        for (let i = 0; i < w.t.length; i += 3) {
          const m = w.t[i + 2];
          if (!isInt(w.t[i]) || !isInt(w.t[i + 1]) || (typeof m !== 'string' && m !== null)) throw frameError(from, `${KIND_DELTAS} timer of ${ad.a}`);
        }
      }
    }
  }
  return body as DeltasBody;
}

export function parseAcks(from: string, body: unknown): AcksBody {
  const b = (body as { b?: unknown } | null)?.b;
  if (!Array.isArray(b) || b.length % 4 !== 0) throw frameError(from, `${KIND_ACKS} body`);
  for (let i = 0; i < b.length; i += 4) {
    if (typeof b[i] !== 'string' || !isInt(b[i + 1]) || typeof b[i + 2] !== 'number' || !Number.isSafeInteger(b[i + 2]) || ![ACK_OK, ACK_FENCED, ACK_BEHIND].includes(b[i + 3] as number)) {
      throw frameError(from, `${KIND_ACKS} entry`);
    }
  }
  return body as AcksBody;
}

export function parseFence(from: string, body: unknown): FenceBody {
  const f = body as Partial<FenceBody> | null;
  if (f === null || typeof f !== 'object' || typeof f.a !== 'string' || !isInt(f.e)) throw frameError(from, `${METHOD_FENCE} request`);
  return f as FenceBody;
}
