/**
 * `caxton backup restore` (and, for the integrator's `cluster restore`, a stopped node's own restore):
 * rebuilds a data dir from a backup's chain. Works offline: it reads the backup and writes the target
 * directly, with no node running.
 *
 * Nothing in the target changes until every byte has been checked: each file is read into a staging
 * directory inside the target (same filesystem, so the final step is a rename) against its manifest,
 * the incrementals are applied in order, and the rebuilt database's page hashes must equal the ones
 * the backup recorded. Only then are the database (its WAL and shared-memory files removed), the
 * admin key, the gossip keyring and the isolated marker put in place; TLS files go to
 * `<target>/certs/<role>.pem` (their original paths are in the result). The target's backup catalog
 * is left as it is.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CaxtonError } from '../../errors.js';
import { readDataDirLock } from '../data-dir-lock.js';
import { DATA_DIR_FILES, type BackupProgress } from './create.js';
import { requireFile, storedBytes, type FileRole, type Manifest } from './manifest.js';
import { applyPages, decodePageIndex, hashPages } from './pages.js';
import { checkLink, resolveChain, type ChainLink } from './read.js';
import { openStore, type S3Options } from './store.js';
import { readFile, readSmall } from './streams.js';

export interface RestoreOptions {
  /** Where the backup is: the destination it was written to (PATH or s3://bucket/prefix). */
  readonly source: string;
  readonly id: string;
  /** The data dir to write (created if missing). */
  readonly target: string;
  /** Overwrite a data dir that a running node holds. @default false */
  readonly force?: boolean;
  readonly s3?: S3Options;
  readonly onProgress?: (p: BackupProgress) => void;
}

export interface RestoredFile {
  readonly role: FileRole;
  /** Where it was written. */
  readonly path: string;
  /** Where the node had it (TLS files): copy it back there, or point the config at `path`. */
  readonly origin?: string;
}

export interface RestoreResult {
  readonly id: string;
  readonly node: string;
  readonly created_at: string;
  /** Oldest (the full backup) first. */
  readonly chain: string[];
  readonly target: string;
  readonly database_bytes: number;
  readonly files: RestoredFile[];
  /** A running node held the target and --force overwrote it. */
  readonly forced_over_live: boolean;
  readonly duration_ms: number;
}

