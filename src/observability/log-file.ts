/**
 * The node's log file (observability.logging.file): pino's own destination (sonic-boom, buffered,
 * written off the hot path) on a fixed path, rotated by size and reopened on SIGHUP.
 *
 * Rotation keeps the classic layout that `tail -F`, logrotate and log shippers expect: the current
 * file is always `path`; when it reaches `maxBytes` it becomes `path.1`, the previous `path.1` becomes
 * `path.2`, ..., and the oldest beyond `maxBackups` is deleted. (pino-roll numbers the current file
 * instead, caxton.1.log, caxton.2.log, ..., so the file being written has no fixed name: not what an
 * operator tails at /var/log/caxton/caxton.log.) A line is never split: the file is rotated between
 * writes, once what was buffered is written, so a rotated file ends up past `maxBytes` by what the
 * node logged meanwhile (a few KiB; a burst of lines while it rotated, tens of KiB).
 *
 * `reopen()` (SIGHUP, `systemctl reload caxton`) closes the file and opens `path` again: after an
 * outside tool (logrotate without copytruncate) renamed it, the node writes to a new file at `path`.
 */
import { renameSync, rmSync, statSync } from 'node:fs';
import { pino } from 'pino';

type Destination = ReturnType<typeof pino.destination>;

export interface LogFileOptions {
  readonly path: string;
  /** Rotate once the file holds this many bytes. */
  readonly maxBytes: number;
  /** Rotated files kept (path.1 ... path.N); 0 keeps none (the file starts over). */
  readonly maxBackups: number;
}

export class LogFile {
  readonly stream: Destination;
  readonly #o: LogFileOptions;
  #size: number;
  #rotating = false;
  /** The file is opened (and reopened) asynchronously: a flush before that would throw or miss lines. */
  #opened: Promise<void>;

  constructor(o: LogFileOptions) {
    this.#o = o;
    this.#size = sizeOf(o.path);
    // mkdir: the log directory may not exist yet (LogsDirectory= creates it under systemd).
    this.stream = pino.destination({ dest: o.path, sync: false, mkdir: true, append: true });
    this.#opened = this.#nextOpen();
    this.stream.on('write', (n: number) => {
      this.#size += n;
      if (this.#size >= o.maxBytes && !this.#rotating) this.#rotate();
    });
  }

  /** Opens `path` again (after logrotate moved it away): the next lines go to a new file there. */
  reopen(): void {
    this.#opened = this.#nextOpen();
    this.stream.reopen();
    this.#size = sizeOf(this.#o.path);
  }

  /**
   * Writes what is buffered, once the file is open. Synchronously: the stream's own asynchronous
   * flush can call back on the 'drain' a reopen emits, before the lines are written (the last lines
   * before an exit must not be lost that way).
   */
  async flush(): Promise<void> {
    await this.#opened;
    try {
      this.stream.flushSync();
    } catch {
      // closed already, or busy with a write of its own that completes by itself
      return;
    }
    // A synchronous write emits no 'write' event: the file's size says what it holds now.
    this.#size = sizeOf(this.#o.path);
    if (this.#size >= this.#o.maxBytes && !this.#rotating) this.#rotate();
  }

  /** Resolves when the stream has (re)opened its file. */
  #nextOpen(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.stream.off('ready', done);
        this.stream.off('error', done);
        resolve();
      };
      this.stream.once('ready', done);
      this.stream.once('error', done);
    });
  }

  /** After the buffered lines are written: shift path → path.1 → ... and open a new `path`. */
  #rotate(): void {
    this.#rotating = true;
    this.stream.flush((err) => {
      let reopened = false;
      try {
        if (err === undefined || err === null) {
          shift(this.#o.path, this.#o.maxBackups);
          this.#opened = this.#nextOpen();
          this.stream.reopen();
          this.#size = 0;
          reopened = true;
        }
      } catch (e) {
        // The node keeps logging to the file it has: a rotation that failed (a full disk, a
        // permission) must not stop it. Said on stderr, where the service manager sees it.
        process.stderr.write(`caxton: could not rotate ${this.#o.path}: ${(e as Error).message}\n`);
      }
      // The next rotation waits for the new file: renaming before it exists would lose the shift.
      if (reopened) void this.#opened.then(() => (this.#rotating = false));
      else this.#rotating = false;
    });
  }
}

/** path.(N-1) → path.N, ..., path → path.1; the one past maxBackups is deleted. */
function shift(path: string, maxBackups: number): void {
  if (maxBackups === 0) {
    rmSync(path, { force: true });
    return;
  }
  rmSync(`${path}.${maxBackups}`, { force: true });
  for (let i = maxBackups - 1; i >= 1; i--) {
    try {
      renameSync(`${path}.${i}`, `${path}.${i + 1}`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  renameSync(path, `${path}.1`);
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
