/**
 * Streaming a file into and out of a store while counting and hashing it: on the way in, the sha256
 * of the content and of the stored (possibly gzipped) bytes; on the way out, both checked against the
 * manifest before anything is trusted. gzip runs on libuv's thread pool, so a node taking a backup
 * keeps its event loop.
 */
import { createHash, type Hash } from 'node:crypto';
import { PassThrough, Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants, createGunzip, createGzip } from 'node:zlib';
import { CaxtonError } from '../../errors.js';
import type { BackupStore } from './store.js';
import type { Compression, FileRole, ManifestFile } from './manifest.js';

/**
 * gzip level 1: a database is mostly already-dense pages, and level 6 took about three times as long
 * for a few percent less (bench/operations.ts measures the sizes).
 */
const GZIP_LEVEL = constants.Z_BEST_SPEED;

/** A pass-through that hashes and counts what flows through it. */
export class Meter extends Transform {
  readonly #hash: Hash = createHash('sha256');
  bytes = 0;
  #digest: string | undefined;

  constructor(private readonly onBytes?: (n: number) => void) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null, data?: Buffer) => void): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(chunk.length);
    cb(null, chunk);
  }

  get sha256(): string {
    this.#digest ??= this.#hash.digest('hex');
    return this.#digest;
  }
}

/** Stores `source` under `key`, gzipped when asked; the manifest entry of what was stored. */
export async function putFile(store: BackupStore, key: string, path: string, role: FileRole, source: Readable, compress: boolean, onBytes?: (n: number) => void, origin?: string): Promise<ManifestFile> {
  const content = new Meter(onBytes);
  const stored = new Meter();
  const out = new PassThrough();
  const upload = store.put(key, out).catch((e: unknown) => {
    // The writer failed: stop the pipeline feeding it, or it would wait for a reader forever.
    out.destroy(e as Error);
    throw e;
  });
  const stages: (Readable | Transform | Writable)[] = compress ? [source, content, createGzip({ level: GZIP_LEVEL }), stored, out] : [source, content, stored, out];
  const [fed] = await Promise.allSettled([pipeline(stages), upload]);
  await upload;
  if (fed.status === 'rejected') throw fed.reason;
  const compression: Compression = compress ? 'gzip' : 'none';
  return { path, role, compression, size: stored.bytes, sha256: stored.sha256, content_size: content.bytes, content_sha256: content.sha256, ...(origin === undefined ? {} : { origin }) };
}

/**
 * Reads one file of a backup into `sink`, decompressed, and checks it against its manifest entry:
 * the stored size and sha256, then the content's. Throws CAXTON_ERR_BACKUP_CORRUPT naming the file
 * (`<id>/<path>`). The sink has seen the bytes by then: the caller discards what it wrote on error.
 */
export async function readFile(store: BackupStore, id: string, f: ManifestFile, sink: Writable, onBytes?: (n: number) => void): Promise<void> {
  const name = `${id}/${f.path}`;
  const stored = new Meter(onBytes);
  const content = new Meter();
  const source = await store.get(name);
  try {
    await pipeline(f.compression === 'gzip' ? [source, stored, createGunzip(), content, sink] : [source, stored, content, sink]);
  } catch (e) {
    if (e instanceof CaxtonError) throw e;
    // A truncated or flipped gzip stream fails inside gunzip: the stored bytes are what is wrong.
    if (stored.bytes !== f.size || (f.compression === 'gzip' && isZlibError(e))) {
      throw corrupt(name, stored.bytes !== f.size ? `${stored.bytes} bytes stored, the manifest says ${f.size} (truncated or replaced)` : `not a valid gzip stream (${(e as Error).message})`);
    }
    throw new CaxtonError('CAXTON_ERR_BACKUP_DESTINATION', `cannot read ${store.url}/${name}: ${(e as Error).message}`, { location: store.url, file: name }, { cause: e });
  }
  if (stored.bytes !== f.size) throw corrupt(name, `${stored.bytes} bytes stored, the manifest says ${f.size} (truncated or replaced)`);
  if (stored.sha256 !== f.sha256) throw corrupt(name, `sha256 ${stored.sha256} does not match the manifest's ${f.sha256}`);
  if (content.bytes !== f.content_size || content.sha256 !== f.content_sha256) throw corrupt(name, `its content (${content.bytes} bytes, sha256 ${content.sha256}) does not match the manifest's (${f.content_size} bytes, ${f.content_sha256})`);
}

/** A sink that keeps everything in memory (small files: keys, page lists, manifests). */
export function memorySink(): { sink: Writable; bytes(): Buffer } {
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => chunks.push(c));
  return { sink, bytes: () => Buffer.concat(chunks) };
}

export async function readSmall(store: BackupStore, id: string, f: ManifestFile): Promise<Buffer> {
  const m = memorySink();
  await readFile(store, id, f, m.sink);
  return m.bytes();
}

/** A sink that only drains (verify: the checks are the point). */
export function nullSink(): Writable {
  const p = new PassThrough();
  p.resume();
  return p;
}

function corrupt(file: string, why: string): CaxtonError {
  return new CaxtonError('CAXTON_ERR_BACKUP_CORRUPT', `${file}: ${why}`, { file });
}

function isZlibError(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? '';
  return code.startsWith('Z_') || (e as { errno?: number }).errno !== undefined && /zlib|gzip|header|unexpected end/i.test((e as Error).message);
}
