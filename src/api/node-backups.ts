/**
 * Backups taken by a running node (`caxton backup create`, `caxton cluster backup`): one at a time
 * per node, run as a job the API starts and the CLI follows (progress, then the result), so that a
 * backup of 1 GiB does not hang one HTTP request for minutes. `cluster backup` starts a job on every
 * up Caxton node through the `backup.start` peer call, each writing under `<destination>/<node>/`,
 * and follows them through `backup.job`; a node that does not answer is reported, never dropped.
 */
import { randomUUID } from 'node:crypto';
import { CaxtonError, isCaxtonError } from '../errors.js';
import { fanOut, type MissingNode } from '../cluster/fan-out.js';
import type { NodeName, PeerBody, Peers } from '../cluster/peers.js';
import { childLocation, createBackup, freeBackupId, pruneBackups, readCatalog, type BackupProgress, type BackupResult, type BackupType, type CatalogEntry, type NodeFiles, type PruneResult, type RetentionRule, type S3Options } from '../storage/backup/index.js';
import type { ViewMember } from './cluster-views.js';

/** Peer call methods; only append (other nodes call them by name). */
export const BACKUP_METHODS = {
  /** Body: a BackupRequest; answers the JobView. */
  start: 'backup.start',
  /** Body `{job}`; answers the JobView. */
  job: 'backup.job',
} as const;

export interface BackupRequest {
  readonly type: BackupType;
  readonly destination: string;
  readonly compress: boolean;
  readonly include_ca_key: boolean;
  /** A cluster backup's id, the same on every node (refused by a node that has a backup by that id). */
  readonly id?: string;
}

export interface JobView {
  readonly job: string;
  readonly node: NodeName;
  readonly state: 'running' | 'done' | 'failed';
  readonly phase: BackupProgress['phase'];
  readonly done_bytes: number;
  readonly total_bytes: number;
  readonly destination: string;
  readonly started_at: string;
  readonly result?: BackupResult;
  readonly error?: { readonly code: string; readonly message: string };
}

export interface ClusterBackupStart {
  /** The job started on each node that answered (this node first). */
  readonly nodes: JobView[];
  readonly missing: MissingNode[];
}

export interface NodeBackupsOptions {
  readonly nodeId: NodeName;
  readonly dataDir: string;
  readonly databasePath: string;
  readonly version: string;
  readonly files: NodeFiles;
  readonly s3?: S3Options;
  readonly logger: { info(o: object, m: string): void; warn(o: object, m: string): void };
  readonly peers?: Peers;
  readonly members?: () => readonly ViewMember[];
}

/** Finished jobs kept for the CLI to read (a job is read within seconds of finishing). */
const KEEP_JOBS = 20;
/** A peer has this long to start its job (it only checks and starts; the work runs after the answer). */
const START_TIMEOUT_MS = 10_000;

export class NodeBackups {
  readonly #o: NodeBackupsOptions;
  readonly #jobs = new Map<string, JobView>();
  #running: string | undefined;

  constructor(o: NodeBackupsOptions) {
    this.#o = o;
    o.peers?.onCall(BACKUP_METHODS.start, (_from, body) => this.start(parseRequest(body)));
    o.peers?.onCall(BACKUP_METHODS.job, (_from, body) => this.job(String(field(body, 'job'))));
  }

