/** What the API needs from the node: its parts, each behind the interface of its own module. */
import type { McpBridge } from '../integrations/mcp/index.js';
import type { NodeRestart } from '../cluster/node-restart.js';
import type { UpgradeCoordinator } from '../cluster/upgrade/index.js';
import type { NodeStop } from '../cluster/node-stop.js';
import type { AgentPool, PoolEvent } from '../sandbox/index.js';
import type { Deployments } from '../agents/deployments.js';
import type { DeadLetterQueue } from '../messaging/dead-letter-queue.js';
import type { MessageJournal } from '../messaging/journal.js';
import { LOG_LEVELS, type AgentLogs } from '../observability/agent-logs.js';
import type { ApiKeyStore, OutboxStore } from '../storage/index.js';
import type { Logger } from '../observability/logger.js';
import type { Cluster } from '../cluster/cluster.js';
import type { PlacementOptions } from '../agents/placement.js';
import type { DeployToForward } from '../agents/remote-deploy.js';

/** Where new deployments go on a cluster, and how one reaches another node. */
export interface DeployPlacement {
  /** The owner of a new deployment of `agent` (src/agents/placement.ts placeAgent over the current view). Throws for bad options. */
  owner(agent: string, options: PlacementOptions): string;
  /** Deploys on `owner`, another node (src/agents/remote-deploy.ts forwardDeploy); resolves with the agent's view there. */
  forward(owner: string, req: DeployToForward): Promise<unknown>;
  /** Waits (bounded) until every node can route to an agent just deployed here. */
  routable(name: string): Promise<unknown>;
}
import type { ClusterViews } from './cluster-views.js';
import type { NodeViews } from './node-views.js';
import type { ClusterAgents } from '../agents/cluster-agents.js';
import type { ClusterDirectory } from '../cluster/directory/index.js';
import type { PartitionControl } from '../cluster/partition/control.js';
import type { LoadShedding } from './shed-load.js';
import type { NodeBackups } from './node-backups.js';
import type { AuditLog } from '../security/audit.js';
import type { ClusterCerts } from '../security/cluster-certs.js';
import type { Revocations } from '../cluster/revocation-sync.js';
import type { ClusterOperations } from './cluster-operations.js';

/** `cluster verify` and `cluster compare-state`: the directory's side (src/cluster/directory/drift.ts). */
export type ClusterStateChecks = Pick<ClusterDirectory, 'verify' | 'compareState'>;

/** An event on the API's stream: a pool event or a node event, as JSON. */
export interface NodeEvent {
  readonly type: string;
  readonly time: string;
  readonly [field: string]: unknown;
}

/** HTTPS for the API (security.api.tls), the files already loaded and checked (src/security/tls-material.ts). */
export interface ApiTls {
  readonly cert: string;
  readonly key: string;
  /** The CA client certificates chain to; needed unless clientAuth is none. */
  readonly ca?: string;
  readonly clientAuth: 'none' | 'optional' | 'required';
  /** The files they came from, reloaded on SIGHUP and when they change (src/security/node-certs.ts). */
  readonly files?: { readonly cert: string; readonly key: string; readonly caCert?: string | undefined };
}

