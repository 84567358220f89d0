/**
 * Routing across the cluster, wired in one place: the partitioned directory (who hosts what,
 * ./directory/), this node's announcements to it (the node is the authority for the agents it hosts),
 * and the message link between nodes (src/messaging/remote-delivery.ts) that the node's router hands
 * other nodes' messages to. docs/cluster-routing.md describes the whole.
 */
import type { AgentPool } from '../sandbox/index.js';
import type { OutboxStore } from '../storage/index.js';
import { RemoteDelivery } from '../messaging/remote-delivery.js';
import type { MovingAgents } from '../messaging/directory.js';
import type { Cluster, ClusterMember } from './cluster.js';
import { ClusterDirectory, clusterView, routerDirectory } from './directory/index.js';
import { DirectoryAnnouncer } from './directory/announcer.js';
import { DirectPaths, type DirectPathsOptions } from './direct-paths.js';
import type { ClusterLogger } from './transport/logger.js';

export interface ClusterRouting {
  readonly directory: ClusterDirectory;
  readonly remote: RemoteDelivery;
  readonly announcer: DirectoryAnnouncer;
  /** Resolves once every node can route to agent `name`, hosted here (Directory.confirm), at most 2 s. */
  routable(name: string): Promise<boolean>;
  close(): void;
}

interface RoutingLogger extends ClusterLogger {
  child(bindings: Record<string, unknown>): RoutingLogger;
  warn(obj: object, msg: string): void;
}

/** The pool events after which an agent's directory entry may have changed. */
const CHANGES = new Set(['agent_state', 'agent_started', 'agent_offers', 'agent_removed']);

export interface ClusterRoutingOptions {
  readonly cluster: Cluster;
  readonly pool: AgentPool;
  readonly outbox: OutboxStore;
  readonly log: RoutingLogger;
  /** The ownership epoch of an agent this node hosts (raised by failover and moves). */
  readonly epochOf: (name: string) => number;
  /** Agents in motion (src/agents/handoff.ts): held while arriving, forwarded while leaving. */
  readonly moving?: MovingAgents;
  /** Members out of placement (`cluster isolate`): no agent's computed owner. */
  readonly isolated?: (m: ClusterMember) => boolean;
  /** When this node first redelivers a message it took from another node, ms. */
  readonly redeliverAfterMs?: number;
  /**
   * The workers' direct path (./direct-paths.ts): worker 0's port (0: any), the largest message, and
   * with mTLS on the link's TLS material and revocation list. Absent: off.
   */
  readonly direct?: Pick<DirectPathsOptions, 'port' | 'maxMessageBytes' | 'tls'>;
}

export function startClusterRouting(o: ClusterRoutingOptions): ClusterRouting {
  const { cluster, pool, log } = o;
  const peers = cluster.peers;
  const directory = new ClusterDirectory({ peers, view: clusterView(cluster, o.isolated), logger: log.child({ component: 'directory' }) });
  const linkLog = log.child({ component: 'remote-delivery' });
  const remote = new RemoteDelivery(peers, o.outbox, { warn: (text) => linkLog.warn({}, text), ...(o.redeliverAfterMs === undefined ? {} : { redeliverAfterMs: o.redeliverAfterMs }) });
  remote.attach(pool.router);
  pool.router.connect(routerDirectory(directory), remote, o.moving);
  const announcer = new DirectoryAnnouncer(directory, {
    hosted(name) {
      const a = pool.agent(name);
      if (a === undefined) return undefined;
      const { capabilities, topics } = pool.offersOf(name);
      return { name, id: a.id, state: a.state, capabilities, topics, epoch: o.epochOf(name) };
    },
  });
  const direct = o.direct === undefined ? undefined : new DirectPaths(cluster, pool, { ...o.direct, warn: (obj, msg) => linkLog.warn(obj, msg) });
  for (const a of pool.list()) announcer.changed(a.name);
  pool.onEvent((e) => {
    if (CHANGES.has(e.type) && 'name' in e) announcer.changed(e.name);
  });
  return {
    directory,
    remote,
    announcer,
    routable(name) {
      announcer.flush();
      return directory.confirm(name);
    },
    close() {
      direct?.close();
      announcer.close();
      remote.close();
      directory.close();
    },
  };
}
