/**
 * The node `caxton dev` starts in its own process when none answers at the CLI's API URL: the
 * embedded default (one process, SQLite) on that URL's loopback address, with its data in the
 * project's `.caxton-dev/`. Authentication stays on: the node writes a generated admin key to
 * `.caxton-dev/admin.key` (mode 0600) on its first start, as `caxton server start` does, and dev
 * reads it from there. No metrics listener and no cluster: nothing else to bind.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { CaxtonNode } from '../node.js';
import type { Address } from '../config/address.js';
import { ADMIN_KEY_FILE } from './credentials.js';

/** The dev node's data directory, inside the project (kept between runs: the agent's state too). */
export const DEV_DATA_DIR = '.caxton-dev';
/** A dev node runs one agent or a few: one worker thread. */
const DEV_WORKERS = 1;
/** Ctrl-C should not wait long for an agent's mailbox: 5 s, not the server's 30 s. */
const DEV_DRAIN_TIMEOUT_MS = 5000;

export interface DevNode {
  readonly apiUrl: string;
  readonly dataDir: string;
  readonly adminKey: string;
  readonly adminKeyPath: string;
  /** Stops the node (drains the agents, at most DEV_DRAIN_TIMEOUT_MS). Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the node. `onLog` gets the node's own warnings and errors (pino lines at warn and above),
 * already formatted, so that they join dev's one output stream.
 */
export async function startDevNode(opts: { dataDir: string; addr: Address; onLog: (level: string, text: string) => void }): Promise<DevNode> {
  const [{ CaxtonNode }, { createLogger }] = await Promise.all([import('../node.js'), import('../observability/logger.js')]);
  const logger = createLogger({ level: 'warn', destination: pinoLines(opts.onLog) });
  const node: CaxtonNode = await CaxtonNode.start({
    dataDir: opts.dataDir,
    nodeId: 'dev',
    logger,
    workers: DEV_WORKERS,
    drainTimeoutMs: DEV_DRAIN_TIMEOUT_MS,
    api: { addr: opts.addr },
  });
  const a = node.apiAddress ?? opts.addr;
  const host = a.host.includes(':') ? `[${a.host}]` : a.host;
  const adminKeyPath = join(opts.dataDir, ADMIN_KEY_FILE);
  let stopping: Promise<void> | undefined;
  return {
    apiUrl: `http://${host}:${a.port}`,
    dataDir: opts.dataDir,
    adminKey: readFileSync(adminKeyPath, 'utf8').trim(),
    adminKeyPath,
    stop: () => (stopping ??= node.stop()),
  };
}

const PINO_LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** A pino destination that turns each JSON line into `level` and `msg (agent=..., err=...)`. */
function pinoLines(onLog: (level: string, text: string) => void): Writable {
  let rest = '';
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      rest += chunk.toString('utf8');
      let i: number;
      while ((i = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, i);
        rest = rest.slice(i + 1);
        if (line.trim() !== '') emit(line);
      }
      done();
    },
  });
  function emit(line: string): void {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      onLog('info', line);
      return;
    }
    const level = PINO_LEVELS[rec['level'] as number] ?? 'info';
    const { level: _l, time: _t, pid: _p, hostname: _h, msg, ...fields } = rec;
    const err = fields['err'] as { message?: unknown } | undefined;
    if (err !== undefined && typeof err === 'object') fields['err'] = err.message;
    const extra = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
    onLog(level, `${typeof msg === 'string' ? msg : ''}${extra === '' ? '' : ` (${extra})`}`);
  }
}
