/**
 * The composition root: builds one Caxton node from its options and owns the order in which its
 * parts start and stop. Each subsystem is reached only through its module's index.
 *
 * Start: database → admin key → worker pool → outbox relay → deployments restored → metrics → API →
 * ready. Stop (SIGTERM): not ready, event streams ended → API closed → other nodes' messages refused,
 * relay stopped → agents quiet (or the drain timeout) → agents stopped → cluster left → workers →
 * metrics → database closed, each step bounded in time (stop()).
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { AgentPool, DEFAULT_MAX_MESSAGE_BYTES, reliableIdOf, type PoolEvent, type SandboxPolicy } from './sandbox/index.js';
import { TRAP_HANDLER_FLAG, trapHandlerDisabled } from './sandbox/capacity.js';
import type { CapabilityStrategy } from './sandbox/pool.js';
import type { RestartPolicy } from './agents/restart-policy.js';
import { ApiKeyStore, DeadLetterStore, DeploymentStore, openDatabase, OutboxStore, ReplicaStore, SqliteAgentStateStore, type SqliteDatabase, type Synchronous } from './storage/index.js';
import { DeadLetterQueue } from './messaging/dead-letter-queue.js';
import { OutboxRelay, type RelayOptions } from './messaging/outbox-relay.js';
import { MessageJournal, journalNow } from './messaging/journal.js';
import { Deployments } from './agents/deployments.js';
import { AgentLogs } from './observability/agent-logs.js';
import { NodeMetrics } from './observability/metrics.js';
import { LoadShedder } from './api/load-shedding.js';
import { LoadShedding } from './api/shed-load.js';
import { startMetricsServer, type MetricsServer } from './observability/metrics-server.js';
import type { Logger } from './observability/logger.js';
import { ensureAdminKey } from './api/auth.js';
import { buildApi } from './api/server.js';
import { streamEvent, type ApiContext, type ApiTls, type NodeEvent } from './api/context.js';
import { VERSION } from './version.js';
import { Cluster, type ClusterOptions, type ClusterProfile } from './cluster/cluster.js';
import { KnownMembers } from './cluster/partition/known-members.js';
import { PartitionMonitor } from './cluster/partition/monitor.js';
import { Partitions } from './cluster/partition/partitions.js';
import { PartitionControl, PING_CALL } from './cluster/partition/control.js';
import { ConflictStore } from './cluster/partition/conflicts.js';
import { registerPartitionMetrics } from './cluster/partition/metrics.js';
import { PartitionQueue } from './messaging/partition-queue.js';
import { PartitionQueueStore } from './storage/partition-queue-store.js';

import { saveKeyringFile, startupGossipKeys } from './cluster/keyring-file.js';
import { membershipGauges } from './cluster/membership/index.js';
import { registerLinkMetrics } from './cluster/link/metrics.js';
import { registerDirectMetrics } from './cluster/direct-paths.js';
import { chooseAdvertiseAddress } from './cluster/advertise.js';
import { clusterTlsAtStart, type ClusterMtlsOptions } from './security/cluster-mtls.js';
import { LOAD_ANNOUNCE_MIN_MS, nodeTags, tagsChanged } from './cluster/node-tags.js';
import { CpuSampler, cpuTimes } from './observability/host.js';
import type { PlacementMember } from './agents/placement.js';
import { startPeerServices, type PeerServices } from './cluster/peer-services.js';
import { agentView } from './api/views.js';
import { NodePerformance } from './observability/performance.js';
import { FailureDetectionWatch, type DetectionReading } from './cluster/failure-detection.js';
import type { Peers } from './cluster/peers.js';
import { NodeViews, type NodeViewParts } from './api/node-views.js';
import { ClusterViews, type ViewMember } from './api/cluster-views.js';
import { ClusterOperations } from './api/cluster-operations.js';
import { startClusterRouting, type ClusterRouting } from './cluster/routing.js';
import { AgentEventSharing } from './cluster/agent-events.js';
import { EventRelay } from './cluster/event-relay.js';
import { ClusterAgents, isolatedOnDisk } from './agents/cluster-agents.js';
import { StateReplicator, type ReplicationMode } from './agents/replication/index.js';
import { watchLine } from './agents/cluster-events.js';
import { AuditLog } from './security/audit.js';
import { NodeCerts } from './security/node-certs.js';
import { ClusterCerts } from './security/cluster-certs.js';
import { NodeRestart, type RestartRequest } from './cluster/node-restart.js';
import { nodeUpgrades, type UpgradeCoordinator } from './cluster/upgrade/index.js';
import { NodeStop, type ParkRequest } from './cluster/node-stop.js';
import { finishStopRecord, readStopRecord, StartGate } from './cluster/stop-record.js';
import { httpsOptions } from './api/server.js';
import type { Server as HttpsServer } from 'node:https';
import { RevocationList } from './security/revocation.js';
import { Revocations } from './cluster/revocation-sync.js';
import { DataDirLock } from './storage/data-dir-lock.js';
import type { S3Options } from './storage/backup/index.js';
import { backupFiles, NodeBackups } from './api/node-backups.js';
import { startTools, type McpBridge, type McpServerOptions } from './integrations/mcp/index.js';
import { mcpRoutes, unannounced } from './integrations/mcp/cluster-routes.js';

export interface Address {
  readonly host: string;
  readonly port: number;
}

export interface ApiOptions {
  readonly addr: Address;
  /** @default 64 MiB */
  readonly bodyLimitBytes?: number;
  /** How long a client may take to send a whole request, ms (slow-loris guard). @default 30 s */
  readonly requestTimeoutMs?: number;
  /** @default 50 MiB */
  readonly maxModuleBytes?: number;
  /** Per-key token bucket. @default 100/s, burst 200 */
  readonly rateLimit?: { readonly enabled: boolean; readonly perSecond: number; readonly burst: number };
  /** Require an API key on every route but health, readiness and the OpenAPI document. @default true */
  readonly authEnabled?: boolean;
  /** The audit log (observability.audit): in the database when enabled, and to `path` when not ''. @default enabled, no file */
  readonly audit?: { readonly enabled: boolean; readonly path: string };
  /** HTTPS (security.api.tls), its files loaded and checked; undefined: plain HTTP. */
  readonly tls?: ApiTls;
}

/** The configuration as the API shows and compares it (src/config provides it). */
export interface ConfigView {
  view(): unknown;
  diff(yaml: string, file: string): { key: string; running: unknown; baseline: unknown }[];
}

