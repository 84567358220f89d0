/**
 * MCP over a child process's stdin and stdout, bounded: the SDK's Transport contract, with the guards a
 * node needs against a server it does not control. The SDK's own StdioClientTransport buffers up to
 * 10 MiB per line, reports a line that is not JSON-RPC and goes on reading, and leaves stderr to the
 * node's terminal; here
 *
 * - a line longer than MAX_LINE_BYTES, more than MAX_BYTES_PER_SECOND of output in a second, or more
 *   than MAX_MESSAGES_PER_SECOND messages in a second (a flood: each one is parsed on the node's main
 *   thread), closes the server;
 * - a server that does not read its stdin while the node writes to it (the SDK answers every request
 *   a server sends, a ping say) is closed once MAX_STDIN_BACKLOG bytes wait for it: the node's memory
 *   is not the buffer of a server that never reads;
 * - a line that is not a JSON-RPC message (garbage: the server writes logs to stdout, or is not an
 *   MCP server at all) closes it: after that nothing it says can be trusted to be framed right;
 * - stderr is read and passed on line by line (cut at 1 KiB, at most STDERR_LINES_PER_MINUTE), so a
 *   chatty server neither blocks on a full pipe nor floods the node's log;
 * - close() ends stdin, then SIGTERM, then SIGKILL, each after a grace period, to the server's whole
 *   process group (it is started as its own group): a server that runs helpers (`npx`, a shell
 *   wrapper) leaves none behind;
 * - the server's end is its process's 'exit', not the close of its pipes, which a helper it started
 *   may hold open: then the rest of its group is killed.
 *
 * Whatever closed it, `closeReason` says why (for the log line and the failure of the calls in flight).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';

/** The longest line (one JSON-RPC message) read from a server. A tool result beyond it is refused anyway (messages are smaller). */
export const MAX_LINE_BYTES = 8 * 1024 * 1024;
/** Output per second past which a server is closed as flooding. */
export const MAX_BYTES_PER_SECOND = 32 * 1024 * 1024;
/** Messages (lines) per second past which a server is closed as flooding. */
export const MAX_MESSAGES_PER_SECOND = 5000;
/** Bytes waiting to be written to a server's stdin past which it is closed (it does not read). */
export const MAX_STDIN_BACKLOG = 8 * 1024 * 1024;
/** stderr lines passed on per minute; the rest are counted and reported once. */
export const STDERR_LINES_PER_MINUTE = 60;
const STDERR_LINE_CHARS = 1024;
/** How long close() waits after ending stdin, and after SIGTERM. */
const CLOSE_GRACE_MS = 2000;

/** Environment variables a server inherits from the node (as the SDK's getDefaultEnvironment, on POSIX). */
const INHERITED_ENV = ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER'] as const;

export interface StdioServerParams {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** One stderr line of the server (already cut), or a note that lines were dropped. */
  readonly onStderr: (line: string) => void;
  /** Output per second past which the server is closed as flooding. @default MAX_BYTES_PER_SECOND */
  readonly maxBytesPerSecond?: number;
}