  /** Starts a backup of this node; throws CAXTON_ERR_BACKUP_BUSY while one runs. */
  start(req: BackupRequest): JobView {
    if (this.#running !== undefined) {
      throw new CaxtonError('CAXTON_ERR_BACKUP_BUSY', `node ${this.#o.nodeId} is taking a backup already (job ${this.#running})`, { job: this.#running });
    }
    const id = randomUUID();
    let view: JobView = { job: id, node: this.#o.nodeId, state: 'running', phase: 'snapshot', done_bytes: 0, total_bytes: 0, destination: req.destination, started_at: new Date().toISOString() };
    this.#jobs.set(id, view);
    this.#running = id;
    const o = this.#o;
    void createBackup({
      dataDir: o.dataDir,
      databasePath: o.databasePath,
      nodeId: o.nodeId,
      version: o.version,
      type: req.type,
      destination: req.destination,
      compress: req.compress,
      includeCaKey: req.include_ca_key,
      ...(req.id === undefined ? {} : { id: req.id, idMustBeFree: true }),
      files: o.files,
      ...(o.s3 === undefined ? {} : { s3: o.s3 }),
      onProgress: (p) => {
        view = { ...view, phase: p.phase, done_bytes: p.doneBytes, total_bytes: p.totalBytes };
        this.#jobs.set(id, view);
      },
    }).then(
      (result) => {
        view = { ...view, state: 'done', phase: 'done', result };
        o.logger.info({ backup: result.id, type: result.type, location: result.location, bytes: result.size_bytes, ms: result.duration_ms }, 'backup taken');
      },
      (e: unknown) => {
        const error = isCaxtonError(e) ? { code: e.code, message: e.message } : { code: 'CAXTON_ERR_BACKUP_DESTINATION', message: (e as Error).message };
        view = { ...view, state: 'failed', error };
        o.logger.warn({ err: error, destination: req.destination }, 'backup failed');
      },
    ).finally(() => {
      this.#jobs.set(id, view);
      this.#running = undefined;
      while (this.#jobs.size > KEEP_JOBS) this.#jobs.delete(this.#jobs.keys().next().value as string);
    });
    return view;
  }

  /** A job of this node, or (with `node`) of another node through the peer call. */
  async jobOn(job: string, node: string | undefined): Promise<JobView> {
    if (node === undefined || node === this.#o.nodeId) return this.job(job);
    const peers = this.#o.peers;
    if (peers === undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_UNKNOWN_NODE', `no Caxton node named ${node} in the cluster`, { node });
    return checkJob(await peers.call(node, BACKUP_METHODS.job, { job }, { timeoutMs: 5000 }));
  }

  job(job: string): JobView {
    const v = this.#jobs.get(job);
    if (v === undefined) throw new CaxtonError('CAXTON_ERR_BACKUP_NOT_FOUND', `node ${this.#o.nodeId} has no backup job ${job} (it keeps the last ${KEEP_JOBS})`, { job });
    return v;
  }

  list(): CatalogEntry[] {
    return readCatalog(this.#o.dataDir).sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
  }

  get(id: string): CatalogEntry {
    const e = this.list().find((x) => x.id === id);
    if (e === undefined) throw new CaxtonError('CAXTON_ERR_BACKUP_NOT_FOUND', `node ${this.#o.nodeId} has no backup ${id} in its catalog`, { id });
    return e;
  }

  prune(rule: RetentionRule): Promise<PruneResult> {
    return pruneBackups(this.#o.dataDir, rule, this.#o.s3 ?? {});
  }

  /**
   * Starts a backup on every up Caxton node, each under `<destination>/<node>/`, all with the same id
   * (this node picks it), so that `cluster restore --id` names one backup for the whole cluster.
   */
  async startCluster(clusterReq: BackupRequest): Promise<ClusterBackupStart> {
    const self = this.#o.nodeId;
    const nodes: JobView[] = [];
    const missing: MissingNode[] = [];
    const req: BackupRequest = { ...clusterReq, id: clusterReq.id ?? (await freeBackupId(childLocation(clusterReq.destination, self), this.#o.dataDir, this.#o.s3)) };
    try {
      nodes.push(this.start({ ...req, destination: childLocation(req.destination, self) }));
    } catch (e) {
      missing.push({ node: self, code: isCaxtonError(e) ? e.code : null, reason: (e as Error).message });
    }
    const peers = this.#o.peers;
    if (peers === undefined) return { nodes, missing };
    const members = (this.#o.members?.() ?? []).filter((m) => m.name !== self && m.tags['role'] === 'caxton');
    for (const m of members.filter((x) => x.status === 'failed' || x.status === 'left')) {
      missing.push({ node: m.name, code: 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', reason: `${m.status}: not asked` });
    }
    const ask = members.filter((m) => m.status === 'alive' || m.status === 'suspect');
    // Each node gets its own destination: one call per node rather than one fan-out with one body.
    const results = await Promise.all(
      ask.map((m) => fanOut(peers, [m.name], BACKUP_METHODS.start, { ...req, destination: childLocation(req.destination, m.name) }, checkJob, { timeoutMs: START_TIMEOUT_MS, deadlineMs: START_TIMEOUT_MS })),
    );
    for (const r of results) {
      nodes.push(...r.answers.map((a) => a.value));
      missing.push(...r.missing);
    }
    return { nodes, missing };
  }
}

export function parseRequest(body: PeerBody): BackupRequest {
  const type = field(body, 'type');
  const destination = field(body, 'destination');
  if ((type !== 'full' && type !== 'incremental') || typeof destination !== 'string' || destination === '') {
    throw new CaxtonError('CAXTON_ERR_BACKUP_DESTINATION', 'a backup request needs type full|incremental and a destination', {});
  }
  const id = field(body, 'id');
  if (id !== undefined && (typeof id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id))) {
    throw new CaxtonError('CAXTON_ERR_BACKUP_DESTINATION', 'a backup id is letters, digits, ".", "_" and "-" (at most 128)', {});
  }
  return { type, destination, compress: field(body, 'compress') === true, include_ca_key: field(body, 'include_ca_key') === true, ...(id === undefined ? {} : { id }) };
}

function field(body: PeerBody, key: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[key] : undefined;
}

/** A peer's answer: a JobView, or the node is reported missing. */
function checkJob(v: unknown): JobView {
  if (typeof field(v, 'job') !== 'string' || typeof field(v, 'node') !== 'string' || typeof field(v, 'state') !== 'string') throw new Error('not a backup job');
  return v as JobView;
}

/**
 * The files beside the database that a backup holds: the TLS files the config names (the cluster's
 * only with mTLS on: paths of a disabled section may not exist) and the CA key for --include-ca-key.
 */
export function backupFiles(o: { mtls?: { enabled: boolean; caCert: string; nodeCert: string; nodeKey: string } | undefined; apiTls?: { cert: string; key: string; caCert?: string | undefined } | undefined; caKey?: string | undefined }): NodeFiles {
  const mtls = o.mtls?.enabled === true ? o.mtls : undefined;
  const files: Record<keyof NodeFiles, string | undefined> = {
    clusterCaCert: mtls?.caCert,
    clusterNodeCert: mtls?.nodeCert,
    clusterNodeKey: mtls?.nodeKey,
    apiCert: o.apiTls?.cert,
    apiKey: o.apiTls?.key,
    apiCaCert: o.apiTls?.caCert,
    caKey: o.caKey,
  };
  return Object.fromEntries(Object.entries(files).filter(([, v]) => v !== undefined && v !== ''));
}
