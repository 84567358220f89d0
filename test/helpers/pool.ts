/** Runs a test body against a fresh AgentPool on a temp SQLite file, and cleans up whatever happens. */
import { join } from 'node:path';
import { AgentPool, type PoolEvent, type PoolOptions } from '../../src/sandbox/index.js';
import { recordEvents } from './agents.js';
import { tempDir } from './tmp.js';

export interface PoolContext {
  /** Every event the pool emitted, in order. */
  readonly events: PoolEvent[];
  readonly databasePath: string;
}

export async function withPool(options: Partial<PoolOptions>, fn: (pool: AgentPool, ctx: PoolContext) => Promise<void>): Promise<void> {
  const dir = tempDir();
  const databasePath = join(dir.path, 'caxton.db');
  const pool = await AgentPool.start({ workers: 1, ...options, databasePath });
  const events = recordEvents(pool);
  try {
    await fn(pool, { events, databasePath });
  } finally {
    await pool.close();
    dir.cleanup();
  }
}
