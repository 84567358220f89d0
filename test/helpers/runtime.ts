/** A WorkerRuntime on the test's own thread, with a real SQLite database in a temp directory. */
import { join } from 'node:path';
import { WorkerRuntime, type RuntimeOptions } from '../../src/sandbox/worker/runtime.js';
import { openDatabase, OutboxStore, SqliteAgentStateStore, SqliteAgentTimerStore } from '../../src/storage/index.js';
import { WATCH_SLOTS, type FromWorker } from '../../src/sandbox/worker-protocol.js';
import { tempDir } from './tmp.js';

export interface InThread {
  readonly rt: WorkerRuntime;
  readonly store: SqliteAgentStateStore;
  readonly outbox: OutboxStore;
  readonly timers: SqliteAgentTimerStore;
  readonly posts: FromWorker[];
  close(): void;
}

export function inThreadRuntime(overrides: Partial<RuntimeOptions> = {}): InThread {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'kv.db'));
  const store = new SqliteAgentStateStore(db);
  const outbox = new OutboxStore(db);
  const timers = new SqliteAgentTimerStore(db);
  const posts: FromWorker[] = [];
  const rt = new WorkerRuntime({
    fuelPerCall: 1_000_000,
    maxMessageBytes: 65536,
    mailboxCapacity: 100,
    store,
    outbox,
    timers,
    watch: new Int32Array(new SharedArrayBuffer(WATCH_SLOTS * 4)),
    post: (m) => posts.push(m),
    ...overrides,
  });
  return {
    rt,
    store,
    outbox,
    timers,
    posts,
    close: () => {
      db.close();
      dir.cleanup();
    },
  };
}