export interface NodeOptions {
  /** Where the node keeps its SQLite database and admin key. @default ./.caxton */
  readonly dataDir: string;
  readonly nodeId: string;
  readonly logger: Logger;
  readonly policy?: SandboxPolicy;
  readonly restartPolicy?: RestartPolicy;
  readonly workers?: number;
  readonly mailboxCapacity?: number;
  readonly mailboxBytes?: number;
  readonly maxMessageBytes?: number;
  readonly capabilityStrategy?: CapabilityStrategy;
  /** Graceful stops and shutdown wait this long for mailboxes to drain, ms. @default 30 s */
  readonly drainTimeoutMs?: number;
  readonly maxAgents?: number;
  /** Bytes of admitted modules kept once no agent runs them (runtime.module_cache_size). @default 256 MiB */
  readonly moduleCacheBytes?: number;
  readonly synchronous?: Synchronous;
  /** At-least-once redelivery timing. */
  readonly relay?: RelayOptions;
  /** The REST API; absent: none (embedded use, tests). */
  readonly api?: ApiOptions;
  /** The Prometheus endpoint; absent: none. */
  readonly metrics?: { readonly addr: Address };
  readonly config?: ConfigView;
  /**
   * Stops the node at once, without a drain (`emergency stop --cluster`); src/cli/server.ts provides
   * it (the process exits with status 0). Absent: the node stops itself (embedded use, tests).
   */
  readonly exit?: (reason: string) => void;
  /** Restarts the node in place (`POST /server/restart`); src/cli/server.ts provides it. Absent: no restart. */
  readonly restart?: (r: RestartRequest) => void;
  /** The supervisor's releases directory (`caxton server start --releases`); absent: the node cannot change release. */
  readonly releasesDir?: string;
  /** Stops the node with its cluster and parks the process (`POST /server/stop`); src/cli/server.ts provides it. */
  readonly park?: (r: ParkRequest) => void;
  /** Cluster membership (SWIM, serf-compatible); absent: a single node. */
  readonly cluster?: NodeClusterOptions;
  /**
   * How this node talks to other nodes (src/cluster/peers.ts). With it, API keys are cluster-wide,
   * deploys are placed across the members (src/cluster/peer-services.ts), and the views (agent list,
   * queue stats, resources, memory stats, agents slow, cluster performance) cover every member; with
   * `cluster` too, agents are placed, replicated, moved and failed over across the cluster
   * (src/agents/cluster-agents.ts).
   * @default the cluster's link (src/cluster/link/) when the node is in a cluster; none otherwise
   */
  readonly peers?: Peers;
  /** The members placement and the views use. @default the cluster's members (none without a cluster) */
  readonly peerMembers?: () => readonly ViewMember[];
  /** Backups (config `backup.*`): S3 settings beyond the SDK's chain, and the CA key for --include-ca-key. */
  readonly backup?: { readonly s3?: S3Options; readonly caKey?: string };
  /** MCP servers for agents' tools (integrations.mcp.servers, docs/tools.md). @default none */
  readonly mcpServers?: readonly McpServerOptions[];
}

export interface NodeClusterOptions {
  readonly bind: Address;
  /**
   * What other nodes use to reach this one. Absent or 'auto': the bind IP, or with a bind to
   * 0.0.0.0 / :: the host's first non-internal IPv4 (src/cluster/advertise.ts).
   */
  readonly advertise?: Address | 'auto';
  readonly profile: ClusterProfile;
  /**
   * Agent-to-agent messages between workers of two nodes without the main threads (docs/cluster-routing.md,
   * "The direct path"), over TLS when mTLS is on. `port`: worker 0's listener (worker i: port + i), 0 any.
   * @default { enabled: true, port: 0 }
   */
  readonly direct?: { readonly enabled: boolean; readonly port: number };
  /** Timings that override the profile's (memberlist's names). */
  readonly timings?: ClusterOptions['timings'];
  /** Nodes to join at start; retried every 5 s until one answers. */
  readonly seeds: readonly Address[];
  /** Cluster size the operator expects (status shows alive of expected). */
  readonly expect: number;
  /** Gossip encryption keys, primary first; empty: plaintext. */
  readonly keys?: readonly Uint8Array[];
  /** Agents' state replication (coordination.replication). @default sync, retransmit every 200 ms */
  readonly replication?: { readonly mode: ReplicationMode; readonly retransmitMs: number };
  /** The partition queue's bounds and the merge strategy (coordination.partition). */
  readonly partition?: { readonly maxQueue: number; readonly maxQueueBytes: number; readonly resolveStrategy: 'auto' | 'manual' };
  /** mTLS for the node-to-node link (security.cluster.mtls); off or absent: plain TCP, with a warning. */
  readonly mtls?: ClusterMtlsOptions;
}

/** How often an unanswered join is retried, ms. */
const CLUSTER_RETRY_MS = 5000;
/**
 * How often this node's tags (load, agents, capabilities) are recomputed, ms. They are announced
 * only when tagsChanged() says so: each announcement is an alive broadcast with a new incarnation.
 */
const TAG_REFRESH_MS = 10_000;

const DEFAULT_DRAIN_MS = 30_000;

/** How long each step of a stop may take, ms, besides the drain (which has drainTimeoutMs). */
const STOP_STEP_MS = { api: 5_000, cluster: 4_000, agents: 5_000, pool: 5_000, metrics: 2_000, tools: 7_000 } as const;

export class CaxtonNode {
  readonly #db: SqliteDatabase;
  readonly #events: ((e: NodeEvent) => void)[] = [];
  #ready = false;
  #api: FastifyInstance | undefined;
  #metricsServer: MetricsServer | undefined;
  #cluster: Cluster | undefined;
  #peerServices: PeerServices | undefined;
  #revocations!: Revocations;
  /** Routing across the cluster (absent on a node alone): who hosts what, and the message link. */
  #routing: ClusterRouting | undefined;
  #clusterAgents: ClusterAgents | undefined;
  /** Other nodes' agent lifecycle events on this node's stream while a stream wants them (absent on a node alone). */
  #relay: EventRelay | undefined;
  /** Which side of a partition this node is on, its queue and the merge (absent on a single node). */
  #partitions: PartitionControl | undefined;
  #replicator: StateReplicator | undefined;
  #clusterTimer: NodeJS.Timeout | undefined;
  #tagTimer: NodeJS.Timeout | undefined;
  /** Host CPU for the `cpu` tag: each reading covers the time since the previous one. */
  #cpu: CpuSampler | undefined;
  #stopping: Promise<void> | undefined;
  /** This node's certificates, reloaded without a restart (src/security/node-certs.ts). */
  #certs: NodeCerts | undefined;
  #clusterCerts: ClusterCerts | undefined;
  /** The audit log (API actions and tool calls); none when both its database log and its file are off. */
  #audit: AuditLog | undefined;
  /** The MCP bridge (src/integrations/mcp), when the config lists servers. */
  #tools: { bridge: McpBridge; close: () => Promise<void> } | undefined;
  #restart: NodeRestart | undefined;
  #upgrade: UpgradeCoordinator | undefined;
  #stopWithCluster: NodeStop | undefined;
  readonly startedAt = Date.now();
  apiAddress: Address | undefined;
  metricsAddress: Address | undefined;
  /** This node's views, and the cluster-wide ones when it has peers (set in start()). */
  nodeViews!: NodeViews;
  clusterViews: ClusterViews | undefined;
  /** `caxton cluster shed-load` on this node and through it on its peers (set in start()). */
  loadShedding!: LoadShedding;
  /** `caxton backup create` / `cluster backup` on this node (set in start()). */
  backups!: NodeBackups;
  /** `<data-dir>/caxton.lock`: this data dir is in use (src/storage/data-dir-lock.ts). */
  #lock: DataDirLock | undefined;
  /** The emergency and troubleshooting operations, here and through it on its peers (set in start()). */
  operations!: ClusterOperations;

