/**
 * The backups a node made, by id, with where each went (`<data-dir>/backup-catalog.json`): what lets
 * `backup verify --id X` and `backup restore --id X` find a backup without being told its location,
 * also with the node stopped (the CLI reads the file). Not part of any backup, and a restore leaves
 * the target's catalog as it is, so that it still lists the backups taken after the one restored.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackupType } from './manifest.js';

export const CATALOG_FILE = 'backup-catalog.json';

export interface CatalogEntry {
  readonly id: string;
  readonly type: BackupType;
  readonly parent: string | null;
  /** The destination it was written to; the backup is `<location>/<id>/`. */
  readonly location: string;
  readonly node: string;
  /** ISO time of the snapshot. */
  readonly created_at: string;
  /** Bytes stored. */
  readonly size_bytes: number;
}

export function readCatalog(dataDir: string): CatalogEntry[] {
  const path = join(dataDir, CATALOG_FILE);
  if (!existsSync(path)) return [];
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { backups?: unknown };
    return Array.isArray(parsed.backups) ? parsed.backups.filter(isEntry) : [];
  } catch {
    // A damaged catalog must not stop backups: it is an index, the backups themselves are complete.
    return [];
  }
}

function write(dataDir: string, entries: readonly CatalogEntry[]): void {
  const path = join(dataDir, CATALOG_FILE);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ format: 1, backups: entries }, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

export function addToCatalog(dataDir: string, entry: CatalogEntry): void {
  write(dataDir, [...readCatalog(dataDir).filter((e) => e.id !== entry.id), entry]);
}

export function removeFromCatalog(dataDir: string, ids: ReadonlySet<string>): void {
  write(dataDir, readCatalog(dataDir).filter((e) => !ids.has(e.id)));
}

/** The entry for `id` in the first of these data dirs' catalogs that has it. */
export function findInCatalogs(dataDirs: readonly string[], id: string): CatalogEntry | undefined {
  for (const d of dataDirs) {
    const e = readCatalog(d).find((x) => x.id === id);
    if (e !== undefined) return e;
  }
  return undefined;
}

function isEntry(v: unknown): v is CatalogEntry {
  const e = v as Partial<CatalogEntry>;
  return typeof e === 'object' && e !== null && typeof e.id === 'string' && typeof e.location === 'string' && typeof e.created_at === 'string' && (e.type === 'full' || e.type === 'incremental');
}
