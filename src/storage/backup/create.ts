/**
 * Taking a backup of a running node: a consistent snapshot of its SQLite database with the online
 * backup API, the files beside it (admin key, gossip keyring, isolated marker) and the TLS files its
 * config names, written with a manifest to a directory or S3.
 *
 * Consistency: the snapshot is read through its own connection inside one read transaction. In WAL
 * mode that pins one instant of the database for the whole copy: writers (the API, the workers) go on
 * committing meanwhile, and the copy is neither restarted by them nor sees any of their commits. What
 * it holds is exactly the database as of one commit: an agent's state and its outbox agree.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { CaxtonError } from '../../errors.js';
import { addToCatalog, readCatalog, type CatalogEntry } from './catalog.js';
import { BACKUP_FORMAT, MANIFEST, requireFile, storedBytes, type BackupType, type FileRole, type Manifest, type ManifestFile, type ManifestParent } from './manifest.js';
import { changedPages, encodePageIndex, hashPages, readPages, sqliteGeometry } from './pages.js';
import { openStore, type BackupStore, type S3Options } from './store.js';
import { putFile, readSmall } from './streams.js';
import { loadManifest } from './read.js';

export type BackupPhase = 'snapshot' | 'hashing' | 'writing' | 'reading' | 'verifying' | 'applying' | 'done';

export interface BackupProgress {
  readonly phase: BackupPhase;
  readonly doneBytes: number;
  readonly totalBytes: number;
}

/** The node's files outside the database that a restored node needs (absent: not configured). */
export interface NodeFiles {
  readonly clusterCaCert?: string;
  readonly clusterNodeCert?: string;
  readonly clusterNodeKey?: string;
  readonly apiCert?: string;
  readonly apiKey?: string;
  readonly apiCaCert?: string;
  /** The CA key, stored only with includeCaKey. */
  readonly caKey?: string;
}

export interface CreateOptions {
  readonly dataDir: string;
  readonly databasePath: string;
  readonly nodeId: string;
  readonly version: string;
  readonly type: BackupType;
  /** A directory or s3://bucket/prefix; the backup goes to `<destination>/<id>/`. */
  readonly destination: string;
  readonly compress: boolean;
  readonly includeCaKey: boolean;
  readonly files: NodeFiles;
  readonly s3?: S3Options;
  readonly onProgress?: (p: BackupProgress) => void;
  /** The id to give (tests, and `cluster backup`: one id on every node); default backup-YYYYMMDD-HHMM, with -2, -3... when taken. */
  readonly id?: string;
  /** With `id`: refuse it when this node's catalog or the destination has a backup by that id already. */
  readonly idMustBeFree?: boolean;
}

export interface BackupResult {
  readonly id: string;
  readonly type: BackupType;
  readonly parent: string | null;
  readonly node: string;
  readonly location: string;
  readonly created_at: string;
  /** Bytes stored, and bytes of content (the database as restored plus the files). */
  readonly size_bytes: number;
  readonly content_bytes: number;
  readonly database_bytes: number;
  readonly pages_stored: number;
  readonly page_count: number;
  readonly files: number;
  readonly duration_ms: number;
}

/** Files in the data dir, by role, and where each goes back. */
const DATA_DIR_FILES: readonly { role: FileRole; name: string }[] = [
  { role: 'admin-key', name: 'admin.key' },
  { role: 'gossip-keyring', name: 'gossip.keyring' },
  { role: 'isolated', name: 'isolated' },
];

const TLS_FILES: readonly { role: FileRole; field: keyof NodeFiles }[] = [
  { role: 'cluster-ca-cert', field: 'clusterCaCert' },
  { role: 'cluster-node-cert', field: 'clusterNodeCert' },
  { role: 'cluster-node-key', field: 'clusterNodeKey' },
  { role: 'api-tls-cert', field: 'apiCert' },
  { role: 'api-tls-key', field: 'apiKey' },
  { role: 'api-tls-ca-cert', field: 'apiCaCert' },
];

export { DATA_DIR_FILES };

