/**
 * The audit log (docs/security.md, "Audit log"): one entry per management action through the API, with
 * who did it, what, on what, how it ended and when; and one per tool call through MCP (action
 * `tool.call`, src/integrations/mcp/tool-audit.ts). Entries go to the database (bounded, listed by
 * `caxton audit list`) and, when `observability.audit.path` is set, to a file as one JSON line each.
 * Tool calls are bounded apart (toolCapacity): they can come by the thousand, and must not push the
 * management actions out.
 *
 * Never a secret: an entry's target and detail are built only from the fields its action allow-lists
 * below (AUDIT_ACTIONS). A field that is not listed (an API key, a gossip key, a config text, a module)
 * is never read, whatever the request carried.
 */
import { appendFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type Database from 'better-sqlite3';
import type { SqliteDatabase } from '../storage/index.js';
import type { Logger } from '../observability/logger.js';

type Statement = Database.Statement<unknown[], unknown>;

/**
 * key: an API key (actor = its name, actorId = its id); cert: a client certificate (actor = its CN);
 * anonymous: no identity (auth off, or a request without a valid key); system: the node itself;
 * agent: an agent of the node (a tool call; actor = its name, as the host knows it).
 */
export type ActorKind = 'key' | 'cert' | 'anonymous' | 'system' | 'agent';
export type AuditResult = 'ok' | 'error';
/** What a detail field may hold: scalars, or a short list of them. */
export type AuditValue = string | number | boolean | null | readonly (string | number | boolean)[];

/**
 * Each audited action, its target (the first of these fields present) and the fields its detail may
 * keep. Fields are looked up in the route's params, then the facts its handler recorded
 * (FastifyRequest.auditFacts), then its body, then its query string. Append only: the names are what
 * operators filter on and what files already hold.
 */
export const AUDIT_ACTIONS = {
  'agent.deploy': { target: ['name'], detail: ['module', 'priority', 'start', 'node'] },
  'agent.upgrade': { target: ['name'], detail: ['module', 'strategy'] },
  'agent.canary-promote': { target: ['name'], detail: [] },
  'agent.canary-rollback': { target: ['name'], detail: ['reason'] },
  'agent.remove': { target: ['name'], detail: [] },
  'agent.suspend': { target: ['name'], detail: [] },
  'agent.resume': { target: ['name'], detail: [] },
  'agent.restart': { target: ['name'], detail: [] },
  'agent.stop': { target: ['name'], detail: ['graceful', 'drain_timeout_ms'] },
  // The key itself (the secret) is never a field here; its id, name and role are.
  'key.create': { target: ['id'], detail: ['name', 'role'] },
  'key.set-role': { target: ['id'], detail: ['name', 'role'] },
  'key.revoke': { target: ['id'], detail: ['name'] },
  'cluster.join': { target: [], detail: ['addresses'] },
  'cluster.leave': { target: [], detail: ['drain_timeout_ms'] },
  'cluster.rebalance': { target: [], detail: ['strategy', 'max_moves', 'rounds'] },
  'cluster.isolate': { target: ['node'], detail: [] },
  'cluster.rejoin': { target: ['node'], detail: [] },
  'cluster.rebuild': { target: ['node'], detail: [] },
  'cluster.remove': { target: ['node'], detail: ['prune'] },
  // The gossip key is a secret: only its fingerprint (the handler's fact) is kept.
  'cluster.gossip-key': { target: ['op'], detail: ['fingerprint'] },
  'cluster.shed-load': { target: ['node'], detail: ['percentage'] },
  'partition.hold': { target: [], detail: [] },
  'partition.resolve': { target: ['prefer'], detail: [] },
  'partition.conflict-review': { target: ['id'], detail: [] },
  'queue.drain': { target: [], detail: ['timeout_ms'] },
  'dead-letters.replay': { target: ['receiver'], detail: ['ids'] },
  'dead-letters.purge': { target: ['receiver'], detail: [] },
  'memory.gc': { target: [], detail: ['aggressive', 'node'] },
  'circuit-breakers.activate': { target: ['agent'], detail: ['node'] },
  'circuit-breakers.reset': { target: ['agent'], detail: ['gradual_ms', 'node'] },
  'emergency.stop': { target: [], detail: ['preserve_state', 'dump_to', 'cluster', 'node'] },
  'debug.dump': { target: [], detail: ['node'] },
  // Backups: where they went and what they hold (a destination is a path or an s3:// URL, never a credential).
  'backup.create': { target: ['destination'], detail: ['type', 'compress', 'include_ca_key', 'job'] },
  'backup.prune': { target: [], detail: ['keep_last', 'keep_daily'] },
  'cluster.backup': { target: ['destination'], detail: ['type', 'compress', 'include_ca_key'] },
  // A new node certificate: the key (a secret) and the PEM texts are never fields; the certificate's fingerprint (the handler's fact) is.
  'security.node-cert': { target: ['node'], detail: ['fingerprint', 'serial'] },
  // A certificate revocation: the node or serial revoked and why (no secret is involved).
  'security.revoke': { target: ['node', 'serial'], detail: ['reason'] },
  // Every running agent of a priority, on every node or on `node` (`caxton agents suspend --priority`).
  'agents.suspend': { target: ['priority'], detail: ['node'] },
  // A tool call through MCP, by an agent or an operator (`caxton tools call`); written by the bridge, not
  // from a request: target is server/tool, arguments only with the server's audit_arguments.
  'tool.call': { target: [], detail: ['server', 'tool', 'outcome', 'argument_bytes', 'result_bytes', 'duration_ms', 'arguments'] },
  // A node restarted in place (caxton cluster rolling-restart).
  'server.restart': { target: ['node'], detail: ['reason'] },
  // A cluster upgrade to an installed release (caxton cluster upgrade start), and its rollback.
  'cluster.upgrade': { target: ['version'], detail: ['id', 'canary', 'canary_duration_ms'] },
  'cluster.upgrade-rollback': { target: ['id'], detail: ['version'] },
  // A node stopped with its cluster, parked (caxton cluster stop --all); also its freeze, the first step.
  'server.stop': { target: ['node'], detail: ['reason'] },
  // A parked node's restore (`caxton cluster restore`): the backup id and where it was read (a path or an s3:// URL).
  'server.restore': { target: ['node'], detail: ['id', 'from'] },
} as const satisfies Record<string, { readonly target: readonly string[]; readonly detail: readonly string[] }>;
export type AuditAction = keyof typeof AUDIT_ACTIONS;
export const AUDIT_ACTION_NAMES = Object.keys(AUDIT_ACTIONS) as AuditAction[];

export interface AuditEntry {
  /** ms since the epoch. */
  readonly time: number;
  readonly actor: string;
  readonly actorId: string | null;
  readonly actorKind: ActorKind;
  readonly action: AuditAction;
  readonly target: string | null;
  readonly result: AuditResult;
  /** The HTTP status answered. */
  readonly status: number;
  /** The CAXTON_ERR_ code of a refused or failed action; null when it succeeded. */
  readonly errorCode: string | null;
  readonly detail: Readonly<Record<string, AuditValue>>;
  readonly node: string;
}

export interface AuditRecord extends AuditEntry {
  readonly id: number;
}

export interface AuditFilter {
  /** Entries at or after this time, ms since the epoch. */
  readonly since?: number;
  /** An actor's name or key id. */
  readonly actor?: string;
  /** An action's name, or a prefix ending in `*` (`agent.*`). */
  readonly action?: string;
}

/** Entries kept in the database; the oldest are trimmed beyond it. @default 100,000 */
export const DEFAULT_AUDIT_CAPACITY = 100_000;
/** Tool-call entries kept in the database besides them. @default 100,000 */
export const DEFAULT_TOOL_AUDIT_CAPACITY = 100_000;
/** The action of a tool call: trimmed apart from the rest. */
export const TOOL_CALL_ACTION = 'tool.call';
/**
 * Trimming runs once every this many entries (and at open), deleting everything older than the last
 * `capacity` in one statement: the table holds at most capacity + TRIM_EVERY - 1 rows, and a record
 * costs one insert, not an insert and a delete.
 */
export const AUDIT_TRIM_EVERY = 1000;
/** A detail string longer than this is cut (a reason text is for people, not for storage). */
const MAX_DETAIL_STRING = 300;
/** A detail list longer than this keeps its first items and the count. */
const MAX_DETAIL_ITEMS = 100;

export interface AuditLogOptions {
  /** Where the table lives; absent: no database log (observability.audit.enabled false). */
  readonly db?: SqliteDatabase;
  /** The JSON-lines file; absent or '': none. */
  readonly path?: string;
  readonly logger: Logger;
  readonly capacity?: number;
  readonly toolCapacity?: number;
}

interface Row {
  id: number;
  time: number;
  actor: string;
  actor_id: string | null;
  actor_kind: ActorKind;
  action: AuditAction;
  target: string | null;
  result: AuditResult;
  status: number;
  error_code: string | null;
  detail: string;
  node: string;
}

export class AuditLog {
  readonly path: string | undefined;
  readonly capacity: number;
  readonly toolCapacity: number;
  readonly #db: SqliteDatabase | undefined;
  readonly #logger: Logger;
  readonly #insert: Statement | undefined;
  readonly #trim: Statement | undefined;
  readonly #trimTools: Statement | undefined;
  #sinceTrim = 0;
  #toolsSinceTrim = 0;
  #fileFailing = false;

  constructor(options: AuditLogOptions) {
    this.#db = options.db;
    this.#logger = options.logger;
    this.path = options.path === undefined || options.path === '' ? undefined : resolve(options.path);
    this.capacity = options.capacity ?? DEFAULT_AUDIT_CAPACITY;
    this.toolCapacity = options.toolCapacity ?? DEFAULT_TOOL_AUDIT_CAPACITY;
    if (this.#db !== undefined) {
      this.#insert = this.#db.prepare(
        'INSERT INTO audit_log (time, actor, actor_id, actor_kind, action, target, result, status, error_code, detail, node) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      // Each kind keeps its last N: everything of the kind older than its N-th newest row goes (ids only grow).
      this.#trim = this.#db.prepare(
        `DELETE FROM audit_log WHERE action != '${TOOL_CALL_ACTION}' AND id < (SELECT id FROM audit_log WHERE action != '${TOOL_CALL_ACTION}' ORDER BY id DESC LIMIT 1 OFFSET ? - 1)`,
      );
      this.#trimTools = this.#db.prepare(
        `DELETE FROM audit_log WHERE action = '${TOOL_CALL_ACTION}' AND id < (SELECT id FROM audit_log WHERE action = '${TOOL_CALL_ACTION}' ORDER BY id DESC LIMIT 1 OFFSET ? - 1)`,
      );
      this.#trim.run(this.capacity);
      this.#trimTools.run(this.toolCapacity);
    }
  }

  /** Whether entries are kept in the database (and so can be listed). */
  get listable(): boolean {
    return this.#db !== undefined;
  }

  /**
   * Records one entry. Never throws: a failed write is logged (the action it describes has happened
   * already, and its caller must get its answer).
   */
  record(entry: AuditEntry): void {
    if (this.#insert !== undefined) {
      try {
        this.#insert.run(entry.time, entry.actor, entry.actorId, entry.actorKind, entry.action, entry.target, entry.result, entry.status, entry.errorCode, JSON.stringify(entry.detail), entry.node);
        if (entry.action === TOOL_CALL_ACTION) {
          if (++this.#toolsSinceTrim >= AUDIT_TRIM_EVERY) {
            this.#toolsSinceTrim = 0;
            this.#trimTools?.run(this.toolCapacity);
          }
        } else if (++this.#sinceTrim >= AUDIT_TRIM_EVERY) {
          this.#sinceTrim = 0;
          this.#trim?.run(this.capacity);
        }
      } catch (e) {
        this.#logger.error({ err: (e as Error).message, action: entry.action, target: entry.target, actor: entry.actor }, 'audit log: could not write the entry to the database');
      }
    }
    if (this.path !== undefined) this.#append(entry);
  }

  /** The last `limit` entries that match, oldest first. */
  list(filter: AuditFilter = {}, limit = 100): AuditRecord[] {
    if (this.#db === undefined) return [];
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.since !== undefined) {
      where.push('time >= ?');
      args.push(filter.since);
    }
    if (filter.actor !== undefined) {
      where.push('(actor = ? OR actor_id = ?)');
      args.push(filter.actor, filter.actor);
    }
    if (filter.action !== undefined) {
      if (filter.action.endsWith('*')) {
        // substr, not LIKE: an action name may hold '_' or '%' literally.
        const prefix = filter.action.slice(0, -1);
        where.push('substr(action, 1, ?) = ?');
        args.push(prefix.length, prefix);
      } else {
        where.push('action = ?');
        args.push(filter.action);
      }
    }
    const sql = `SELECT * FROM audit_log ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY id DESC LIMIT ?`;
    const rows = this.#db.prepare(sql).all(...args, limit) as Row[];
    return rows.reverse().map(toRecord);
  }

  #append(entry: AuditEntry): void {
    try {
      // Opened per entry (management actions are rare; tool calls are bounded by their servers' rate
      // limits): a rotated file is recreated at the next entry,
      // with no handle to reopen. The mode applies when the file is created.
      appendFileSync(this.path as string, `${JSON.stringify(auditJson(entry))}\n`, { mode: 0o600 });
      if (this.#fileFailing) this.#logger.info({ path: this.path }, 'audit log: writing to the file again');
      this.#fileFailing = false;
    } catch (e) {
      // Logged once per failing stretch: a full disk would otherwise log at every request.
      if (!this.#fileFailing) this.#logger.error({ path: this.path, err: (e as Error).message }, 'audit log: could not append to the file; entries stay in the database only until it works again');
      this.#fileFailing = true;
    }
  }
}

