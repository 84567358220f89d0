/**
 * `caxton cluster restore` on one parked node (docs/operations.md, "Stopping and starting a cluster"):
 * the node was stopped with its cluster (its database closed, its data dir lock released), and its
 * parked listener (src/cli/parked-node.ts) asks for its own backup to be written into its own data dir.
 * Only a parked node does this: a running node refuses (`CAXTON_ERR_NODE_NOT_PARKED`, the API route),
 * so a live data dir is never written under its node.
 *
 * After the restore, the node's part of the stop record (where each agent ran) is rewritten from the
 * restored database: the agents it owns now are the backup's, not the ones it ran at the stop (an agent
 * deployed after the backup is gone). `cluster start --verify` compares each node's agents with that
 * node's own record, so it checks the cluster against what was restored.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { CaxtonError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { AuditLog } from '../security/audit.js';
import { openDatabase } from '../storage/database.js';
import { childLocation, findInCatalogs, restoreBackup, type RestoreResult, type S3Options } from '../storage/backup/index.js';
import { writeStopRecord, type StopRecord } from './stop-record.js';

export interface RestoreRequest {
  readonly id: string;
  /** The cluster backup's destination; the node reads `<from>/<node>`. Default: its catalog. */
  readonly from?: string;
  /** Over the node's backup.s3 settings (credentials come from the node's environment, never from here). */
  readonly s3?: S3Options;
}

export interface ParkedRestoreOptions {
  readonly nodeId: string;
  readonly dataDir: string;
  readonly record: StopRecord;
  readonly s3: S3Options;
  /** observability.audit: the database log (in the restored database) and the file. */
  readonly audit: { readonly enabled: boolean; readonly path: string };
  readonly logger: Logger;
}

export interface ParkedRestoreAnswer {
  readonly node: string;
  readonly result: RestoreResult;
  /** The agents this node owns in the restored database (its part of the rewritten stop record). */
  readonly agents: string[];
  readonly record: StopRecord;
}

export function parseRestoreRequest(body: unknown): RestoreRequest {
  const b = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const { id, from, s3 } = b;
  const bad = (what: string) => new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', `POST /server/restore: ${what}`);
  if (typeof id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id)) throw bad('id must be a backup id, as `caxton backup list` shows it (letters, digits, ".", "_", "-")');
  if (from !== undefined && (typeof from !== 'string' || from === '' || !(from.startsWith('/') || from.startsWith('s3://')))) throw bad('from must be an absolute directory or s3://bucket/prefix (the --destination of `cluster backup`)');
  const out: { id: string; from?: string; s3?: S3Options } = { id };
  if (from !== undefined) out.from = from;
  if (s3 !== undefined) {
    if (typeof s3 !== 'object' || s3 === null) throw bad('s3 must be {endpoint?, region?, forcePathStyle?}');
    const o = s3 as Record<string, unknown>;
    const extra = Object.keys(o).filter((k) => !['endpoint', 'region', 'forcePathStyle'].includes(k));
    if (extra.length > 0) throw bad(`s3 has unknown fields: ${extra.join(', ')} (credentials come from the node's environment)`);
    if ((o['endpoint'] !== undefined && typeof o['endpoint'] !== 'string') || (o['region'] !== undefined && typeof o['region'] !== 'string') || (o['forcePathStyle'] !== undefined && typeof o['forcePathStyle'] !== 'boolean')) {
      throw bad('s3.endpoint and s3.region are texts, s3.forcePathStyle a boolean');
    }
    out.s3 = o as S3Options;
  }
  return out;
}

/** Writes backup `req.id` of this node into its data dir (the node is parked), then its part of the record. */
export async function restoreParked(o: ParkedRestoreOptions, req: RestoreRequest, by: { readonly id: string; readonly name: string }): Promise<ParkedRestoreAnswer> {
  const source = req.from !== undefined ? childLocation(req.from, o.nodeId) : findInCatalogs([o.dataDir], req.id)?.location;
  if (source === undefined) {
    throw new CaxtonError('CAXTON_ERR_BACKUP_NOT_FOUND', `node ${o.nodeId} has no backup ${req.id} in its catalog (${join(o.dataDir, 'backup-catalog.json')}): name the cluster backup's destination with --from`, { id: req.id, node: o.nodeId });
  }
  o.logger.warn({ backup: req.id, source, by: by.name }, 'cluster restore: writing the backup into the data dir');
  // Parked: the node is stopped and its lock released, so `force` overwrites nothing live; it only
  // covers a lock file a crashed earlier run left with a reused pid.
  const result = await restoreBackup({ source, id: req.id, target: o.dataDir, force: true, s3: { ...o.s3, ...req.s3 } });
  const agents = ownedAgents(join(o.dataDir, 'caxton.db'));
  const record: StopRecord = { ...o.record, agents: [...o.record.agents.filter((a) => a.node !== o.nodeId), ...agents.map((name) => ({ name, node: o.nodeId }))] };
  writeStopRecord(o.dataDir, record);
  audit(o, req, by);
  o.logger.warn({ backup: req.id, node: result.node, takenAt: result.created_at, agents: agents.length, ms: result.duration_ms }, 'cluster restore: restored; `caxton cluster start` starts the node on it');
  return { node: o.nodeId, result, agents, record };
}

/** The agents whose deployment this node owns (replicas of other nodes' agents are not its own). */
function ownedAgents(dbPath: string): string[] {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT name FROM deployments ORDER BY name').all() as { name: string }[]).map((r) => r.name);
  } finally {
    db.close();
  }
}

/**
 * The audit entry goes into the restored database (the one the node starts on; the entries written
 * since the backup are gone with the rest of that state) and to the audit file, as the API would.
 */
function audit(o: ParkedRestoreOptions, req: RestoreRequest, by: { readonly id: string; readonly name: string }): void {
  if (!o.audit.enabled && o.audit.path === '') return;
  let db: ReturnType<typeof openDatabase> | undefined;
  try {
    if (o.audit.enabled) db = openDatabase(join(o.dataDir, 'caxton.db'));
    const log = new AuditLog({ ...(db === undefined ? {} : { db }), path: o.audit.path, logger: o.logger.child({ component: 'audit' }) });
    log.record({ time: Date.now(), actor: by.name, actorId: by.id, actorKind: 'key', action: 'server.restore', target: o.nodeId, result: 'ok', status: 200, errorCode: null, detail: { id: req.id, ...(req.from === undefined ? {} : { from: req.from }) }, node: o.nodeId });
  } catch (e) {
    // The restore is done; a database without the audit table (an older schema) must not undo that.
    o.logger.error({ err: (e as Error).message }, 'cluster restore: could not write the audit entry');
  } finally {
    db?.close();
  }
}
