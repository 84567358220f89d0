/**
 * Directory entries: what one node (the authority, the node hosting the agent) says about one of its
 * agents under one key, versioned so that every holder picks the same winner whatever order entries
 * arrive in. Keys are of three kinds, hashed for placement as rendezvous keys:
 *
 * | kind    | key             | rendezvous key  | held when                                                  |
 * |---------|-----------------|-----------------|------------------------------------------------------------|
 * | `name`  | the agent name  | `<name>`        | the agent is not on its HRW owner (pinned, moved, failover) |
 * | `cap`   | the capability  | `cap:<c>`       | always, one entry per providing agent                       |
 * | `topic` | the topic       | `topic:<t>`     | always, one entry per subscribing agent                     |
 *
 * The kind travels apart from the key because agent names may contain ':' (an agent named `cap:x`
 * and the capability `x` hash alike but are different entries).
 *
 * Order (`newer`): epoch first (a failover or move raises the agent's epoch, so the new host wins
 * over the old one whatever their counters), then the authority's incarnation and counter, then the
 * node name, so that two hosts claiming one agent at one epoch (a view change racing a deploy) still
 * resolve alike on every holder. A tombstone is an entry like any other: it wins when it is newer.
 */
import { CaxtonError } from '../../errors.js';

export type EntryKind = 'name' | 'cap' | 'topic';

export interface DirectoryEntry {
  readonly kind: EntryKind;
  /** The agent name (kind name), the capability (cap) or the topic (topic). */
  readonly key: string;
  readonly agent: string;
  /** The agent's id on its node. */
  readonly id: string;
  /** The authority: the node hosting the agent (or that hosted it, for a tombstone). */
  readonly node: string;
  /** The agent's lifecycle state as its node reports it (running, suspended, ...). */
  readonly state: string;
  /** Carried by `name` entries only: cap and topic entries leave them out to stay small. */
  readonly capabilities?: readonly string[];
  readonly topics?: readonly string[];
  /** The agent's ownership epoch (fencing token). */
  readonly epoch: number;
  /** The authority's incarnation (one per process start, increasing) and its counter within it. */
  readonly inc: number;
  readonly ctr: number;
  /** Removed or moved away: wins over older live entries until it expires. */
  readonly tombstone?: true;
}

/** Limits on what a peer may send: a body past them is refused with a logged reason. */
export const LIMITS = {
  /** Names, capabilities, topics, ids, states, node names. */
  maxStringLength: 512,
  /** Capabilities or topics on one agent. */
  maxListLength: 256,
  /** Entries in one post. */
  maxEntriesPerPost: 4096,
} as const;

/** The rendezvous key of an entry's key: whose top K nodes hold it. */
export function placementKey(kind: EntryKind, key: string): string {
  return kind === 'name' ? key : kind === 'cap' ? `cap:${key}` : `topic:${key}`;
}

/** True when `a` wins over `b`. */
export function newer(a: DirectoryEntry, b: DirectoryEntry): boolean {
  if (a.epoch !== b.epoch) return a.epoch > b.epoch;
  if (a.inc !== b.inc) return a.inc > b.inc;
  if (a.ctr !== b.ctr) return a.ctr > b.ctr;
  return a.node > b.node;
}

/** Same authority and version (the same write). */
export function sameVersion(a: DirectoryEntry, b: DirectoryEntry): boolean {
  return a.node === b.node && a.inc === b.inc && a.ctr === b.ctr && a.epoch === b.epoch;
}

/** A peer sent something that is not what the directory protocol says; the message names the field. */
export class BadDirectoryBody extends Error {
  override readonly name = 'BadDirectoryBody';
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function str(o: Record<string, unknown>, field: string, where: string): string {
  const v = o[field];
  if (typeof v !== 'string' || v.length === 0 || v.length > LIMITS.maxStringLength) {
    throw new BadDirectoryBody(`${where}.${field} must be a string of 1 to ${LIMITS.maxStringLength} characters`);
  }
  return v;
}

export function uint(o: Record<string, unknown>, field: string, where: string): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new BadDirectoryBody(`${where}.${field} must be a non-negative integer`);
  return v;
}

function strList(o: Record<string, unknown>, field: string, where: string): string[] | undefined {
  const v = o[field];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length > LIMITS.maxListLength) throw new BadDirectoryBody(`${where}.${field} must be an array of at most ${LIMITS.maxListLength} strings`);
  return v.map((s, i) => {
    if (typeof s !== 'string' || s.length === 0 || s.length > LIMITS.maxStringLength) {
      throw new BadDirectoryBody(`${where}.${field}[${i}] must be a string of 1 to ${LIMITS.maxStringLength} characters`);
    }
    return s;
  });
}

export function asObject(v: unknown, where: string): Record<string, unknown> {
  if (!isObject(v)) throw new BadDirectoryBody(`${where} must be an object`);
  return v;
}

/** Validates one entry from a peer; throws BadDirectoryBody naming the field. */
export function parseEntry(v: unknown, where: string): DirectoryEntry {
  const o = asObject(v, where);
  const kind = o['kind'];
  if (kind !== 'name' && kind !== 'cap' && kind !== 'topic') throw new BadDirectoryBody(`${where}.kind must be "name", "cap" or "topic"`);
  const key = str(o, 'key', where);
  const agent = str(o, 'agent', where);
  if (kind === 'name' && key !== agent) throw new BadDirectoryBody(`${where}.key must equal ${where}.agent for a name entry`);
  const tomb = o['tombstone'];
  if (tomb !== undefined && tomb !== true) throw new BadDirectoryBody(`${where}.tombstone must be true or absent`);
  const capabilities = kind === 'name' ? strList(o, 'capabilities', where) : undefined;
  const topics = kind === 'name' ? strList(o, 'topics', where) : undefined;
  return {
    kind,
    key,
    agent,
    id: str(o, 'id', where),
    node: str(o, 'node', where),
    state: str(o, 'state', where),
    ...(capabilities === undefined ? {} : { capabilities }),
    ...(topics === undefined ? {} : { topics }),
    epoch: uint(o, 'epoch', where),
    inc: uint(o, 'inc', where),
    ctr: uint(o, 'ctr', where),
    ...(tomb === true ? { tombstone: true as const } : {}),
  };
}

/** Validates a list of entries (`field` of `o`). */
export function parseEntries(o: Record<string, unknown>, field: string, where: string): DirectoryEntry[] {
  const v = o[field];
  if (!Array.isArray(v)) throw new BadDirectoryBody(`${where}.${field} must be an array of entries`);
  if (v.length > LIMITS.maxEntriesPerPost) throw new BadDirectoryBody(`${where}.${field} has ${v.length} entries, more than ${LIMITS.maxEntriesPerPost}`);
  return v.map((e, i) => parseEntry(e, `${where}.${field}[${i}]`));
}

/** The error a call handler throws for a bad body: the caller sees the code and the reason. */
export function badCall(method: string, e: unknown): CaxtonError {
  return new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', `${method}: ${e instanceof Error ? e.message : String(e)}`);
}
