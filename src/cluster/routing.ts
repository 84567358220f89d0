/**
 * Routing across the cluster, wired in one place: the partitioned directory (who hosts what,
 * ./directory/), this node's announcements to it (the node is the authority for the agents it hosts),
 * and the message link between nodes (src/messaging/remote-delivery.ts) that the node's router hands
 * other nodes' messages to. docs/cluster-routing.md describes the whole.
 */
import type { AgentPool } from '../sandbox/index.js';
import type { OutboxStore } from '../storage/index.js';
import { RemoteDelivery } from '../messaging/remote-delivery.js';
import type { Cluster } from './cluster.js';
import { ClusterDirectory, clusterView, routerDirectory } from './directory/index.js';
import { DirectoryAnnouncer } from './directory/announcer.js';
import type { ClusterLogger } from './transport/logger.js';

export interface ClusterRouting {
  readonly directory: ClusterDirectory;
  readonly remote: RemoteDelivery;
  readonly announcer: DirectoryAnnouncer;
  close(): void;
}

interface RoutingLogger extends ClusterLogger {
  child(bindings: Record<string, unknown>): RoutingLogger;
  warn(obj: object, msg: string): void;
}

/** The pool events after which an agent's directory entry may have changed. */
const CHANGES = new Set(['agent_state', 'agent_started', 'agent_offers', 'agent_removed']);

export function startClusterRouting(cluster: Cluster, pool: AgentPool, outbox: OutboxStore, log: RoutingLogger, redeliverAfterMs?: number): ClusterRouting {
  const peers = cluster.peers;
  const directory = new ClusterDirectory({ peers, view: clusterView(cluster), logger: log.child({ component: 'directory' }) });
  const linkLog = log.child({ component: 'remote-delivery' });
  const remote = new RemoteDelivery(peers, outbox, { warn: (text) => linkLog.warn({}, text), ...(redeliverAfterMs === undefined ? {} : { redeliverAfterMs }) });
  remote.attach(pool.router);
  pool.router.connect(routerDirectory(directory), remote);
  const announcer = new DirectoryAnnouncer(directory, {
    hosted(name) {
      const a = pool.agent(name);
      if (a === undefined) return undefined;
      const { capabilities, topics } = pool.offersOf(name);
      return { name, id: a.id, state: a.state, capabilities, topics, epoch: 0 };
    },
  });
  for (const a of pool.list()) announcer.changed(a.name);
  pool.onEvent((e) => {
    if (CHANGES.has(e.type) && 'name' in e) announcer.changed(e.name);
  });
  return {
    directory,
    remote,
    announcer,
    close() {
      announcer.close();
      remote.close();
      directory.close();
    },
  };
}