/** An entry as it is written to the file and answered by GET /audit. */
export function auditJson(e: AuditEntry | AuditRecord): Record<string, unknown> {
  return {
    ...('id' in e ? { id: e.id } : {}),
    time: new Date(e.time).toISOString(),
    node: e.node,
    actor: e.actor,
    actor_id: e.actorId,
    actor_kind: e.actorKind,
    action: e.action,
    target: e.target,
    result: e.result,
    status: e.status,
    error_code: e.errorCode,
    detail: e.detail,
  };
}

/**
 * The target and detail of an action, from the request's fields, through its allow-list only.
 * `sources` are searched in order; a field of the wrong kind (an object) is left out.
 */
export function auditFields(action: AuditAction, sources: readonly unknown[]): { target: string | null; detail: Record<string, AuditValue> } {
  const spec = AUDIT_ACTIONS[action];
  const lookup = (field: string): unknown => {
    for (const s of sources) {
      if (typeof s === 'object' && s !== null && Object.hasOwn(s, field)) {
        const v = (s as Record<string, unknown>)[field];
        if (v !== undefined) return v;
      }
    }
    return undefined;
  };
  let target: string | null = null;
  for (const f of spec.target) {
    const v = lookup(f);
    if (typeof v === 'string' || typeof v === 'number') {
      target = clip(String(v));
      break;
    }
  }
  const detail: Record<string, AuditValue> = {};
  for (const f of spec.detail as readonly string[]) {
    const v = safeValue(lookup(f));
    if (v !== undefined) detail[f] = v;
  }
  return { target, detail };
}

function safeValue(v: unknown): AuditValue | undefined {
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string') return clip(v);
  if (Array.isArray(v)) {
    const items = v.filter((x): x is string | number | boolean => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean').map((x) => (typeof x === 'string' ? clip(x) : x));
    return items.length > MAX_DETAIL_ITEMS ? [...items.slice(0, MAX_DETAIL_ITEMS), `… ${items.length - MAX_DETAIL_ITEMS} more`] : items;
  }
  return undefined;
}

function clip(s: string): string {
  return s.length > MAX_DETAIL_STRING ? `${s.slice(0, MAX_DETAIL_STRING)}…` : s;
}

function toRecord(r: Row): AuditRecord {
  let detail: Record<string, AuditValue> = {};
  try {
    detail = JSON.parse(r.detail) as Record<string, AuditValue>;
  } catch {
    // Written by record() from JSON.stringify: unreadable only if edited by hand; shown empty.
  }
  return {
    id: r.id,
    time: r.time,
    actor: r.actor,
    actorId: r.actor_id,
    actorKind: r.actor_kind,
    action: r.action,
    target: r.target,
    result: r.result,
    status: r.status,
    errorCode: r.error_code,
    detail,
    node: r.node,
  };
}
