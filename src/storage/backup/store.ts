/**
 * Where backups are kept: a directory, or an S3 bucket and prefix (s3-store.ts). Both are a flat
 * space of keys ("backup-20240115-0200/manifest.json") under the location the operator named.
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CaxtonError } from '../../errors.js';

/** S3 settings beyond the SDK's default chain (config `backup.s3.*`). */
export interface S3Options {
  /** An S3-compatible store's URL; '' or absent: AWS (or AWS_ENDPOINT_URL_S3, which the SDK reads). */
  readonly endpoint?: string;
  /** '' or absent: the SDK's chain (AWS_REGION, the profile). */
  readonly region?: string;
  /** Address buckets as https://host/bucket rather than https://bucket.host (most S3-compatible stores). */
  readonly forcePathStyle?: boolean;
}

export interface BackupStore {
  /** The location, as a string the operator can give back (a path or s3://bucket/prefix). */
  readonly url: string;
  /** Writes `key` from `body`; the key is complete only once this resolves. */
  put(key: string, body: Readable): Promise<void>;
  /** Reads `key`; throws CAXTON_ERR_BACKUP_NOT_FOUND when it does not exist. */
  get(key: string): Promise<Readable>;
  exists(key: string): Promise<boolean>;
  /** Every key under `prefix` ('' for all), relative to the location. */
  list(prefix: string): Promise<string[]>;
  /** Removes every key under `prefix` (a backup's directory). */
  remove(prefix: string): Promise<void>;
}

export function isS3Url(location: string): boolean {
  return location.startsWith('s3://');
}

/** The store for `location` (PATH or s3://bucket/prefix); S3's SDK is loaded only when used. */
export async function openStore(location: string, s3: S3Options = {}): Promise<BackupStore> {
  if (isS3Url(location)) {
    const { S3Store } = await import('./s3-store.js');
    return S3Store.open(location, s3);
  }
  if (location.trim() === '') throw new CaxtonError('CAXTON_ERR_BACKUP_DESTINATION', 'the backup location is empty', { location });
  return new LocalStore(resolve(location));
}

/** The location of one sub-directory of a location (a node's backups under a cluster's destination). */
export function childLocation(location: string, sub: string): string {
  return isS3Url(location) ? `${location.replace(/\/+$/, '')}/${sub}` : join(location, sub);
}

export class LocalStore implements BackupStore {
  readonly url: string;

  constructor(readonly root: string) {
    this.url = root;
  }

  #path(key: string): string {
    const p = resolve(this.root, key);
    // Keys come from manifests, which may have been tampered with: never outside the location.
    if (p !== this.root && !p.startsWith(this.root + sep)) throw new CaxtonError('CAXTON_ERR_BACKUP_CORRUPT', `key ${key} points outside ${this.root}`, { file: key });
    return p;
  }

  async put(key: string, body: Readable): Promise<void> {
    const path = this.#path(key);
    try {
      mkdirSync(dirname(path), { recursive: true });
      const tmp = `${path}.partial`;
      await pipeline(body, createWriteStream(tmp, { mode: 0o600 }));
      renameSync(tmp, path);
    } catch (e) {
      if (e instanceof CaxtonError) throw e;
      throw new CaxtonError('CAXTON_ERR_BACKUP_DESTINATION', `cannot write ${path}: ${(e as Error).message}`, { location: this.url }, { cause: e });
    }
  }

  async get(key: string): Promise<Readable> {
    const path = this.#path(key);
    if (!existsSync(path)) throw new CaxtonError('CAXTON_ERR_BACKUP_NOT_FOUND', `${path} does not exist`, { file: key, location: this.url });
    return createReadStream(path);
  }

  async exists(key: string): Promise<boolean> {
    return existsSync(this.#path(key));
  }

  async list(prefix: string): Promise<string[]> {
    const base = prefix === '' ? this.root : this.#path(prefix);
    if (!existsSync(base) || !statSync(base).isDirectory()) return [];
    const out: string[] = [];
    for (const e of readdirSync(base, { recursive: true, withFileTypes: true })) {
      if (!e.isFile()) continue;
      const full = join(e.parentPath, e.name);
      out.push(full.slice(this.root.length + 1).split(sep).join('/'));
    }
    return out.sort();
  }

  async remove(prefix: string): Promise<void> {
    rmSync(this.#path(prefix), { recursive: true, force: true });
  }
}