export async function restoreBackup(o: RestoreOptions): Promise<RestoreResult> {
  const t0 = performance.now();
  const progress = o.onProgress ?? (() => {});
  const lock = existsSync(o.target) ? readDataDirLock(o.target) : undefined;
  if (lock?.live === true && o.force !== true) {
    throw new CaxtonError(
      'CAXTON_ERR_BACKUP_TARGET_LIVE',
      `${o.target} is the data dir of running node ${lock.info.node || '?'} (pid ${lock.info.pid}${lock.info.api_url === '' ? '' : `, API ${lock.info.api_url}`}); stop it before restoring, or pass --force`,
      { target: o.target, pid: lock.info.pid, node: lock.info.node },
    );
  }
  const store = await openStore(o.source, o.s3);
  const chain = await resolveChain(store, o.id, o.s3);
  const last = (chain.at(-1) as ChainLink).manifest;
  const created = !existsSync(o.target);
  mkdirSync(o.target, { recursive: true, mode: 0o700 });
  const staging = join(o.target, `.restore-${o.id}-${randomBytes(4).toString('hex')}`);
  mkdirSync(staging, { mode: 0o700 });
  try {
    const total = chain.reduce((n, l) => n + storedBytes(l.manifest), 0);
    let done = 0;
    const onBytes = (n: number) => progress({ phase: 'reading', doneBytes: (done += n), totalBytes: total });
    const db = join(staging, 'caxton.db');
    let previous: Manifest | undefined;
    for (const link of chain) {
      const m = link.manifest;
      if (previous !== undefined) checkLink(previous, m);
      if (m.type === 'full') {
        await readFile(link.store, m.id, requireFile(m, 'database'), createWriteStream(db, { mode: 0o600 }), onBytes);
      } else {
        const pages = decodePageIndex(await readSmall(link.store, m.id, requireFile(m, 'page-index')));
        if (pages.length !== m.database.pages_stored) throw corrupt(`${m.id}/pages.idx`, `lists ${pages.length} pages, the manifest says ${m.database.pages_stored}`);
        const bin = join(staging, 'pages.bin');
        await readFile(link.store, m.id, requireFile(m, 'pages'), createWriteStream(bin), onBytes);
        progress({ phase: 'applying', doneBytes: done, totalBytes: total });
        applyPages(db, m.database.page_size, m.database.page_count, pages, bin);
        rmSync(bin);
      }
      previous = m;
    }
    const expected = await readSmall(store, last.id, requireFile(last, 'page-hashes'));
    const dbBytes = last.database.page_size * last.database.page_count;
    let hashed = 0;
    const actual = await hashPages(db, last.database.page_size, (n) => progress({ phase: 'verifying', doneBytes: (hashed += n), totalBytes: dbBytes }));
    if (!actual.equals(expected)) throw corrupt(`${last.id}/pages.sha256`, 'the database rebuilt from the chain does not have the pages this backup recorded');
    quickCheck(db, last.id);

    // Every byte checked: the other files, then the swap.
    const files: RestoredFile[] = [];
    const certs: { role: FileRole; staged: string; origin?: string }[] = [];
    const dataFiles = new Map<FileRole, string>();
    for (const f of last.files) {
      const inDataDir = DATA_DIR_FILES.find((d) => d.role === f.role);
      const isCert = f.path.startsWith('files/certs/');
      if (inDataDir === undefined && !isCert) continue;
      const staged = join(staging, inDataDir?.name ?? `${f.role}.pem`);
      await readFile(store, last.id, f, createWriteStream(staged, { mode: 0o600 }), onBytes);
      if (inDataDir !== undefined) dataFiles.set(f.role, staged);
      else certs.push({ role: f.role, staged, ...(f.origin === undefined ? {} : { origin: f.origin }) });
    }
    const forcedOverLive = readDataDirLock(o.target)?.live === true;
    for (const suffix of ['-wal', '-shm']) rmSync(join(o.target, `caxton.db${suffix}`), { force: true });
    renameSync(db, join(o.target, 'caxton.db'));
    files.push({ role: 'database', path: join(o.target, 'caxton.db') });
    for (const d of DATA_DIR_FILES) {
      const dest = join(o.target, d.name);
      const staged = dataFiles.get(d.role);
      // A file the node did not have then must not be there now (a later keyring, an isolation since).
      if (staged === undefined) {
        rmSync(dest, { force: true });
        continue;
      }
      renameSync(staged, dest);
      chmodSync(dest, 0o600);
      files.push({ role: d.role, path: dest });
    }
    if (certs.length > 0) mkdirSync(join(o.target, 'certs'), { recursive: true, mode: 0o700 });
    for (const c of certs) {
      const dest = join(o.target, 'certs', `${c.role}.pem`);
      copyFileSync(c.staged, dest);
      chmodSync(dest, 0o600);
      files.push({ role: c.role, path: dest, ...(c.origin === undefined ? {} : { origin: c.origin }) });
    }
    progress({ phase: 'done', doneBytes: total, totalBytes: total });
    return {
      id: o.id,
      node: last.node,
      created_at: last.created_at,
      chain: chain.map((l) => l.manifest.id),
      target: o.target,
      database_bytes: dbBytes,
      files,
      forced_over_live: forcedOverLive,
      duration_ms: Math.round(performance.now() - t0),
    };
  } catch (e) {
    // A refused restore leaves no trace: not even the directory it made.
    if (created) rmSync(o.target, { recursive: true, force: true });
    throw e;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** SQLite's own structural check of the rebuilt file (cheaper than integrity_check, which also checks indexes against tables). */
function quickCheck(path: string, id: string): void {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db.pragma('quick_check') as { quick_check: string }[];
    if (rows.length !== 1 || rows[0]?.quick_check !== 'ok') throw corrupt(`${id}/caxton.db`, `SQLite's quick_check fails: ${rows.slice(0, 3).map((r) => r.quick_check).join('; ')}`);
  } finally {
    db.close();
  }
}

function corrupt(file: string, why: string): CaxtonError {
  return new CaxtonError('CAXTON_ERR_BACKUP_CORRUPT', `${file}: ${why}`, { file });
}
