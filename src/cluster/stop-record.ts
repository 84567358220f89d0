/**
 * `<data-dir>/cluster-stopped.json` (docs/operations.md, "Stopping and starting a cluster"): what a
 * node writes before `caxton cluster stop --all` stops it, and what `caxton cluster start --verify`
 * compares with once the cluster is back. The same record on every node: the members (name, API and
 * gossip address) and where each agent ran.
 *
 * While the file is there, a starting node knows it is one of a cluster that was stopped on purpose:
 * it counts the recorded members in the cluster's size (their graceful leaves during the stop shrank
 * it), so that a node back before the others is a minority and holds messages for agents it cannot
 * place instead of declaring them nonexistent; and it takes no agent over from a recorded member that
 * is not back yet (its agents are on its own disk, and come back with it). Once every recorded member
 * is alive again, or START_GRACE_MS after the start, the file becomes `cluster-started.json` (kept
 * for `cluster start --verify` to compare with, until the next stop) and the node is as any other.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CaxtonError } from '../errors.js';

export const STOP_RECORD_FILE = 'cluster-stopped.json';
/** The record of the last stop once the cluster is back (src/api/routes/server.ts serves it). */
export const STARTED_RECORD_FILE = 'cluster-started.json';

/** How long a node started from a stopped cluster waits for the other recorded members before it takes their agents over, ms. */
export const START_GRACE_MS = 10 * 60_000;

export interface StopRecordMember {
  readonly name: string;
  /** Its API address as its `api` tag announced it (host:port); '' when it had none. */
  readonly api: string;
  /** Its gossip address (host:port). */
  readonly gossip: string;
}

export interface StopRecord {
  readonly stopped_at: string;
  readonly reason: string;
  readonly members: readonly StopRecordMember[];
  /** Where each agent ran when the cluster stopped. */
  readonly agents: readonly { readonly name: string; readonly node: string }[];
}

export function writeStopRecord(dataDir: string, r: StopRecord): void {
  const path = join(dataDir, STOP_RECORD_FILE);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(r, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/** The record in `dataDir`, or undefined when the node was not stopped with its cluster. */
export function readStopRecord(dataDir: string, file = STOP_RECORD_FILE): StopRecord | undefined {
  const path = join(dataDir, file);
  if (!existsSync(path)) return undefined;
  let r: unknown;
  try {
    r = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CaxtonError('CAXTON_ERR_CONFIG_INVALID', `${path} is not valid JSON (${(e as Error).message}); it is written by \`caxton cluster stop --all\`: delete it to start the node as usual`);
  }
  if (!isStopRecord(r)) throw new CaxtonError('CAXTON_ERR_CONFIG_INVALID', `${path} is not a cluster stop record (members, agents); delete it to start the node as usual`);
  return r;
}

/** The last stop's record: the one a start is under way from, else the one the cluster came back from. */
export function lastStopRecord(dataDir: string): StopRecord | undefined {
  return readStopRecord(dataDir) ?? readStopRecord(dataDir, STARTED_RECORD_FILE);
}

/** Every recorded member is back: the record stays as the one the cluster started from. */
export function finishStopRecord(dataDir: string): void {
  const path = join(dataDir, STOP_RECORD_FILE);
  if (existsSync(path)) renameSync(path, join(dataDir, STARTED_RECORD_FILE));
}

export function isStopRecord(x: unknown): x is StopRecord {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  const str = (v: unknown) => typeof v === 'string';
  return (
    str(r['stopped_at']) &&
    str(r['reason']) &&
    Array.isArray(r['members']) &&
    r['members'].every((m) => typeof m === 'object' && m !== null && str((m as Record<string, unknown>)['name']) && str((m as Record<string, unknown>)['api']) && str((m as Record<string, unknown>)['gossip'])) &&
    Array.isArray(r['agents']) &&
    r['agents'].every((a) => typeof a === 'object' && a !== null && str((a as Record<string, unknown>)['name']) && str((a as Record<string, unknown>)['node']))
  );
}

/**
 * The takeover gate of a node started from a stopped cluster: closed while a recorded member is not
 * back (and for at most START_GRACE_MS); `update` with the alive members' names at every view change.
 */
export class StartGate {
  readonly #waiting: Set<string>;
  readonly #until: number;
  readonly #done: () => void;
  #open = false;

  constructor(record: StopRecord, self: string, done: () => void, now = Date.now()) {
    this.#waiting = new Set(record.members.map((m) => m.name).filter((n) => n !== self));
    this.#until = now + START_GRACE_MS;
    this.#done = done;
    if (this.#waiting.size === 0) this.#finish();
  }

  /** Whether this node may take agents over from nodes that are not up. */
  get open(): boolean {
    if (!this.#open && Date.now() >= this.#until) this.#finish();
    return this.#open;
  }

  /** The recorded members not seen alive yet. */
  get waiting(): readonly string[] {
    return [...this.#waiting];
  }

  update(alive: Iterable<string>): void {
    if (this.#open) return;
    for (const n of alive) this.#waiting.delete(n);
    if (this.#waiting.size === 0) this.#finish();
  }

  #finish(): void {
    this.#open = true;
    this.#done();
  }
}
