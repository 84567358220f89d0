/**
 * What the cluster layer of agents/ tells the node (events for `caxton cluster watch` and the log),
 * and the small interfaces it needs from the other parts of issue 11, so that node.ts can plug the real
 * ones in: the directory (src/cluster/directory/) and state replication (src/sandbox/worker +
 * StateReplicator).
 */
import type { NodeName } from '../cluster/peers.js';
import type { AgentSnapshot } from '../storage/index.js';

/** Why an agent changed node. */
export type MoveReason = 'failover' | 'leave' | 'rebalance' | 'join' | 'isolate' | 'rebuild';

export type AgentsEvent =
  /** The agent runs on `to` now, at `epoch`. pauseMs: how long it took no messages (live moves only). */
  | { readonly type: 'agent_moved'; readonly agent: string; readonly from: NodeName; readonly to: NodeName; readonly reason: MoveReason; readonly epoch: number; readonly pauseMs?: number }
  | { readonly type: 'agent_move_failed'; readonly agent: string; readonly from: NodeName; readonly to: NodeName; readonly reason: MoveReason; readonly error: string }
  /** This node stopped its copy: `by` runs the agent at a higher epoch (or outranks it at the same one). */
  | { readonly type: 'agent_superseded'; readonly agent: string; readonly node: NodeName; readonly by: NodeName; readonly epoch: number; readonly byEpoch: number }
  /** A failover found no holder of the agent alive: it waits until one comes back. */
  | { readonly type: 'agent_unavailable'; readonly agent: string; readonly owner: NodeName; readonly replicas: readonly NodeName[] };

/** The line `caxton cluster watch` prints for an event, as the runbook writes them. */
export function watchLine(e: AgentsEvent): string {
  switch (e.type) {
    case 'agent_moved':
      return `[INFO] agent ${e.agent} moved ${e.from} → ${e.to} (${e.reason}, epoch ${e.epoch}${e.pauseMs === undefined ? '' : `, paused ${e.pauseMs} ms`})`;
    case 'agent_move_failed':
      return `[WARN] agent ${e.agent} did not move ${e.from} → ${e.to} (${e.reason}): ${e.error}; it runs on ${e.from}`;
    case 'agent_superseded':
      return `[WARN] agent ${e.agent} ran twice: stopped the copy on ${e.node} (epoch ${e.epoch}), ${e.by} keeps it (epoch ${e.byEpoch})`;
    case 'agent_unavailable':
      return `[ERROR] agent ${e.agent} has no live holder (owner ${e.owner}, replicas ${e.replicas.join(', ') || 'none'}): it waits for one of them to come back`;
  }
}

/**
 * The directory's side of a move (src/cluster/directory/): this node became the authority for an
 * agent, or gave it up to another node.
 */
export interface DirectoryUpdates {
  hosted(agent: string, epoch: number): void;
  moved(agent: string, to: NodeName, epoch: number): void;
}

/**
 * State replication's side (src/agents/replication/ StateReplicator fits through a thin adapter):
 * - `promote`: fences the agent's replicas (`replicas`: the nodes that held it, this one included) at
 *   max seen + 1 and takes their state in the same step. `snapshot` undefined: the replicator wrote the
 *   state into this node's database itself (StateReplicator.promote does). The agent then runs at
 *   max(epoch, its deployment's epoch + 1). `applied`: the at-least-once message ids the state already
 *   holds: the agent starts with them in its dedup window, so that redelivered copies are dropped.
 * - `setReplicas`: this node holds the agent now and these are its replicas (empty: it no longer holds
 *   it, or runs it unreplicated): StateReplicator.setReplica(agent, replicas[0]).
 */
export interface ReplicaState {
  promote(agent: string, replicas: readonly NodeName[], minEpoch: number): Promise<{ readonly epoch: number; readonly snapshot?: AgentSnapshot; readonly applied?: readonly string[] }>;
  setReplicas?(agent: string, replicas: readonly NodeName[]): void;
  /** The agent was removed from the cluster: its replicas drop their copy of its state. */
  removed?(agent: string): void;
}
