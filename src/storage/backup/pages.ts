/**
 * Incremental backups by SQLite page (docs/operations.md, "Backups"): the online backup API copies
 * the database page for page, so page N of a snapshot is page N of the database at that instant. Each
 * backup records the sha256 of every page; an incremental stores the pages whose hash differs from its
 * parent's (and any page past the parent's end), and a restore writes them over the parent's file.
 * No schema change and no write-path cost: the node pays only at backup time.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { Readable } from 'node:stream';

export const HASH_BYTES = 32;

/** Page size and count from the header of a SQLite file (https://www.sqlite.org/fileformat.html §1.3). */
export function sqliteGeometry(path: string): { pageSize: number; pageCount: number } {
  const fd = openSync(path, 'r');
  try {
    const header = Buffer.alloc(100);
    readSync(fd, header, 0, 100, 0);
    const raw = header.readUInt16BE(16);
    const pageSize = raw === 1 ? 65536 : raw;
    const size = fstatSync(fd).size;
    return { pageSize, pageCount: Math.floor(size / pageSize) };
  } finally {
    closeSync(fd);
  }
}

/**
 * Every page's sha256, concatenated (32 bytes a page). Read in chunks of many pages, yielding to the
 * event loop between them: hashing 1 GiB takes seconds, and the node serving traffic keeps its loop.
 */
export async function hashPages(path: string, pageSize: number, onBytes?: (n: number) => void): Promise<Buffer> {
  const fd = openSync(path, 'r');
  try {
    const pageCount = Math.floor(fstatSync(fd).size / pageSize);
    const out = Buffer.alloc(pageCount * HASH_BYTES);
    const perChunk = Math.max(1, Math.floor((4 * 1024 * 1024) / pageSize));
    const buf = Buffer.alloc(perChunk * pageSize);
    for (let first = 0; first < pageCount; first += perChunk) {
      const n = Math.min(perChunk, pageCount - first);
      readFully(fd, buf, n * pageSize, first * pageSize);
      for (let i = 0; i < n; i++) createHash('sha256').update(buf.subarray(i * pageSize, (i + 1) * pageSize)).digest().copy(out, (first + i) * HASH_BYTES);
      onBytes?.(n * pageSize);
      await new Promise<void>((r) => setImmediate(r));
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Pages (1-based) whose hash in `current` differs from `parent`'s, or that the parent did not have. */
export function changedPages(current: Buffer, parent: Buffer): number[] {
  const count = current.length / HASH_BYTES;
  const parentCount = parent.length / HASH_BYTES;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    if (i >= parentCount || current.compare(parent, i * HASH_BYTES, (i + 1) * HASH_BYTES, i * HASH_BYTES, (i + 1) * HASH_BYTES) !== 0) out.push(i + 1);
  }
  return out;
}

export function encodePageIndex(pages: readonly number[]): Buffer {
  const b = Buffer.alloc(pages.length * 4);
  pages.forEach((p, i) => b.writeUInt32BE(p, i * 4));
  return b;
}

export function decodePageIndex(b: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i + 4 <= b.length; i += 4) out.push(b.readUInt32BE(i));
  return out;
}

/** The listed pages of `path`, in order, as a stream (pages.bin). */
export function readPages(path: string, pageSize: number, pages: readonly number[]): Readable {
  const perChunk = Math.max(1, Math.floor((1024 * 1024) / pageSize));
  return Readable.from(
    (function* () {
      const fd = openSync(path, 'r');
      try {
        for (let i = 0; i < pages.length; i += perChunk) {
          const batch = pages.slice(i, i + perChunk);
          const buf = Buffer.alloc(batch.length * pageSize);
          batch.forEach((p, k) => readFully(fd, buf.subarray(k * pageSize), pageSize, (p - 1) * pageSize));
          yield buf;
        }
      } finally {
        closeSync(fd);
      }
    })(),
  );
}

/**
 * Applies one incremental to the file at `path`: sets its length to `pageCount` pages (a database
 * shrinks when pages are freed and vacuumed), then writes each page of `dataPath` (pages.bin,
 * already checked) at its place.
 */
export function applyPages(path: string, pageSize: number, pageCount: number, pages: readonly number[], dataPath: string): void {
  const src = openSync(dataPath, 'r');
  const fd = openSync(path, 'r+');
  try {
    const size = fstatSync(src).size;
    if (size !== pages.length * pageSize) throw new Error(`pages.bin holds ${size} bytes for ${pages.length} pages of ${pageSize}`);
    ftruncateSync(fd, pageCount * pageSize);
    const buf = Buffer.alloc(pageSize);
    pages.forEach((p, k) => {
      readFully(src, buf, pageSize, k * pageSize);
      writeSync(fd, buf, 0, pageSize, (p - 1) * pageSize);
    });
  } finally {
    closeSync(fd);
    closeSync(src);
  }
}

function readFully(fd: number, buf: Buffer, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new Error(`short read at ${position + done}`);
    done += n;
  }
}