export interface ApiContext {
  readonly nodeId: string;
  readonly version: string;
  readonly startedAt: number;
  readonly dataDir: string;
  readonly apiAddr: string;
  readonly metricsAddr: string;
  readonly logger: Logger;
  readonly pool: AgentPool;
  readonly deployments: Deployments;
  readonly deadLetters: DeadLetterQueue;
  readonly outbox: OutboxStore;
  readonly journal: MessageJournal;
  readonly logs: AgentLogs;
  readonly keys: ApiKeyStore;
  readonly maxMessageBytes: number;
  /** First redelivery of an at-least-once message sent through the API, ms after sending. */
  readonly redeliverAfterMs: number;
  readonly drainTimeoutMs: number;
  /** false: every route is public (development only; the node warns at start). */
  readonly authEnabled: boolean;
  readonly rateLimit: { readonly enabled: boolean; readonly perSecond: number; readonly burst: number };
  readonly bodyLimitBytes: number;
  /** Time a client has to send the whole request, ms. */
  readonly requestTimeoutMs: number;
  readonly maxModuleBytes: number;
  /** Serve HTTPS; undefined: plain HTTP. */
  readonly tls?: ApiTls;
  /** The running configuration, secrets redacted. */
  config(): unknown;
  /** Differences between the running configuration and a YAML text. Throws CAXTON_ERR_CONFIG_INVALID. */
  diffConfig(yaml: string, file: string): { key: string; running: unknown; baseline: unknown }[];
  /** Observes one HTTP request for the metrics. */
  observeHttp(method: string, route: string, status: number, seconds: number): void;
  observeRouting(seconds: number): void;
  /** Node events (deploy, remove, shutdown) and pool events, for the event stream. */
  onEvent(fn: (e: NodeEvent) => void): () => void;
  /**
   * A stream wants other nodes' agent lifecycle events too (src/cluster/event-relay.ts): they come
   * through onEvent until the returned release is called. Absent on a node alone.
   */
  readonly watchRemoteEvents?: () => () => void;
  /** A stream follows the log lines of `agent`, which runs on another node: they come through onEvent until released. */
  readonly watchRemoteLogs?: (agent: string) => () => void;
  ready(): boolean;
  /** The cluster this node belongs to; undefined on a single node. */
  cluster(): Cluster | undefined;
  /** The agents' side of the cluster (moves, failover, rebalance, isolation); undefined on a single node. */
  clusterAgents(): ClusterAgents | undefined;
  /** The cluster directory's consistency checks; undefined on a single node. */
  clusterState(): ClusterStateChecks | undefined;
  /** Nodes the operator expects (coordination.cluster.bootstrap_expect). */
  readonly clusterExpect: number;
  /** Which side of a partition this node is on, its queue and the merge; undefined on a single node. */
  partitions(): PartitionControl | undefined;
  /** Placement of new deployments across the cluster; absent: this node is the only candidate. */
  readonly placement?: DeployPlacement;
  /** This node's own views (agents, statistics, queues, resources, memory, performance). */
  readonly nodeViews: NodeViews;
  /**
   * The same views over every node of the cluster, when the node talks to its peers; absent: the
   * views are this node's alone (as on a single node).
   */
  readonly clusterViews?: ClusterViews;
  /**
   * Load shedding on the operator's order (`caxton cluster shed-load`): `percentage` is this node's
   * share of new external messages refused now (0 = off), `shedTotal` how many it refused since it
   * started; `apply` and `status` reach every node.
   */
  readonly loadShedding: LoadShedding;
  /** Backups of this node and, through its peers, of every node (src/api/node-backups.ts). */
  readonly backups: NodeBackups;
  /** The audit log of management actions; absent: off (observability.audit: no database, no file). */
  readonly audit?: AuditLog;
  /** The MCP bridge (GET /tools, POST /tools/:server/:tool); undefined when the config lists no MCP server. */
  readonly tools: () => McpBridge | undefined;
  /** Every node's certificates, and new node certificates (cert-status, rotate-certs). */
  certs(): ClusterCerts;
  /** Restarts this node, or another through the link, in place (src/cluster/node-restart.ts). */
  restart(): NodeRestart;
  /** Cluster upgrades and rollbacks through the supervisors (src/cluster/upgrade/). */
  upgrade(): UpgradeCoordinator;
  /** Stops this node, or another through the link, with its cluster, parked (src/cluster/node-stop.ts). */
  stopWithCluster(): NodeStop;
  /** Revoked certificates: refused on the link and for API clients; POST /security/revoke adds to them. */
  readonly revocations?: Revocations;
  /** Emergency stop, gc, suspend by priority, circuit breakers, errors and dumps on every node (cluster-operations.ts). */
  readonly operations: ClusterOperations;
}

/** A pool event in the stream's shape: `agent.state`, `worker.replaced`, ... */
export function streamEvent(e: PoolEvent): NodeEvent {
  const time = new Date().toISOString();
  const { type, ...rest } = e;
  const name = 'name' in rest ? { agent: rest.name } : {};
  const fields = Object.fromEntries(Object.entries(rest).filter(([k]) => k !== 'name'));
  switch (type) {
    case 'agent_log':
      if (e.type !== 'agent_log') break;
      return { type: 'agent.log', time, agent: e.name, level: LOG_LEVELS[e.level] ?? 'info', text: e.text, conversation_id: e.conversationId ?? null };
    case 'worker_replaced':
      return { type: 'worker.replaced', time, ...fields };
    case 'undeliverable':
      return { type: 'message.undeliverable', time, ...fields };
    case 'message_poisoned':
      if (e.type !== 'message_poisoned') break;
      return { type: 'message.poisoned', time, agent: e.name, sender: e.sender, reason: e.reason, json: e.json, ...(e.messageId === undefined ? {} : { message_id: e.messageId }) };
    default:
      break;
  }
  return { type: `agent.${type.replace(/^agent_/, '')}`, time, ...name, ...fields };
}
