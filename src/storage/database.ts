/**
 * Opens the node's SQLite database and brings its schema up to date.
 * Migrations are numbered and only ever appended: a database records the last one it applied in
 * PRAGMA user_version, and a node refuses a database newer than itself.
 */
import Database from 'better-sqlite3';
import { CaxtonError } from '../errors.js';

export type SqliteDatabase = Database.Database;

export type Synchronous = 'off' | 'normal' | 'full';

export interface OpenOptions {
  /**
   * SQLite's synchronous mode. `normal` (the default) survives a crash of the process (kill -9) with
   * nothing committed lost; `full` also survives power loss, at roughly twice the commit latency.
   */
  readonly synchronous?: Synchronous;
  /** How long a writer waits for another connection's write lock, in ms. @default 5000 */
  readonly busyTimeoutMs?: number;
  readonly readonly?: boolean;
}

/** Append only: each entry is one migration, applied in order inside a transaction. */
const MIGRATIONS: readonly string[] = [
  // 1: per-agent key-value state, keyed by agent name so it outlives instances, workers and nodes.
  `CREATE TABLE agent_kv (
     agent      TEXT    NOT NULL,
     key        BLOB    NOT NULL,
     value      BLOB    NOT NULL,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (agent, key)
   ) WITHOUT ROWID;`,
  // 2: messages that could not be delivered, kept for inspection and replay.
  `CREATE TABLE dead_letters (
     id         INTEGER PRIMARY KEY AUTOINCREMENT,
     message_id TEXT,
     sender     TEXT,
     receiver   TEXT    NOT NULL,
     reason     TEXT    NOT NULL,
     message    TEXT    NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE INDEX dead_letters_receiver ON dead_letters (receiver, id);`,
  // 3: the at-least-once outbox: messages kept until their receiver has handled them.
  `CREATE TABLE outbox (
     message_id TEXT    PRIMARY KEY,
     receiver   TEXT    NOT NULL,
     message    TEXT    NOT NULL,
     attempts   INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL,
     next_at    INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX outbox_due ON outbox (next_at);`,
  // 4: what the operator deployed (desired state), the module bytes it needs, and the API keys. A
  // restarted node rebuilds its agents from these two tables.
  `CREATE TABLE modules (
     hash       TEXT    PRIMARY KEY,
     bytes      BLOB    NOT NULL,
     created_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE deployments (
     name          TEXT    PRIMARY KEY,
     id            TEXT    NOT NULL UNIQUE,
     module        TEXT    NOT NULL REFERENCES modules (hash),
     config        TEXT    NOT NULL,
     priority      TEXT    NOT NULL,
     desired_state TEXT    NOT NULL,
     deployed_at   INTEGER NOT NULL,
     updated_at    INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE api_keys (
     id         TEXT    PRIMARY KEY,
     name       TEXT    NOT NULL,
     role       TEXT    NOT NULL,
     hash       TEXT    NOT NULL UNIQUE,
     created_at INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // 5: how often each deployed agent was started again (crash restarts, operator restarts, node
  // restarts): what agent_init reads as `restarts`, which must not fall back to 0 after a restart.
  `ALTER TABLE deployments ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0;`,
  // 6: pending timers (caxton.timer_set), kept with the agent's state so that they survive restarts of
  // the agent, its worker and the node; and each agent's last timer id, so ids are never reused.
  `CREATE TABLE agent_timers (
     agent      TEXT    NOT NULL,
     id         INTEGER NOT NULL,
     due_at     INTEGER NOT NULL,
     message    TEXT    NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (agent, id)
   ) WITHOUT ROWID;
   CREATE TABLE agent_timer_ids (
     agent   TEXT    PRIMARY KEY,
     last_id INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // 7: state replication (src/agents/replication/). On a replica: the copy of another node's agent,
  // as of its owner's delta `seq` under ownership `epoch` (the fencing token: a delta of a lower epoch
  // is refused), its key-value pairs, its pending timers (and last timer id), and the at-least-once
  // message ids its deltas applied (seeding the dedup window of a promoted agent). On an owner: the
  // epoch under which this node owns each agent.
  `CREATE TABLE replica_agents (
     agent         TEXT    PRIMARY KEY,
     owner         TEXT    NOT NULL,
     epoch         INTEGER NOT NULL,
     seq           INTEGER NOT NULL,
     timer_last_id INTEGER NOT NULL DEFAULT 0,
     updated_at    INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE replica_timers (
     agent   TEXT    NOT NULL,
     id      INTEGER NOT NULL,
     due_at  INTEGER NOT NULL,
     message TEXT    NOT NULL,
     PRIMARY KEY (agent, id)
   ) WITHOUT ROWID;
   CREATE TABLE replica_kv (
     agent TEXT NOT NULL,
     key   BLOB NOT NULL,
     value BLOB NOT NULL,
     PRIMARY KEY (agent, key)
   ) WITHOUT ROWID;
   CREATE TABLE replica_applied (
     agent      TEXT    NOT NULL,
     message_id TEXT    NOT NULL,
     seq        INTEGER NOT NULL,
     at         INTEGER NOT NULL,
     PRIMARY KEY (agent, message_id)
   ) WITHOUT ROWID;
   CREATE INDEX replica_applied_at ON replica_applied (at);
   CREATE TABLE agent_epochs (
     agent TEXT    PRIMARY KEY,
     epoch INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // 8: API keys replicated across the cluster (src/cluster/key-sync.ts). Each row carries the Lamport
  // version of its last change and the node that made it; a revoked key stays as a tombstone (revoked
  // = 1) so that an older copy arriving from a peer cannot bring it back.
  `ALTER TABLE api_keys ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
   ALTER TABLE api_keys ADD COLUMN origin  TEXT    NOT NULL DEFAULT '';
   ALTER TABLE api_keys ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0;`,
  // 9: the cluster's ownership of agents. Each deployment this node owns carries its ownership epoch
  // (the fencing token, raised at every failover and move); replica_deployments holds the deployments
  // this node keeps as a replica for their owner (src/agents/deployment-replication.ts), so that they
  // survive the owner's death without living on every node.
  `ALTER TABLE deployments ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE replica_deployments (
     name          TEXT    PRIMARY KEY,
     id            TEXT    NOT NULL,
     module        TEXT    NOT NULL REFERENCES modules (hash),
     config        TEXT    NOT NULL,
     priority      TEXT    NOT NULL,
     desired_state TEXT    NOT NULL,
     restarts      INTEGER NOT NULL,
     deployed_at   INTEGER NOT NULL,
     updated_at    INTEGER NOT NULL,
     owner         TEXT    NOT NULL,
     replicas      TEXT    NOT NULL,
     epoch         INTEGER NOT NULL,
     received_at   INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // 10: partitions (docs/operations.md, "Network partition"). cluster_known_members is the largest
  // membership this node has agreed on (quorum counts it, so a restart during a split still knows the
  // cluster's size), cluster_formed whether the cluster ever reached bootstrap_expect; partition_queue holds, in order, the messages for the other side of a partition
  // until it heals (seq is the replay order; message_id '' for an at-most-once message);
  // partition_conflicts keeps the state of a second copy of an agent that lost to another copy after a
  // partition, for the operator to review.
  `CREATE TABLE cluster_known_members (
     name     TEXT    PRIMARY KEY,
     since    INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE cluster_formed (
     id       INTEGER PRIMARY KEY CHECK (id = 1),
     at       INTEGER NOT NULL
   );
   CREATE TABLE partition_queue (
     seq        INTEGER PRIMARY KEY AUTOINCREMENT,
     message_id TEXT    NOT NULL,
     receiver   TEXT    NOT NULL,
     sender     TEXT    NOT NULL,
     reply_to   TEXT    NOT NULL,
     priority   INTEGER NOT NULL,
     message    TEXT    NOT NULL,
     bytes      INTEGER NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE UNIQUE INDEX partition_queue_message ON partition_queue (message_id) WHERE message_id <> '';
   CREATE TABLE partition_conflicts (
     id           INTEGER PRIMARY KEY AUTOINCREMENT,
     agent        TEXT    NOT NULL,
     node         TEXT    NOT NULL,
     epoch        INTEGER NOT NULL,
     winner       TEXT    NOT NULL,
     winner_epoch INTEGER NOT NULL,
     state        TEXT    NOT NULL,
     created_at   INTEGER NOT NULL,
     reviewed_at  INTEGER
   );`,
  // 11: the audit log (src/security/audit.ts): one row per management action through the API, who did
  // it (actor: a key's name or a client certificate's CN; actor_id: the key's id), what, on what, and
  // how it ended. detail holds only allow-listed fields (never a secret). Bounded: the oldest rows are
  // trimmed in batches, so ids only ever grow and "the last N" is an id range.
  `CREATE TABLE audit_log (
     id         INTEGER PRIMARY KEY AUTOINCREMENT,
     time       INTEGER NOT NULL,
     actor      TEXT    NOT NULL,
     actor_id   TEXT,
     actor_kind TEXT    NOT NULL CHECK (actor_kind IN ('key', 'cert', 'anonymous', 'system')),
     action     TEXT    NOT NULL,
     target     TEXT,
     result     TEXT    NOT NULL CHECK (result IN ('ok', 'error')),
     status     INTEGER NOT NULL,
     error_code TEXT,
     detail     TEXT    NOT NULL,
     node       TEXT    NOT NULL
   );
   CREATE INDEX audit_log_time ON audit_log (time);`,
  // 12: revoked certificates (src/security/revocation.ts), the same rows on every node. serial is upper
  // hex as pki.ts prints it; a node revocation also keeps the node's name, and revoked_at decides which
  // of its certificates are refused (those issued before it). A node revoked while no certificate of it
  // was known has the serial "node:<name>", which no real serial equals.
  `CREATE TABLE revoked_certs (
     serial     TEXT    PRIMARY KEY,
     node       TEXT    NOT NULL DEFAULT '',
     reason     TEXT    NOT NULL DEFAULT '',
     revoked_at INTEGER NOT NULL,
     revoked_by TEXT    NOT NULL
   );`,
  // 13: tool calls through MCP (src/integrations/mcp) join the audit log, made by agents: actor_kind
  // 'agent'. SQLite cannot change a CHECK, so the table is rebuilt with its rows and ids. Tool calls
  // are trimmed apart from management actions (a busy tool must not push out who deployed what), by
  // action: the index serves both trims.
  `CREATE TABLE audit_log_13 (
     id         INTEGER PRIMARY KEY AUTOINCREMENT,
     time       INTEGER NOT NULL,
     actor      TEXT    NOT NULL,
     actor_id   TEXT,
     actor_kind TEXT    NOT NULL CHECK (actor_kind IN ('key', 'cert', 'anonymous', 'system', 'agent')),
     action     TEXT    NOT NULL,
     target     TEXT,
     result     TEXT    NOT NULL CHECK (result IN ('ok', 'error')),
     status     INTEGER NOT NULL,
     error_code TEXT,
     detail     TEXT    NOT NULL,
     node       TEXT    NOT NULL
   );
   INSERT INTO audit_log_13 SELECT * FROM audit_log;
   DROP TABLE audit_log;
   ALTER TABLE audit_log_13 RENAME TO audit_log;
   CREATE INDEX audit_log_time ON audit_log (time);
   CREATE INDEX audit_log_action ON audit_log (action, id);`,
  // 14: the node an agent was deployed to with target_node (its pin), kept with the deployment and its
  // replicas' rows: failover keeps a pinned agent on that node and brings it back there
  // (src/agents/failover.ts), where its rank alone would move it to its rendezvous owner.
  `ALTER TABLE deployments ADD COLUMN pinned_node TEXT;
   ALTER TABLE replica_deployments ADD COLUMN pinned_node TEXT;`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export function openDatabase(path: string, options: OpenOptions = {}): SqliteDatabase {
  let db: SqliteDatabase;
  try {
    db = new Database(path, { readonly: options.readonly ?? false });
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous ?? 'normal'}`);
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    db.pragma('foreign_keys = ON');
  } catch (e) {
    throw new CaxtonError('CAXTON_ERR_STORAGE_UNAVAILABLE', `cannot open database ${path}: ${(e as Error).message}`, { path }, { cause: e });
  }
  if (!options.readonly) migrate(db, path);
  return db;
}

function migrate(db: SqliteDatabase, path: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    db.close();
    throw new CaxtonError(
      'CAXTON_ERR_STORAGE_UNAVAILABLE',
      `database ${path} has schema version ${current}, newer than this Caxton (${MIGRATIONS.length}); upgrade Caxton or restore a backup`,
      { path, version: current },
    );
  }
  // BEGIN IMMEDIATE: two threads opening a fresh database race here; the second waits, then sees the
  // version the first wrote and applies nothing.
  const apply = db.transaction(() => {
    const v = db.pragma('user_version', { simple: true }) as number;
    for (let i = v; i < MIGRATIONS.length; i++) {
      db.exec(MIGRATIONS[i] as string);
    }
    if (v < MIGRATIONS.length) db.pragma(`user_version = ${MIGRATIONS.length}`);
  });
  apply.immediate();
}