export async function createBackup(o: CreateOptions): Promise<BackupResult> {
  const t0 = performance.now();
  const progress = o.onProgress ?? (() => {});
  const store = await openStore(o.destination, o.s3);
  const sources = fileSources(o);
  const parent = o.type === 'incremental' ? await parentOf(o) : undefined;
  const createdAt = new Date();
  const id = o.id ?? (await freeId(store, o.dataDir, createdAt));
  if (o.id !== undefined && o.idMustBeFree === true && (readCatalog(o.dataDir).some((e) => e.id === o.id) || (await store.exists(`${o.id}/${MANIFEST}`)))) {
    throw new CaxtonError('CAXTON_ERR_BACKUP_DESTINATION', `node ${o.nodeId} has a backup ${o.id} already (its catalog, or ${o.destination}): a cluster backup gives every node the same id`, { id: o.id });
  }
  const work = join(o.dataDir, 'backup-work', `${id}-${randomBytes(4).toString('hex')}`);
  mkdirSync(work, { recursive: true, mode: 0o700 });
  try {
    const snapshot = join(work, 'caxton.db');
    progress({ phase: 'snapshot', doneBytes: 0, totalBytes: 0 });
    await snapshotDatabase(o.databasePath, snapshot, (done, total) => progress({ phase: 'snapshot', doneBytes: done, totalBytes: total }));
    const { pageSize, pageCount } = sqliteGeometry(snapshot);
    const dbBytes = pageSize * pageCount;
    let hashed = 0;
    const hashes = await hashPages(snapshot, pageSize, (n) => progress({ phase: 'hashing', doneBytes: (hashed += n), totalBytes: dbBytes }));
    const schemaVersion = userVersion(snapshot);

    const files: ManifestFile[] = [];
    let pagesStored = pageCount;
    let changed: number[] | undefined;
    if (parent !== undefined) {
      // Another page size since the parent (a VACUUM after PRAGMA page_size) needs no case of its own:
      // a page's hash covers its whole length, so no page of one size equals one of another.
      changed = changedPages(hashes, parent.hashes);
      pagesStored = changed.length;
    }
    const total = (changed === undefined ? dbBytes : changed.length * pageSize) + hashes.length + sources.reduce((n, s) => n + s.size, 0);
    let written = 0;
    const onBytes = (n: number) => progress({ phase: 'writing', doneBytes: (written += n), totalBytes: total });
    const put = (path: string, role: FileRole, source: Readable, compress: boolean, origin?: string) => putFile(store, `${id}/${path}`, path, role, source, compress, onBytes, origin);
    if (changed === undefined) {
      files.push(await put(o.compress ? 'caxton.db.gz' : 'caxton.db', 'database', createReadStream(snapshot), o.compress));
    } else {
      files.push(await put(o.compress ? 'pages.bin.gz' : 'pages.bin', 'pages', readPages(snapshot, pageSize, changed), o.compress));
      files.push(await put('pages.idx', 'page-index', Readable.from([encodePageIndex(changed)]), false));
    }
    // Hashes are random bytes: gzip would only cost time.
    files.push(await put('pages.sha256', 'page-hashes', Readable.from([hashes]), false));
    for (const s of sources) files.push(await put(s.path, s.role, createReadStream(s.origin), false, s.absolute ? s.origin : undefined));

    const manifest: Manifest = {
      format: BACKUP_FORMAT,
      id,
      caxton_version: o.version,
      node: o.nodeId,
      created_at: createdAt.toISOString(),
      type: o.type,
      parent: parent?.ref ?? null,
      database: { schema_version: schemaVersion, page_size: pageSize, page_count: pageCount, pages_stored: pagesStored },
      files,
    };
    // Last: a backup without its manifest is not one (a crash mid-way leaves no half backup behind a valid id).
    await store.put(`${id}/${MANIFEST}`, Readable.from([Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)]));
    const size = storedBytes(manifest);
    const entry: CatalogEntry = { id, type: o.type, parent: parent?.ref.id ?? null, location: store.url, node: o.nodeId, created_at: manifest.created_at, size_bytes: size };
    addToCatalog(o.dataDir, entry);
    progress({ phase: 'done', doneBytes: total, totalBytes: total });
    return {
      id,
      type: o.type,
      parent: entry.parent,
      node: o.nodeId,
      location: store.url,
      created_at: manifest.created_at,
      size_bytes: size,
      content_bytes: files.reduce((n, f) => n + f.content_size, 0),
      database_bytes: dbBytes,
      pages_stored: pagesStored,
      page_count: pageCount,
      files: files.length,
      duration_ms: Math.round(performance.now() - t0),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
    // The parent too once no other backup works there (one runs at a time; a leftover is harmless).
    try {
      rmdirSync(dirname(work));
    } catch {
      // not empty or gone
    }
  }
}

/**
 * A consistent copy of the database at `dest` (see the file comment): a read transaction on a
 * connection of its own, then the online backup API in steps of 4 MiB, yielding to the event loop
 * between steps.
 */
