/**
 * A backup's manifest.json: what it holds and how to check it. Every file is listed with the sha256
 * and size of the bytes as stored (compressed or not) and of its content, so verify can tell a
 * damaged upload from a damaged source, and restore checks every byte it writes.
 *
 * Layout of one backup, under its location (a directory or s3://bucket/prefix):
 *
 *   <id>/manifest.json
 *   <id>/caxton.db[.gz]       full: the SQLite snapshot (online backup API)
 *   <id>/pages.bin[.gz]       incremental: the pages that changed since the parent, in page order
 *   <id>/pages.idx            incremental: their page numbers (uint32 big-endian, 1-based)
 *   <id>/pages.sha256         every page's sha256 in this snapshot (what the next incremental compares)
 *   <id>/files/...            admin.key, gossip.keyring, isolated, the TLS files (the CA key only when asked)
 */
import { CaxtonError } from '../../errors.js';

/** Bumped when a reader of the previous format could misread a new backup. */
export const BACKUP_FORMAT = 1;
export const MANIFEST = 'manifest.json';

export type BackupType = 'full' | 'incremental';
export type Compression = 'gzip' | 'none';

/**
 * What a file is for. Data-dir files go back into the data dir; TLS files into `<target>/certs/`
 * (their original paths are in `origin`).
 */
export const FILE_ROLES = [
  'database',
  'pages',
  'page-index',
  'page-hashes',
  'admin-key',
  'gossip-keyring',
  'isolated',
  'cluster-ca-cert',
  'cluster-node-cert',
  'cluster-node-key',
  'api-tls-cert',
  'api-tls-key',
  'api-tls-ca-cert',
  'ca-key',
] as const;
export type FileRole = (typeof FILE_ROLES)[number];

export interface ManifestFile {
  /** Relative to the backup's directory. */
  readonly path: string;
  readonly role: FileRole;
  readonly compression: Compression;
  /** Bytes as stored, and their sha256 (hex). */
  readonly size: number;
  readonly sha256: string;
  /** Bytes once decompressed, and their sha256. */
  readonly content_size: number;
  readonly content_sha256: string;
  /** Where the node read it from (absolute path); absent for the database's own files. */
  readonly origin?: string;
}

export interface ManifestParent {
  readonly id: string;
  /** The location the parent was written to (it may be another prefix: one per day, as the runbook's). */
  readonly location: string;
  /** sha256 of the parent's pages.sha256 content: the parent this incremental was computed against. */
  readonly page_hashes_sha256: string;
}

export interface Manifest {
  readonly format: number;
  readonly id: string;
  readonly caxton_version: string;
  readonly node: string;
  /** ISO time the snapshot was taken. */
  readonly created_at: string;
  readonly type: BackupType;
  readonly parent: ManifestParent | null;
  readonly database: {
    /** PRAGMA user_version of the snapshot (storage/database.ts's migrations). */
    readonly schema_version: number;
    readonly page_size: number;
    readonly page_count: number;
    /** Pages stored by this backup (all of them for a full one). */
    readonly pages_stored: number;
  };
  readonly files: readonly ManifestFile[];
}

/** Checks a manifest read from a store; throws CAXTON_ERR_BACKUP_CORRUPT naming it. */
export function parseManifest(text: string, where: string): Manifest {
  const bad = (why: string) => new CaxtonError('CAXTON_ERR_BACKUP_CORRUPT', `${where}: ${why}`, { file: where });
  let m: Partial<Manifest>;
  try {
    m = JSON.parse(text) as Partial<Manifest>;
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message})`);
  }
  if (typeof m !== 'object' || m === null) throw bad('not a JSON object');
  if (typeof m.format !== 'number') throw bad('no format version');
  if (m.format > BACKUP_FORMAT) throw bad(`format ${m.format} is newer than this Caxton reads (${BACKUP_FORMAT}): restore with a newer Caxton`);
  if (typeof m.id !== 'string' || (m.type !== 'full' && m.type !== 'incremental')) throw bad('no id or type');
  if (m.type === 'incremental' && (typeof m.parent !== 'object' || m.parent === null || typeof m.parent.id !== 'string')) throw bad('an incremental backup without its parent');
  const d = m.database;
  if (typeof d !== 'object' || d === null || !Number.isInteger(d.page_size) || !Number.isInteger(d.page_count) || d.page_size < 512 || d.page_count < 1) throw bad('no database page size or count');
  if (!Array.isArray(m.files)) throw bad('no file list');
  for (const f of m.files) {
    const ok =
      typeof f === 'object' && f !== null && typeof f.path === 'string' && !f.path.startsWith('/') && !f.path.split('/').includes('..') &&
      (FILE_ROLES as readonly string[]).includes(f.role) && (f.compression === 'gzip' || f.compression === 'none') &&
      Number.isInteger(f.size) && Number.isInteger(f.content_size) && /^[0-9a-f]{64}$/.test(f.sha256) && /^[0-9a-f]{64}$/.test(f.content_sha256);
    if (!ok) throw bad(`file entry ${JSON.stringify(f).slice(0, 200)} is malformed`);
  }
  return m as Manifest;
}

export function fileOf(m: Manifest, role: FileRole): ManifestFile | undefined {
  return m.files.find((f) => f.role === role);
}

export function requireFile(m: Manifest, role: FileRole): ManifestFile {
  const f = fileOf(m, role);
  if (f === undefined) throw new CaxtonError('CAXTON_ERR_BACKUP_CORRUPT', `${m.id}/${MANIFEST}: no ${role} file listed`, { file: `${m.id}/${MANIFEST}` });
  return f;
}

/** Stored bytes of a backup (what it costs on the destination). */
export function storedBytes(m: Manifest): number {
  return m.files.reduce((n, f) => n + f.size, 0);
}