  private constructor(
    readonly options: NodeOptions,
    readonly dataDir: string,
    readonly databasePath: string,
    db: SqliteDatabase,
    readonly pool: AgentPool,
    readonly deadLetters: DeadLetterQueue,
    readonly outbox: OutboxStore,
    readonly relay: OutboxRelay,
    readonly deployments: Deployments,
    readonly keys: ApiKeyStore,
    readonly journal: MessageJournal,
    readonly logs: AgentLogs,
    readonly metrics: NodeMetrics,
  ) {
    this.#db = db;
  }

  static async start(options: NodeOptions): Promise<CaxtonNode> {
    const log = options.logger;
    const dataDir = resolve(options.dataDir);
    // Before anything is opened or listens: bad TLS files stop the start with the file and the problem.
    const linkTls = options.cluster === undefined ? undefined : clusterTlsAtStart(options.nodeId, options.cluster.mtls, log);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // Before the database opens: a second node on this data dir is refused, a killed node's lock taken over.
    const lock = DataDirLock.acquire(dataDir, options.nodeId);
    const databasePath = join(dataDir, 'caxton.db');
    // Opened here first so migrations run once, before any worker connects.
    const db = openDatabase(databasePath, options.synchronous === undefined ? {} : { synchronous: options.synchronous });
    const keys = new ApiKeyStore(db, options.nodeId);
    const admin = ensureAdminKey(keys, dataDir);
    if (admin.created) log.info({ path: admin.path }, 'created an admin API key; the local CLI reads it from this file');
    const pool = await AgentPool.start({
      databasePath,
      ...(options.policy === undefined ? {} : { policy: options.policy }),
      ...(options.restartPolicy === undefined ? {} : { restartPolicy: options.restartPolicy }),
      ...(options.workers === undefined ? {} : { workers: options.workers }),
      ...(options.mailboxCapacity === undefined ? {} : { mailboxCapacity: options.mailboxCapacity }),
      ...(options.mailboxBytes === undefined ? {} : { mailboxBytes: options.mailboxBytes }),
      ...(options.maxMessageBytes === undefined ? {} : { maxMessageBytes: options.maxMessageBytes }),
      ...(options.capabilityStrategy === undefined ? {} : { capabilityStrategy: options.capabilityStrategy }),
      ...(options.relay?.baseDelayMs === undefined ? {} : { redeliverAfterMs: options.relay.baseDelayMs }),
      ...(options.moduleCacheBytes === undefined ? {} : { moduleCacheBytes: options.moduleCacheBytes }),
    });
    const deadLetters = new DeadLetterQueue(new DeadLetterStore(db), pool.router.redelivery);
    const outbox = new OutboxStore(db);
    // Set once the cluster runs (below): while partitioned, at-least-once messages are not dead-lettered.
    let partitioned: () => boolean = () => false;
    // Replays, from its first scan on, what a previous run left unacknowledged in the outbox.
    const relay = new OutboxRelay(outbox, pool.router.redelivery, deadLetters, { ...options.relay, holdDeadLetters: () => partitioned() });
    // Starts are timed from here on, so metrics (built below, before any start) sees each one.
    const deployments = new Deployments(pool, new DeploymentStore(db), new SqliteAgentStateStore(db), log.child({ component: 'deployments' }), options.maxAgents, (s) => metrics.observeSpawn(s));
    const journal = new MessageJournal();
    const logs = new AgentLogs();
    let cluster: Cluster | undefined;
    // Started from a cluster stopped with `caxton cluster stop --all` (src/cluster/stop-record.ts).
    const stopRecord = options.cluster === undefined ? undefined : readStopRecord(dataDir);
    const startGate =
      stopRecord === undefined
        ? undefined
        : new StartGate(stopRecord, options.nodeId, () => {
            finishStopRecord(dataDir);
            const due = outbox.allDue(Date.now());
            log.info({ members: stopRecord.members.length, redeliver: due }, 'cluster start: the members recorded at the stop are back (or the grace period is over); kept messages are redelivered now, failovers as usual from now on');
          });
    if (startGate !== undefined && !startGate.open) log.warn({ waiting: startGate.waiting }, 'started from a stopped cluster: no agent of a recorded member is taken over until it is back');
    // Built before the cluster starts, so that the first tags already say whether this node is isolated.
    if (options.cluster !== undefined) {
      const c = options.cluster;
      const advertise = chooseAdvertiseAddress(c.bind, c.advertise);
      const gossip = startupGossipKeys(dataDir, c.keys);
      if (gossip.warning !== undefined) log.warn({ file: gossip.file }, gossip.warning);
      if (advertise.warning !== undefined) log.warn({ bind: c.bind, advertise: advertise.address }, advertise.warning);
      cluster = await Cluster.start({
        name: options.nodeId,
        bind: c.bind,
        advertise: advertise.address,
        profile: c.profile,
        ...(c.timings === undefined ? {} : { timings: c.timings }),
        // The API's address is known once it listens; the configured one stands in until then. The
        // CPU since boot stands in for a reading over a real interval (the sampler's first one).
        tags: currentTags(pool, deployments, cpuSinceBoot(), options.api === undefined || options.api.addr.port === 0 ? undefined : apiTag(options.api.addr, advertise.address), isolatedOnDisk(dataDir), mcpNames(options)),
        ...(gossip.keys === undefined || gossip.keys.length === 0 ? {} : { keys: gossip.keys }),
        ...(linkTls === undefined ? {} : { linkTls }),
        logger: log.child({ component: 'cluster' }),
      });
      // A key rotation (from any member, or serf) changes the ring at run time: keep it on disk so a
      // restart comes back with the keys the cluster uses now.
      const ring = cluster.keyring;
      if (ring !== undefined) {
        cluster.serf.onKeyChange((e) => {
          if (!e.ok) return;
          try {
            saveKeyringFile(gossip.file, ring);
          } catch (err) {
            log.error({ err, file: gossip.file }, 'could not save the gossip keyring: a restart would come back with the old keys');
          }
        });
      }
    }
    const shedding = new LoadShedder();
    const metrics = new NodeMetrics({
      nodeId: options.nodeId,
      pool,
      ...(cluster === undefined ? {} : { cluster: membershipGauges(cluster.membership) }),
      extra: () => ({ outboxPending: outbox.count(), deadLetters: deadLetters.count() }),
      shedding,
    });
    // The node-to-node link's per-peer metrics (docs/metrics.md, "Cluster link metrics").
    if (cluster !== undefined) {
      registerLinkMetrics(metrics.registry, () => cluster.peers.stats());
      registerDirectMetrics(metrics.registry, () => pool.directStats());
    }
    const node: CaxtonNode = new CaxtonNode(options, dataDir, databasePath, db, pool, deadLetters, outbox, relay, deployments, keys, journal, logs, metrics);
    node.#cluster = cluster;
    node.#lock = lock;
    // Revoked certificates (docs/security.md, "Revocation"): the link refuses them from now on.
    node.#revocations = new Revocations({ list: new RevocationList(db), self: options.nodeId, logger: log.child({ component: 'security' }), ...(cluster === undefined ? {} : { transport: cluster.transport }) });
    const peers = options.peers ?? cluster?.peers;
    // Agents' key-value state, replicated to the next owner in rendezvous order (sync by default).
    const replicator =
      cluster === undefined || peers === undefined
        ? undefined
        : new StateReplicator({
            peers,
            pool,
            store: new ReplicaStore(db),
            ...(options.cluster?.replication === undefined ? {} : { mode: options.cluster.replication.mode, retransmitMs: options.cluster.replication.retransmitMs }),
            log: (level, text) => log[level]({ component: 'replication' }, text),
          });
    // Where agents run across the cluster: placement, replicas of deployments, failover, live moves.
    const clusterAgents =
      cluster === undefined || peers === undefined || replicator === undefined
        ? undefined
        : new ClusterAgents({
            peers,
            replicaState: {
              async promote(agent, replicas, minEpoch) {
                const p = await replicator.promote(agent, replicas);
                return { epoch: Math.max(p.epoch, minEpoch), applied: p.applied };
              },
              setReplicas: (agent, replicas) => replicator.setReplica(agent, replicas[0], { ownership: deployments.epoch(agent) ?? 0 }),
              removed: (agent) => void replicator.forget(agent),
            },
            // Failover and moves change what this node hosts and under which epoch: the directory hears it.
            directory: { hosted: (agent) => node.#routing?.announcer.changed(agent), moved: (agent) => node.#routing?.announcer.changed(agent) },
            deployments,
            db,
            dataDir,
            members: () => cluster.members(),
            announce: async (out) => {
              const api = node.apiAddress === undefined ? undefined : apiTag(node.apiAddress, cluster.transport.advertise);
              await cluster.setTags(currentTags(pool, deployments, Number(cluster.serf.tags.get('cpu') ?? 0), api, out, mcpNames(options)));
            },
            deliverLocal: (name, json, priority) => pool.deliver(name, json, priority),
            // A side without a quorum takes no agents over; a merge held for the operator settles no duplicates.
            partition: {
              quorum: () => {
                // Started from a stopped cluster: the other recorded members' agents come back with them.
                if (startGate !== undefined && !startGate.open) return false;
                const p = node.#partitions?.partitions;
                if (p === undefined) return true;
                p.refresh(); // this view change may be the one that split the cluster
                return p.takeoverAllowed();
              },
              mergeHeld: () => node.#partitions?.partitions.settlingHeld === true,
            },
            conflicts: { record: (c) => node.#partitions?.conflicts.record(c) ?? 0 },
            startHeld: () => startGate !== undefined && !startGate.open,
            // Held messages that cannot go where the agent now runs are answered like any refusal.
            reroute: (name, json, priority) => pool.router.send('', name, json, priority),
            logger: log.child({ component: 'cluster-agents' }),
            drainTimeoutMs: options.drainTimeoutMs ?? DEFAULT_DRAIN_MS,
          });
    const views = buildViews(options, peers, cluster, metrics, { pool, deployments, outbox, deadLetters, logs });
    node.nodeViews = views.node;
    node.clusterViews = views.cluster;
    node.loadShedding = new LoadShedding({ nodeId: options.nodeId, shedder: shedding, logger: log.child({ component: 'load-shedding' }), ...(peers === undefined ? {} : { peers, members: options.peerMembers ?? (() => cluster?.members() ?? []) }) });
    node.#clusterAgents = clusterAgents;
    node.backups = new NodeBackups({ nodeId: options.nodeId, dataDir, databasePath, version: VERSION, files: backupFiles({ mtls: options.cluster?.mtls, apiTls: options.api?.tls?.files, caKey: options.backup?.caKey }), ...(options.backup?.s3 === undefined ? {} : { s3: options.backup.s3 }), logger: log.child({ component: 'backup' }), ...(peers === undefined ? {} : { peers, members: options.peerMembers ?? (() => cluster?.members() ?? []) }) });
    // Moves, failovers and second copies stopped go to the log and the event stream (`caxton cluster watch`).
    // ... on every node's stream: the node where it happens tells the others (src/cluster/agent-events.ts).
    const sharing =
      cluster === undefined || peers === undefined
        ? undefined
        : new AgentEventSharing(peers, () => cluster.members(), (e) => node.#emit(e), (text) => log.warn({ component: 'cluster-agents' }, text));
    // A deploy, a crash or a restart on another node, on this node's stream while one is open (src/cluster/event-relay.ts).
    node.#relay = cluster === undefined || peers === undefined ? undefined : new EventRelay({ peers, members: () => cluster.members(), emit: (e) => node.#emit(e), warn: (text) => log.warn({ component: 'event-relay' }, text) });
    // One `agent.deployed` per deploy, on the node that hosts the agent.
    deployments.onChange((c) => {
      if (c.type === 'put' && c.deployed !== undefined) node.#local({ type: 'agent.deployed', time: new Date().toISOString(), agent: c.name, node: options.nodeId, module: c.deployed.module, priority: c.deployed.priority });
    });
    clusterAgents?.onEvent((ae) => {
      const { type, ...fields } = ae;
      const e: NodeEvent = { type: `cluster.${type}`, time: new Date().toISOString(), ...fields, text: watchLine(ae) };
      (type === 'agent_moved' ? log.info.bind(log) : log.warn.bind(log))(e, e.type);
      node.#emit(e);
      sharing?.share({ ...e, text: watchLine(ae) });
    });
    // Only the cluster's `cpu` tag reads it.
    if (cluster !== undefined) node.#cpu = new CpuSampler();
    // Membership changes go to the log and the event stream (`caxton cluster watch`).
    cluster?.onEvent((ev) => {
      const m = ev.type === 'conflict' ? ev.other : ev.member;
      const e: NodeEvent = { type: `cluster.${ev.type}`, time: new Date().toISOString(), node: m.name, status: m.status, address: `${m.host}:${m.port}`, incarnation: m.incarnation, ...(ev.type === 'suspect' ? { from: ev.from } : {}) };
      (ev.type === 'failed' || ev.type === 'suspect' || ev.type === 'conflict' ? log.warn.bind(log) : log.info.bind(log))(e, e.type);
      node.#emit(e);
      startGate?.update(cluster.members().filter((x) => x.status === 'alive').map((x) => x.name));
      // A view change: failovers, claims, replica pushes, moves (src/agents/failover.ts).
      if (ev.type !== 'suspect' && ev.type !== 'conflict' && node.#stopping === undefined) void node.#clusterAgents?.viewChanged();
    });
    pool.onEvent((e) => node.#onPoolEvent(e));
    node.#audit = auditLog(db, options.api?.audit, log).audit;
    // Before the agents are restored: an agent may call a tool from its first message.
    node.#tools = startTools({ servers: options.mcpServers ?? [], pool, logger: log, nodeId: options.nodeId, maxMessageBytes: options.maxMessageBytes ?? 100 * 1024, registry: metrics.registry, audit: node.#audit, ack: (id) => outbox.ack(id), journal: (json, detail) => journal.recordMessage('sent', json, detail) });
    node.#replicator = replicator;
    if (cluster !== undefined) {
      node.#routing = startClusterRouting({
        cluster,
        pool,
        outbox,
        log,
        epochOf: (name) => deployments.epoch(name) ?? 0,
        ...(clusterAgents === undefined ? {} : { moving: clusterAgents.gate, isolated: (m) => m.tags['isolated'] === '1' }),
        ...(options.relay?.baseDelayMs === undefined ? {} : { redeliverAfterMs: options.relay.baseDelayMs }),
        ...(options.cluster?.direct?.enabled === false
          ? {}
          : {
              direct: {
                port: options.cluster?.direct?.port ?? 0,
                maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
                // mTLS on: the workers' connections run TLS with the link's certificates and revocations.
                ...(linkTls === undefined ? {} : { tls: { material: linkTls, revoked: node.#revocations.list.entries() } }),
              },
            }),
      });
      if (linkTls !== undefined) node.#revocations.onRevoked((rows) => pool.directRevoked(rows));
    }
    if (cluster !== undefined && node.#routing !== undefined) {
      // mcp:<server> that this node does not run goes to a node whose `mcp` tag names it (docs/tools.md).
      pool.router.routeEndpointsTo(mcpRoutes(() => cluster.members(), options.nodeId));
      const left = unannounced(mcpNames(options));
      if (left.length > 0) log.warn({ servers: left }, 'MCP servers left out of this node\'s tags (too many names): other nodes cannot route to them');
      const routing = node.#routing;
      const known = new KnownMembers(db, options.nodeId);
      // Their graceful leaves during `cluster stop --all` shrank the agreed size: the record restores it.
      for (const m of stopRecord?.members ?? []) known.add(m.name);
      const monitor = new PartitionMonitor({ self: options.nodeId, expect: options.cluster?.expect ?? 1, known, members: () => cluster.members() });
      const store = new PartitionQueueStore(db);
      const po = options.cluster?.partition;
      const queue = new PartitionQueue(store, outbox, {
        ...(po === undefined ? {} : { maxMessages: po.maxQueue, maxBytes: po.maxQueueBytes }),
        ...(options.relay?.baseDelayMs === undefined ? {} : { redeliverAfterMs: options.relay.baseDelayMs }),
      });
      const plog = log.child({ component: 'partition' });
      const parts = new Partitions({
        monitor,
        queue,
        replay: (from, to, json, priority, replyTo) => pool.router.replayHeld(from, to, json, priority, replyTo),
        takeUnacked: (n) => routing.remote.takeUnacked(n),
        pending: (id) => outbox.message(id),
        queuedReceivers: () => store.receivers(),
        emit: ({ type, ...fields }) => node.#emit({ type: `cluster.${type}`, time: new Date().toISOString(), node: options.nodeId, ...fields }),
        logger: plog,
        manual: po?.resolveStrategy === 'manual',
        // A full probe round over the members: every cut-off member is suspect by then. Sooner when
        // enough members answer a link call to make a quorum with this node (seen, not inferred).
        takeoverStableMs: Math.max(2000, Math.max(options.cluster?.expect ?? 1, known.names().size) * cluster.membership.config.probeIntervalMs),
        ping: (n) => cluster.peers.call(n, PING_CALL, null, { timeoutMs: Math.max(500, 2 * cluster.membership.config.probeTimeoutMs) }).then(() => true),
      });
      pool.router.holdDuringPartitions(parts);
      // A majority that was not stable yet at its view change takes the agents over once it is.
      parts.onTakeoverReady(() => {
        if (node.#stopping === undefined) void node.#clusterAgents?.viewChanged();
      });
      // A force-leave (cluster remove) changes a member's status in serf only.
      cluster.serf.onStatusChange(() => monitor.update());
      partitioned = () => parts.active();
      node.#partitions = new PartitionControl(parts, new ConflictStore(db), cluster.peers, clusterAgents);
      registerPartitionMetrics(metrics.registry, parts, queue);
      // The side this node is on, kept current for the status and the gate (failover's quorum check
      // refreshes it itself, whichever membership handler runs first).
      cluster.onEvent((ev) => {
        if (ev.type === 'conflict') return;
        monitor.update();
        if (ev.type === 'failed') parts.nodeFailed(ev.member.name);
      });
    }
    if (peers !== undefined) {
      const self: PlacementMember = { name: options.nodeId, status: 'alive', tags: { role: 'caxton' } };
      const services = startPeerServices({
        peers,
        members: options.peerMembers ?? (() => cluster?.members() ?? [self]),
        keys,
        deployments,
        view: agentView,
        logger: log.child({ component: 'peers' }),
        ...(options.api?.maxModuleBytes === undefined ? {} : { maxModuleBytes: options.api.maxModuleBytes }),
        routable: (name) => node.#routing?.routable(name) ?? Promise.resolve(),
        revocations: node.#revocations,
      });
      node.#peerServices = services;
      cluster?.onEvent((ev) => {
        if (ev.type === 'join' || ev.type === 'alive') services.memberJoined(ev.member.name);
      });
    }
    node.#certs = nodeCerts(options, linkTls, cluster, pool, () => node.#api);
    node.#clusterCerts = new ClusterCerts(options.nodeId, node.#certs, peers, options.peerMembers ?? (() => cluster?.members() ?? []));
    node.operations = new ClusterOperations({
      nodeId: options.nodeId, version: VERSION, startedAt: node.startedAt, dataDir, logger: log, pool, deployments, deadLetters, journal, logs,
      backupDatabase: async (path) => void (await db.backup(path)),
      metricsText: () => metrics.text(),
      config: () => options.config?.view() ?? {},
      exit: options.exit ?? (() => void node.stop()),
      stopReplicas: clusterAgents === undefined ? undefined : () => clusterAgents.stopReplicas(),
      peers, members: options.peerMembers ?? (() => cluster?.members() ?? []),
    });
    node.#stopWithCluster = new NodeStop({
      self: options.nodeId,
      dataDir,
      logger: log,
      peers,
      members: () => cluster?.members() ?? [],
      freeze: async () => {
        clusterAgents?.close();
        relay.stop();
        // What the agents have queued is handled, and the acks of what came from other nodes go out
        // (every node is still up: the stops come after every node froze).
        const deadline = Date.now() + (options.drainTimeoutMs ?? DEFAULT_DRAIN_MS);
        await pool.quiesce(options.drainTimeoutMs ?? DEFAULT_DRAIN_MS);
        // Held ones whose delivery here was refused wait for the relay, after the start: not for them.
        let last = -1;
        let since = Date.now();
        for (let held = node.#routing?.remote.held ?? 0; held > 0 && Date.now() < deadline && Date.now() - since < 500; held = node.#routing?.remote.held ?? 0) {
          if (held !== last) [last, since] = [held, Date.now()];
          await new Promise((r) => setTimeout(r, 20));
        }
      },
      park: options.park,
    });
    node.#restart = new NodeRestart({ self: options.nodeId, startedAt: node.startedAt, logger: log, peers, members: () => cluster?.members() ?? [], handOver: clusterAgents === undefined ? undefined : () => clusterAgents.handOver(), restart: options.restart, releasesDir: options.releasesDir });
    node.#upgrade = nodeUpgrades({ self: options.nodeId, version: VERSION, startedAt: node.startedAt, dataDir, releasesDir: options.releasesDir, peers, members: () => cluster?.members() ?? [], restart: node.#restart, registry: metrics.registry, agents: async () => views.cluster?.agents(undefined) ?? views.node.agents(), logger: log.child({ component: 'upgrade' }) });
    try {
      const { restored, failed } = await deployments.restore();
      if (restored + failed > 0) log.info({ restored, failed }, 'deployed agents restored');
      if (options.metrics !== undefined) {
        node.#metricsServer = await startMetricsServer({ host: options.metrics.addr.host, port: options.metrics.addr.port, metrics });
        node.metricsAddress = node.#metricsServer.address;
      }
      if (options.api !== undefined) {
        node.#api = await buildApi(node.#apiContext(options.api));
        await node.#api.listen({ host: options.api.addr.host, port: options.api.addr.port });
        const a = node.#api.server.address();
        node.apiAddress = typeof a === 'object' && a !== null ? { host: a.address, port: a.port } : options.api.addr;
        lock.setApiUrl(`${options.api.tls === undefined ? 'http' : 'https'}://${apiTag(node.apiAddress, node.apiAddress)}`);
      }
      if (cluster !== undefined) node.#startClusterUpkeep(cluster);
      node.#certs.watch();
    } catch (e) {
      await node.stop();
      throw e;
    }
    node.#ready = true;
    // A cluster upgrade this node coordinates, interrupted by its own restart (its last step), carries on.
    node.#upgrade.resume();
    if (!trapHandlerDisabled()) log.warn({ capacity: pool.capacity }, `V8's wasm trap handler is on: each agent reserves 10 GiB of address space, so this node holds at most ${pool.capacity} agents; start Node with ${TRAP_HANDLER_FLAG} (caxton server start does)`);
    log.info({ nodeId: options.nodeId, dataDir, workers: pool.workerCount, api: node.apiAddress, apiScheme: options.api?.tls === undefined ? 'http' : 'https', metrics: node.metricsAddress, version: VERSION, wasmTrapHandler: trapHandlerDisabled() ? 'off' : 'on', agentCapacity: pool.capacity }, 'caxton node started');
    return node;
  }

  /** Loads the certificate files again (SIGHUP); a refused file is logged and the old material stays. */
  reloadCerts(reason: string): void {
    this.#certs?.reload(reason);
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** The cluster this node is a member of, or undefined on a single node. */
  get cluster(): Cluster | undefined {
    return this.#cluster;
  }

  /** The MCP bridge (tools for agents), or undefined when the config lists no MCP server. */
  get tools(): McpBridge | undefined {
    return this.#tools?.bridge;
  }

  /** The agents' side of the cluster (moves, failover, rebalance, isolation), or undefined without one. */
  get clusterAgents(): ClusterAgents | undefined {
    return this.#clusterAgents;
  }

  /** Joins the seeds (retrying until one answers) and keeps this node's tags current. */
  #startClusterUpkeep(cluster: Cluster): void {
    const o = this.options.cluster as NodeClusterOptions;
    const log = this.options.logger;
    if (o.seeds.length > 0) {
      // One attempt at a time: with seeds' names to look up (up to 5 s each) and push/pulls, an attempt
      // can outlast the interval, and overlapping ones would pile lookups on libuv's thread pool.
      let joining = false;
      const join = async () => {
        if (joining || this.#stopping !== undefined) return;
        joining = true;
        try {
          const n = await cluster.join(o.seeds).catch(() => 0);
          if (n > 0) {
            clearInterval(this.#clusterTimer);
            this.#clusterTimer = undefined;
            log.info({ seeds: o.seeds.length, answered: n }, 'joined the cluster');
          } else {
            log.warn({ seeds: o.seeds }, 'no seed answered; retrying');
          }
        } finally {
          joining = false;
        }
      };
      this.#clusterTimer = setInterval(() => void join(), CLUSTER_RETRY_MS);
      this.#clusterTimer.unref();
      void join();
    }
    // Tags are recomputed every TAG_REFRESH_MS but announced only when a value changed meaningfully
    // (tagsChanged): agents, capabilities or the API address at once, load figures at most once per
    // LOAD_ANNOUNCE_MIN_MS. Every announcement is an alive broadcast with a new incarnation that the
    // whole cluster gossips.
    let announced: Record<string, string> = Object.fromEntries(cluster.serf.tags);
    let announcedAt = Date.now();
    let busy = false;
    const refresh = async (sampleCpu: boolean) => {
      if (busy || this.#stopping !== undefined) return;
      busy = true;
      try {
        const api = this.apiAddress === undefined ? undefined : apiTag(this.apiAddress, cluster.transport.advertise);
        const cpuPercent = sampleCpu ? (this.#cpu as CpuSampler).sample() : Number(announced['cpu'] ?? 0);
        const tags = currentTags(this.pool, this.deployments, cpuPercent, api, this.#clusterAgents?.outOfPlacement() ?? false, mcpNames(this.options));
        const change = tagsChanged(announced, tags);
        if (change === 'none' || (change === 'load' && Date.now() - announcedAt < LOAD_ANNOUNCE_MIN_MS)) return;
        announced = tags;
        announcedAt = Date.now();
        await cluster.setTags(tags).catch((e: unknown) => log.warn({ err: e }, 'could not update cluster tags'));
      } finally {
        busy = false;
      }
    };
    this.#tagTimer = setInterval(() => void refresh(true), TAG_REFRESH_MS);
    this.#tagTimer.unref();
    // The API address, now that it listens. Not a CPU reading: the sampler's interval so far is the
    // busy start-up, a fraction of a second.
    void refresh(false);
  }

  /**
   * Stops the node as a whole, each step bounded so that nothing (an open event stream, a slow client,
   * a stuck worker) holds the shutdown up:
   *
   * 1. not ready; every event stream gets a last `shutdown` event and ends;
   * 2. the API closes (connections still open after STOP_STEP_MS.api are cut);
   * 3. no more failovers or moves start here, other nodes' messages are no longer taken (they keep
   *    their at-least-once ones) and the relay stops redelivering: nothing new comes in;
   * 4. the agents finish what they are sending each other, until the node is quiet or the drain
   *    timeout passes (pool.quiesce): a reply is never refused because its receiver stopped first. The
   *    link and state replication stay up meanwhile (replies, acknowledgements, replicated changes);
   * 5. the agents stop (agent_shutdown runs); then the node leaves the cluster (peers see `left`, not a
   *    failure, and take its agents over from their replicas: never while they still run here); the
   *    workers and the database close.
   *
   * What was still queued at the deadline is dropped if it was at-most-once; an at-least-once message
   * is still in the outbox and is delivered after the next start. Deployments are not changed: the
   * next start brings the same agents back. Idempotent.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      const log = this.options.logger;
      const t0 = performance.now();
      this.#ready = false;
      this.#certs?.close();
      this.#upgrade?.close();
      this.#emit({ type: 'system.shutdown', time: new Date().toISOString(), node_id: this.options.nodeId });
      const api = this.#api;
      if (api !== undefined) await bounded(log, 'closing the API', STOP_STEP_MS.api, api.close(), () => api.server.closeAllConnections());
      // No join retries or tag announcements from here on (each tick also checks #stopping).
      clearInterval(this.#clusterTimer);
      clearInterval(this.#tagTimer);
      // No more failovers or moves started here; other nodes' messages are no longer taken (they keep
      // their at-least-once ones). The link and state replication stay up while the agents drain: their
      // replies, acknowledgements and replicated changes still have to reach the other nodes. The node
      // leaves the cluster only once its agents are stopped, so that no other node takes them over
      // while they still run here.
      this.#clusterAgents?.close();
      this.#routing?.remote.detach();
      this.relay.stop();
      const drainTimeoutMs = this.options.drainTimeoutMs ?? DEFAULT_DRAIN_MS;
      const drain = await this.pool.quiesce(drainTimeoutMs);
      if (drain.quiet) log.info({ ms: Math.round(performance.now() - t0) }, 'agents quiet: stopping them');
      else log.warn({ drainTimeoutMs, queued: drain.queued }, 'drain timeout: stopping the agents with messages still queued (at-least-once ones stay in the outbox for the next start)');
      const live = this.pool.list().filter((a) => a.state !== 'stopped' && a.state !== 'failed');
      await bounded(
        log,
        'stopping the agents',
        STOP_STEP_MS.agents,
        Promise.all(live.map((a) => this.pool.stop(a.name, { graceful: false }).catch((e: unknown) => log.warn({ agent: a.name, err: e }, 'agent did not stop cleanly')))),
      );
      const tools = this.#tools;
      if (tools !== undefined) await bounded(log, 'stopping the MCP servers', STOP_STEP_MS.tools, tools.close());
      this.#replicator?.close();
      this.#peerServices?.stop();
      this.#routing?.close();
      this.#partitions?.partitions.close();
      const cluster = this.#cluster;
      if (cluster !== undefined) {
        await bounded(log, 'leaving the cluster', STOP_STEP_MS.cluster, cluster.leave(STOP_STEP_MS.cluster / 2));
        // Whether the leave finished or not: sockets and probe timers must not outlive the node.
        await bounded(log, 'closing the cluster transport', STOP_STEP_MS.cluster, cluster.shutdown());
      }
      await bounded(log, 'closing the workers', STOP_STEP_MS.pool, this.pool.close());
      this.metrics.close();
      const metricsServer = this.#metricsServer;
      if (metricsServer !== undefined) await bounded(log, 'closing the metrics endpoint', STOP_STEP_MS.metrics, metricsServer.close());
      this.#db.close();
      this.#lock?.release();
      log.info({ nodeId: this.options.nodeId, ms: Math.round(performance.now() - t0) }, 'caxton node stopped');
    })();
    return this.#stopping;
  }

  /** Subscribes to node and agent events (the API's stream). */
  onEvent(fn: (e: NodeEvent) => void): () => void {
    this.#events.push(fn);
    return () => {
      const i = this.#events.indexOf(fn);
      if (i >= 0) this.#events.splice(i, 1);
    };
  }

  #emit(e: NodeEvent): void {
    for (const fn of this.#events) {
      try {
        fn(e);
      } catch {
        // a subscriber's failure (a closed stream) must not reach the pool
      }
    }
  }

  #onPoolEvent(e: PoolEvent): void {
    switch (e.type) {
      case 'undeliverable': {
        // A kept (at-least-once) message stays in the outbox; the relay dead-letters it if it gives up.
        // A final one is a dead letter now, and leaves the outbox if it was there.
        if (!e.kept) {
          this.deadLetters.record(e.to, e.json, e.reason);
          const id = reliableIdOf(e.json);
          if (id !== undefined) this.outbox.ack(id);
        }
        this.journal.recordMessage('undeliverable', e.json, e.reason);
        break;
      }
      case 'agent_log':
        this.logs.add(e.name, e.level, e.text, e.conversationId);
        break;
      case 'agent_fault':
        this.journal.add({ time: journalNow(), kind: 'fault', from: e.name, to: e.name, performative: undefined, messageId: undefined, conversationId: undefined, detail: `${e.kind} in ${e.phase}: ${e.message}` });
        break;
      case 'message_poisoned':
        // Kept first, then acknowledged: a crash in between redelivers it (and it is poison again).
        this.deadLetters.record(e.name, e.json, e.reason);
        if (e.messageId !== undefined) this.outbox.ack(e.messageId);
        this.journal.recordMessage('poison', e.json, e.reason);
        break;
    }
    if (this.#events.length > 0 || this.#relay?.watched === true) this.#local(streamEvent(e));
    this.#logEvent(e);
  }

  /** An event of this node: on its stream, and to the nodes watching it (lifecycle events only). */
  #local(e: NodeEvent): void {
    this.#emit(e);
    this.#relay?.local(e);
  }

  #apiContext(api: ApiOptions): ApiContext {
    const o = this.options;
    // The addresses are known only after listen(): the getters read them late.
    const node = this;
    const addr = (a: Address | undefined) => (a === undefined ? '' : `${a.host}:${a.port}`);
    return {
      nodeId: o.nodeId,
      version: VERSION,
      startedAt: this.startedAt,
      dataDir: this.dataDir,
      get apiAddr() {
        return addr(node.apiAddress);
      },
      get metricsAddr() {
        return addr(node.metricsAddress);
      },
      logger: o.logger,
      pool: this.pool,
      deployments: this.deployments,
      deadLetters: this.deadLetters,
      outbox: this.outbox,
      journal: this.journal,
      logs: this.logs,
      keys: this.keys,
      maxMessageBytes: o.maxMessageBytes ?? 100 * 1024,
      redeliverAfterMs: o.relay?.baseDelayMs ?? 5000,
      drainTimeoutMs: o.drainTimeoutMs ?? DEFAULT_DRAIN_MS,
      rateLimit: api.rateLimit ?? { enabled: true, perSecond: 100, burst: 200 },
      authEnabled: api.authEnabled ?? true,
      bodyLimitBytes: api.bodyLimitBytes ?? 64 * 1024 * 1024,
      requestTimeoutMs: api.requestTimeoutMs ?? 30_000,
      maxModuleBytes: api.maxModuleBytes ?? 50 * 1024 * 1024,
      ...(api.tls === undefined ? {} : { tls: api.tls }),
      config: () => o.config?.view() ?? {},
      diffConfig: (yaml, file) => o.config?.diff(yaml, file) ?? [],
      observeHttp: (m, r, s, sec) => this.metrics.observeHttp(m, r, s, sec),
      observeRouting: (sec) => this.metrics.observeRouting(sec),
      onEvent: (fn) => this.onEvent(fn),
      ...(this.#relay === undefined ? {} : { watchRemoteEvents: () => (this.#relay as EventRelay).want(), watchRemoteLogs: (agent: string) => (this.#relay as EventRelay).wantLogs(agent) }),
      cluster: () => this.#cluster,
      clusterAgents: () => this.#clusterAgents,
      clusterState: () => this.#routing?.directory,
      clusterExpect: o.cluster?.expect ?? 1,
      partitions: () => this.#partitions,
      ...(this.#peerServices === undefined ? {} : { placement: this.#peerServices.placement }),
      nodeViews: this.nodeViews,
      ...(this.clusterViews === undefined ? {} : { clusterViews: this.clusterViews }),
      loadShedding: this.loadShedding,
      backups: this.backups,
      ...(this.#audit === undefined ? {} : { audit: this.#audit }),
      tools: () => this.#tools?.bridge,
      revocations: this.#revocations,
      ready: () => this.#ready,
      certs: () => this.#clusterCerts as ClusterCerts,
      operations: this.operations,
      restart: () => this.#restart as NodeRestart,
      upgrade: () => this.#upgrade as UpgradeCoordinator,
      stopWithCluster: () => this.#stopWithCluster as NodeStop,
    };
  }

  #logEvent(e: PoolEvent): void {
    const log = this.options.logger;
    switch (e.type) {
      case 'agent_log': {
        const level = (['trace', 'debug', 'info', 'warn', 'error'] as const)[e.level] ?? 'info';
        // trace_id is the W3C trace id inside the traceparent, the key log tools join on.
        log[level]({ agent: e.name, conversation_id: e.conversationId, trace_id: e.traceparent?.split('-')[1] }, e.text);
        break;
      }
      case 'agent_fault':
      case 'agent_start_failed':
      case 'worker_replaced':
      case 'canary_rolled_back':
        log.warn(e, e.type);
        break;
      case 'undeliverable':
        log.warn({ from: e.from, to: e.to, reason: e.reason }, e.type);
        break;
      case 'message_poisoned':
        log.warn({ agent: e.name, sender: e.sender, reason: e.reason }, e.type);
        break;
      case 'agent_offers':
        log.debug(e, e.type); // every (re)start registers again: not news for the log
        break;
      default:
        log.info(e, e.type);
    }
  }
}

/** The certificates a reload replaces: the link's (mTLS on) and the API's (HTTPS with its files known). */
function nodeCerts(o: NodeOptions, linkTls: { cert: string } | undefined, cluster: Cluster | undefined, pool: AgentPool, api: () => FastifyInstance | undefined): NodeCerts {
  const mtls = o.cluster?.mtls;
  const tls = o.api?.tls;
  return new NodeCerts({
    nodeId: o.nodeId,
    logger: o.logger,
    ...(linkTls === undefined || mtls === undefined || cluster === undefined
      ? {}
      : {
          link: {
            files: { caCert: mtls.caCert, nodeCert: mtls.nodeCert, nodeKey: mtls.nodeKey },
            cert: linkTls.cert,
            apply: (m) => {
              cluster.setTlsMaterial(m);
              pool.setDirectTls(m);
            },
          },
        }),
    ...(tls?.files === undefined
      ? {}
      : { api: { files: tls.files, cert: tls.cert, apply: (m) => (api()?.server as unknown as HttpsServer | undefined)?.setSecureContext(httpsOptions({ ...tls, ...m })) } }),
  });
}

/**
 * This node's views and, with peers, the cluster-wide ones (which answer the peers' view calls from
 * now on). Failure detection is timed from the cluster's events.
 */
function buildViews(o: NodeOptions, peers: Peers | undefined, cluster: Cluster | undefined, metrics: NodeMetrics, parts: Omit<NodeViewParts, 'nodeId' | 'performance'>): { node: NodeViews; cluster: ClusterViews | undefined } {
  let detection: (() => DetectionReading) | undefined;
  if (cluster !== undefined) {
    const watch = new FailureDetectionWatch(cluster.membership.config, () => cluster.membership.numMembers());
    cluster.onEvent((ev) => watch.event(ev));
    detection = () => watch.reading();
  }
  const performance = new NodePerformance({ nodeId: o.nodeId, registries: () => [metrics.registry], ...(detection === undefined ? {} : { detection }) });
  const node = new NodeViews({ nodeId: o.nodeId, ...parts, performance });
  if (peers === undefined) return { node, cluster: undefined };
  const members = o.peerMembers ?? (() => cluster?.members() ?? []);
  return { node, cluster: new ClusterViews({ peers, members, local: node }) };
}

/** This node's Serf tags now (src/cluster/node-tags.ts lists them). */
function currentTags(pool: AgentPool, deployments: Deployments, cpuPercent: number, api: string | undefined, isolated: boolean, mcpServers: readonly string[]): Record<string, string> {
  return nodeTags({
    mcpServers,
    isolated,
    version: VERSION,
    agents: deployments.count(),
    ...(api === undefined ? {} : { api }),
    cpuPercent,
    rssBytes: process.memoryUsage.rss(),
    capabilities: pool.capabilities(),
  });
}

/** The names of the node's MCP servers, for its `mcp` tag. */
function mcpNames(o: NodeOptions): readonly string[] {
  return o.mcpServers?.map((s) => s.name) ?? [];
}

/** Host CPU busy since boot, percent. */
function cpuSinceBoot(): number {
  const t = cpuTimes();
  return t.total > 0 ? (100 * t.busy) / t.total : 0;
}

/** The API's host:port as other nodes can use it: a wildcard listen address becomes the advertised cluster IP. */
function apiTag(api: Address, advertised: Address): string {
  const host = api.host === '0.0.0.0' || api.host === '::' ? advertised.host : api.host;
  return host.includes(':') ? `[${host}]:${api.port}` : `${host}:${api.port}`;
}

/**
 * Waits for one step of a stop, at most `ms`: a step that fails or overruns is logged and the stop
 * goes on (`onTimeout` may cut what it was waiting for).
 */
async function bounded(log: Logger, what: string, ms: number, work: Promise<unknown>, onTimeout?: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms);
  });
  try {
    const outcome = await Promise.race([
      work.then(
        () => 'done' as const,
        (err: unknown) => {
          log.warn({ err }, `${what} failed; stopping anyway`);
          return 'failed' as const;
        },
      ),
      late,
    ]);
    if (outcome === 'late') {
      log.warn({ ms }, `${what} took longer than ${ms} ms; stopping anyway`);
      onTimeout?.();
    }
  } finally {
    clearTimeout(timer);
  }
}

/** The API's audit log (src/security/audit.ts); none when both the database log and the file are off. */
function auditLog(db: SqliteDatabase, o: ApiOptions['audit'], logger: Logger): { audit?: AuditLog } {
  const enabled = o?.enabled ?? true;
  const path = o?.path ?? '';
  if (!enabled && path === '') return {};
  return { audit: new AuditLog({ ...(enabled ? { db } : {}), path, logger: logger.child({ component: 'audit' }) }) };
}