export async function snapshotDatabase(databasePath: string, dest: string, onStep?: (done: number, total: number) => void): Promise<void> {
  const src = new Database(databasePath, { readonly: true, fileMustExist: true });
  try {
    src.pragma('busy_timeout = 5000');
    const pageSize = src.pragma('page_size', { simple: true }) as number;
    src.exec('BEGIN');
    // A read transaction starts at the first read: this one pins the snapshot the copy will see.
    src.prepare('SELECT count(*) FROM sqlite_master').get();
    const step = Math.max(1, Math.floor((4 * 1024 * 1024) / pageSize));
    await src.backup(dest, {
      progress: ({ totalPages, remainingPages }) => {
        onStep?.((totalPages - remainingPages) * pageSize, totalPages * pageSize);
        return step;
      },
    });
    src.exec('COMMIT');
  } finally {
    src.close();
  }
}

function userVersion(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
}

interface Source {
  readonly role: FileRole;
  readonly path: string;
  readonly origin: string;
  readonly size: number;
  /** A file outside the data dir (TLS): its path is kept in the manifest. */
  readonly absolute: boolean;
}

/** The files beside the database, checked readable before the snapshot is taken. */
function fileSources(o: CreateOptions): Source[] {
  const out: Source[] = [];
  for (const f of DATA_DIR_FILES) {
    const p = join(o.dataDir, f.name);
    if (existsSync(p)) out.push({ role: f.role, path: `files/${f.name}`, origin: p, size: statSync(p).size, absolute: false });
  }
  const tls = [...TLS_FILES];
  if (o.includeCaKey) {
    const caKey = o.files.caKey ?? (o.files.clusterCaCert === undefined ? undefined : join(dirname(o.files.clusterCaCert), 'ca.key'));
    if (caKey === undefined || !existsSync(caKey)) {
      throw new CaxtonError('CAXTON_ERR_BACKUP_SOURCE_FILE', `--include-ca-key: ${caKey === undefined ? 'no CA key is configured (backup.ca_key, or security.cluster.mtls.ca_cert with ca.key beside it)' : `${caKey} does not exist`}`, { file: caKey ?? null });
    }
    out.push(source('ca-key', caKey));
  }
  for (const t of tls) {
    const p = o.files[t.field];
    if (p !== undefined && p !== '') out.push(source(t.role, p));
  }
  return out;
}

function source(role: FileRole, path: string): Source {
  try {
    return { role, path: `files/certs/${role}.pem`, origin: path, size: statSync(path).size, absolute: true };
  } catch (e) {
    throw new CaxtonError('CAXTON_ERR_BACKUP_SOURCE_FILE', `cannot read ${path} (${role}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: path, role }, { cause: e });
  }
}

/** The last backup in the catalog, which an incremental is computed against, with its page hashes. */
async function parentOf(o: CreateOptions): Promise<{ ref: ManifestParent; hashes: Buffer }> {
  const last = readCatalog(o.dataDir).sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at)).at(-1);
  if (last === undefined) throw new CaxtonError('CAXTON_ERR_BACKUP_NO_PARENT', `node ${o.nodeId} has no earlier backup to take an incremental one against`, { node: o.nodeId });
  try {
    const store = await openStore(last.location, o.s3);
    const m = await loadManifest(store, last.id);
    const f = requireFile(m, 'page-hashes');
    const hashes = await readSmall(store, last.id, f);
    return { ref: { id: last.id, location: store.url, page_hashes_sha256: f.content_sha256 }, hashes };
  } catch (e) {
    throw new CaxtonError('CAXTON_ERR_BACKUP_NO_PARENT', `the last backup, ${last.id} at ${last.location}, cannot be read: ${(e as Error).message}`, { parent: last.id }, { cause: e });
  }
}

/** The id a backup to `destination` taken now would get on the node of `dataDir` (`cluster backup` gives it to every node). */
export async function freeBackupId(destination: string, dataDir: string, s3?: S3Options): Promise<string> {
  return freeId(await openStore(destination, s3), dataDir, new Date());
}

/** backup-YYYYMMDD-HHMM (UTC), as the runbook names them; -2, -3... when that id is taken. */
async function freeId(store: BackupStore, dataDir: string, at: Date): Promise<string> {
  const iso = at.toISOString();
  const base = `backup-${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}`;
  const known = new Set(readCatalog(dataDir).map((e) => e.id));
  for (let n = 1; ; n++) {
    const id = n === 1 ? base : `${base}-${n}`;
    if (!known.has(id) && !(await store.exists(`${id}/${MANIFEST}`))) return id;
  }
}

