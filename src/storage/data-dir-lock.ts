/**
 * Whether a data dir is in use: a running node holds `<data-dir>/caxton.lock` (its pid, when it
 * started and its API URL), taken in CaxtonNode.start and released in stop. A lock whose pid is no
 * longer a live process is stale (the node was killed): the next start takes it over, and a restore
 * may overwrite the data dir. `caxton backup restore` refuses a live data dir without --force.
 *
 * Not a kernel lock (flock is not in Node's standard library): it tells live from dead, which is what
 * a restore and a second start need; a pid reused by an unrelated process after a crash reads as live
 * until that process ends (remove the file by hand then).
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CaxtonError } from '../errors.js';

export const LOCK_FILE = 'caxton.lock';

export interface LockInfo {
  readonly pid: number;
  readonly node: string;
  /** ISO time. */
  readonly started_at: string;
  /** '' until the API listens (or when the node has no API). */
  readonly api_url: string;
}

/** The lock in `dataDir` and whether its process still runs; undefined when there is no (readable) lock. */
export function readDataDirLock(dataDir: string): { info: LockInfo; live: boolean } | undefined {
  let info: LockInfo;
  try {
    const parsed = JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8')) as Partial<LockInfo>;
    if (typeof parsed.pid !== 'number' || !Number.isInteger(parsed.pid) || parsed.pid <= 0) return undefined;
    info = { pid: parsed.pid, node: String(parsed.node ?? ''), started_at: String(parsed.started_at ?? ''), api_url: String(parsed.api_url ?? '') };
  } catch {
    // Absent, or half-written by a node killed while writing it: no process holds it.
    return undefined;
  }
  return { info, live: processAlive(info.pid) };
}

/** The lock a running node holds on its data dir. */
export class DataDirLock {
  readonly #path: string;
  #info: LockInfo;
  #released = false;

  private constructor(path: string, info: LockInfo) {
    this.#path = path;
    this.#info = info;
  }

  /**
   * Takes the lock, or throws CAXTON_ERR_DATA_DIR_LOCKED when another live process holds it. A stale
   * lock (dead pid) and this process's own (a node of this process that did not stop: a test's
   * simulated crash) are taken over.
   */
  static acquire(dataDir: string, node: string): DataDirLock {
    const held = readDataDirLock(dataDir);
    if (held !== undefined && held.live && held.info.pid !== process.pid) {
      throw new CaxtonError(
        'CAXTON_ERR_DATA_DIR_LOCKED',
        `data dir ${dataDir} is in use by node ${held.info.node || '?'} (pid ${held.info.pid}, started ${held.info.started_at}${held.info.api_url === '' ? '' : `, API ${held.info.api_url}`})`,
        { dataDir, pid: held.info.pid, node: held.info.node },
      );
    }
    const lock = new DataDirLock(join(dataDir, LOCK_FILE), { pid: process.pid, node, started_at: new Date().toISOString(), api_url: '' });
    lock.#write();
    return lock;
  }

  get info(): LockInfo {
    return this.#info;
  }

  /** Records the API's URL once it listens (what `backup restore` names when it refuses). */
  setApiUrl(url: string): void {
    this.#info = { ...this.#info, api_url: url };
    if (!this.#released) this.#write();
  }

  /** Idempotent; removes the file only while it is still this process's. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    try {
      const cur = JSON.parse(readFileSync(this.#path, 'utf8')) as Partial<LockInfo>;
      if (cur.pid === process.pid && cur.started_at === this.#info.started_at) rmSync(this.#path, { force: true });
    } catch {
      // already gone
    }
  }

  #write(): void {
    const tmp = `${this.#path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.#info)}\n`, { mode: 0o600 });
    renameSync(tmp, this.#path);
  }
}

/** Signal 0 checks existence; EPERM means the process exists but belongs to someone else. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
