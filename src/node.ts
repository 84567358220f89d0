/**
 * The composition root: builds one Caxton node from its options and owns the order in which its
 * parts start and stop. Each subsystem is reached only through its module's index.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AgentPool, isReliable, type PoolEvent, type SandboxPolicy } from './sandbox/index.js';
import { DeadLetterStore, openDatabase, OutboxStore, type SqliteDatabase } from './storage/index.js';
import { DeadLetterQueue } from './messaging/dead-letter-queue.js';
import { OutboxRelay, type RelayOptions } from './messaging/outbox-relay.js';
import type { Logger } from './observability/logger.js';

export interface NodeOptions {
  /** Where the node keeps its SQLite database. @default ./.caxton */
  readonly dataDir: string;
  readonly nodeId: string;
  readonly logger: Logger;
  readonly policy?: SandboxPolicy;
  readonly workers?: number;
  /** At-least-once redelivery timing. */
  readonly relay?: RelayOptions;
}

export class CaxtonNode {
  readonly #db: SqliteDatabase;
  #stopping: Promise<void> | undefined;

  private constructor(
    readonly options: NodeOptions,
    readonly databasePath: string,
    db: SqliteDatabase,
    readonly pool: AgentPool,
    readonly deadLetters: DeadLetterQueue,
    readonly relay: OutboxRelay,
  ) {
    this.#db = db;
  }

  static async start(options: NodeOptions): Promise<CaxtonNode> {
    const dataDir = resolve(options.dataDir);
    mkdirSync(dataDir, { recursive: true });
    const databasePath = join(dataDir, 'caxton.db');
    // Opened here first so migrations run once, before any worker connects.
    const db = openDatabase(databasePath);
    const pool = await AgentPool.start({
      databasePath,
      ...(options.policy === undefined ? {} : { policy: options.policy }),
      ...(options.workers === undefined ? {} : { workers: options.workers }),
      ...(options.relay?.baseDelayMs === undefined ? {} : { redeliverAfterMs: options.relay.baseDelayMs }),
    });
    const deadLetters = new DeadLetterQueue(new DeadLetterStore(db), pool);
    // Replays, from its first scan on, what a previous run left unacknowledged in the outbox.
    const relay = new OutboxRelay(new OutboxStore(db), pool, deadLetters, options.relay);
    const node = new CaxtonNode(options, databasePath, db, pool, deadLetters, relay);
    pool.onEvent((e) => {
      // At-least-once messages stay in the outbox; the relay dead-letters them if it gives up.
      if (e.type === 'undeliverable' && !isReliable(e.json)) deadLetters.record(e.to, e.json, e.reason);
      node.#logEvent(e);
    });
    options.logger.info({ nodeId: options.nodeId, dataDir, workers: pool.workerCount }, 'caxton node started');
    return node;
  }

  /** Stops the agents gracefully, then the workers, then closes the database. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      const log = this.options.logger;
      for (const a of this.pool.list()) {
        try {
          await this.pool.stop(a.name, { graceful: true });
        } catch (e) {
          log.warn({ agent: a.name, err: e }, 'agent did not stop cleanly');
        }
      }
      this.relay.stop();
      await this.pool.close();
      this.#db.close();
      log.info({ nodeId: this.options.nodeId }, 'caxton node stopped');
    })();
    return this.#stopping;
  }

  #logEvent(e: PoolEvent): void {
    const log = this.options.logger;
    switch (e.type) {
      case 'agent_log': {
        const level = (['trace', 'debug', 'info', 'warn', 'error'] as const)[e.level] ?? 'info';
        log[level]({ agent: e.name }, e.text);
        break;
      }
      case 'agent_fault':
      case 'agent_start_failed':
      case 'worker_replaced':
      case 'undeliverable':
        log.warn(e, e.type);
        break;
      default:
        log.info(e, e.type);
    }
  }
}