export class BoundedStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  /** Why the server was closed by this side ('' while open, or when it exited by itself). */
  closeReason = '';
  /** How the process ended, once it has. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  readonly #params: StdioServerParams;
  #child: ChildProcess | undefined;
  #chunks: Buffer[] = [];
  #pending = 0;
  #windowStart = 0;
  #windowBytes = 0;
  #windowMessages = 0;
  #stderrWindowStart = 0;
  #stderrLines = 0;
  #stderrDropped = 0;
  #stderrPartial = '';
  #closed = false;
  #closedReported = false;
  #drain: Promise<void> | undefined;
  #exited: Promise<void> | undefined;

  constructor(params: StdioServerParams) {
    this.#params = params;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  start(): Promise<void> {
    if (this.#child !== undefined) throw new Error('BoundedStdioTransport already started');
    const env: Record<string, string> = {};
    for (const k of INHERITED_ENV) {
      const v = process.env[k];
      // A shell function exported into the environment is a known injection vector (the SDK skips them too).
      if (v !== undefined && !v.startsWith('()')) env[k] = v;
    }
    Object.assign(env, this.#params.env);
    return new Promise((resolve, reject) => {
      const child = spawn(this.#params.command, [...this.#params.args], { env, stdio: ['pipe', 'pipe', 'pipe'], shell: false, detached: true });
      this.#child = child;
      this.#exited = new Promise((done) => child.once('exit', () => done()));
      child.once('error', (e) => {
        reject(e);
        this.#fail(`could not run ${this.#params.command}: ${e.message}`);
      });
      child.once('spawn', () => resolve());
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        // Helpers it started may live on (and hold its pipes): the group goes with it.
        this.#signal('SIGKILL');
        this.#finish();
      });
      child.stdin?.on('error', (e) => this.onerror?.(e));
      child.stdout?.on('data', (chunk: Buffer) => this.#read(chunk));
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (text: string) => this.#stderr(text));
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.#child?.stdin;
    if (this.#closed || stdin === undefined || stdin === null || stdin.destroyed) return Promise.reject(new Error('the MCP server is not running'));
    if (stdin.write(`${JSON.stringify(message)}\n`)) return Promise.resolve();
    if (stdin.writableLength > MAX_STDIN_BACKLOG) {
      this.#fail(`it does not read its stdin: ${stdin.writableLength} bytes waited to be written to it, more than ${MAX_STDIN_BACKLOG}`);
      return Promise.reject(new Error(this.closeReason));
    }
    // One wait for the pipe to drain, shared by every send meanwhile (one listener, not one per call).
    this.#drain ??= new Promise<void>((resolve) =>
      stdin.once('drain', () => {
        this.#drain = undefined;
        resolve();
      }),
    );
    return this.#drain;
  }

  /** Ends the server: stdin closed, then SIGTERM, then SIGKILL. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const child = this.#child;
    if (child === undefined || this.exit !== undefined) {
      this.#finish();
      return;
    }
    try {
      child.stdin?.end();
    } catch {
      // already gone
    }
    if (await this.#exitWithin(CLOSE_GRACE_MS)) return;
    this.#signal('SIGTERM');
    if (await this.#exitWithin(CLOSE_GRACE_MS)) return;
    this.#signal('SIGKILL');
    await this.#exitWithin(CLOSE_GRACE_MS);
  }

  /** Signals the server's process group (its pid is the group's id: it was started detached). */
  #signal(sig: NodeJS.Signals): void {
    const pid = this.#child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, sig);
    } catch {
      // the group is gone already
    }
  }

  /** Closes the server because of what it did; `reason` is kept for the log and the calls in flight. */
  #fail(reason: string): void {
    if (this.closeReason === '') this.closeReason = reason;
    this.#chunks = [];
    this.#pending = 0;
    // What waits for its stdin is dropped now (it may be megabytes a server never reads): it is ended anyway.
    this.#child?.stdin?.destroy();
    void this.close();
  }

  #finish(): void {
    if (this.#closedReported) return;
    // Called for the exit of the process, or a close() before it ever started.
    if (this.#child !== undefined && this.exit === undefined) return;
    this.#closedReported = true;
    this.#closed = true;
    this.onclose?.();
  }

  async #exitWithin(ms: number): Promise<boolean> {
    if (this.exit !== undefined) return true;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const done = await Promise.race([(this.#exited as Promise<void>).then(() => true as const), late]);
    clearTimeout(timer);
    return done;
  }

  #read(chunk: Buffer): void {
    if (this.#closed) return;
    const now = Date.now();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#windowBytes = 0;
      this.#windowMessages = 0;
    }
    this.#windowBytes += chunk.length;
    const maxBytes = this.#params.maxBytesPerSecond ?? MAX_BYTES_PER_SECOND;
    if (this.#windowBytes > maxBytes) return this.#fail(`it wrote more than ${maxBytes} bytes to stdout within a second (flooding)`);
    let start = 0;
    let nl = chunk.indexOf(10);
    while (nl >= 0) {
      const part = chunk.subarray(start, nl);
      const line = this.#chunks.length === 0 ? part : Buffer.concat([...this.#chunks, part]);
      this.#chunks = [];
      this.#pending = 0;
      if (line.length > MAX_LINE_BYTES) return this.#fail(`it wrote a line of ${line.length} bytes to stdout, more than ${MAX_LINE_BYTES}`);
      if (++this.#windowMessages > MAX_MESSAGES_PER_SECOND) return this.#fail(`it wrote more than ${MAX_MESSAGES_PER_SECOND} messages to stdout within a second (flooding)`);
      if (!this.#line(line)) return;
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.#pending += rest.length;
      if (this.#pending > MAX_LINE_BYTES) return this.#fail(`it wrote more than ${MAX_LINE_BYTES} bytes to stdout without a line break`);
      this.#chunks.push(rest);
    }
  }

  /** One line of stdout: a JSON-RPC message, or the end of the server. False when it closed the server. */
  #line(bytes: Buffer): boolean {
    const text = bytes.toString('utf8').replace(/\r$/, '');
    if (text.trim() === '') return true;
    let message: JSONRPCMessage;
    try {
      message = JSONRPCMessageSchema.parse(JSON.parse(text));
    } catch {
      const shown = text.length > 200 ? `${text.slice(0, 200)}…` : text;
      this.#fail(`it wrote a line to stdout that is not a JSON-RPC message: ${JSON.stringify(shown)}`);
      return false;
    }
    try {
      this.onmessage?.(message);
    } catch (e) {
      this.onerror?.(e as Error);
    }
    return !this.#closed;
  }

  #stderr(text: string): void {
    const lines = (this.#stderrPartial + text).split('\n');
    this.#stderrPartial = (lines.pop() ?? '').slice(0, STDERR_LINE_CHARS);
    const now = Date.now();
    for (const raw of lines) {
      if (now - this.#stderrWindowStart >= 60_000) {
        if (this.#stderrDropped > 0) this.#params.onStderr(`(${this.#stderrDropped} more stderr lines in the last minute were not logged)`);
        this.#stderrWindowStart = now;
        this.#stderrLines = 0;
        this.#stderrDropped = 0;
      }
      const line = raw.replace(/\r$/, '');
      if (line === '') continue;
      if (this.#stderrLines >= STDERR_LINES_PER_MINUTE) {
        this.#stderrDropped++;
        continue;
      }
      this.#stderrLines++;
      this.#params.onStderr(line.length > STDERR_LINE_CHARS ? `${line.slice(0, STDERR_LINE_CHARS)}…` : line);
    }
  }
}
