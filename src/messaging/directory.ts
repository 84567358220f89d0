/**
 * What the router (./router.ts) asks about the rest of the cluster, and how it hands a message to
 * another node. The router delivers to this node's agents first; for any other name it asks the
 * directory which node hosts it and hands the message to the remote link. The cluster (membership,
 * the partitioned directory of docs/cluster-routing.md) implements the directory; the link is
 * ./remote-delivery.ts over Peers. A single node has neither.
 */

/** A node name as membership knows it (the same as Peers' NodeName). */
export type NodeName = string;

/** A way to hand a message to another node. Must not block: queue and return. */
export interface RemoteLink {
  /**
   * Hands `json` to `node` for the agent `to` ('' when the message names a capability or a topic,
   * which the other node resolves among its own agents). `hops` is how many nodes the message will
   * have crossed once there (1 for a message that starts here): the receiving router forwards it at
   * most once more. `replyTo` is the sender's name when the sender is no agent (an API caller on this
   * node): the other node routes replies to that name back here. False when the link cannot take it
   * now (peer down, backpressure).
   */
  deliver(node: NodeName, to: string, json: string, priority: number, hops: number, replyTo?: string): boolean;
}

/**
 * What `Directory.nodeFor` answers while this node cannot tell yet where a name lives: it is the name's
 * owner, holds no entry for it, and the cluster's view changed a moment ago (an entry may be on its
 * way). The router refuses the message for now (an at-least-once one is redelivered), rather than
 * declare the name nonexistent.
 */
export const SETTLING: unique symbol = Symbol('settling');

export interface Directory {
  /**
   * The node hosting agent `name`, never this one: the node an exception entry names, else the
   * agent's computed (rendezvous) owner. Undefined when no other node can host it (this node is the
   * owner and has no entry): the name then exists nowhere. SETTLING: not known yet, ask again later.
   * `from`: the node that handed this one the message, when another did; when this node forwards the
   * message on what only it knows (an exception entry), that node is told where the name lives, so
   * that its next message for the name goes there directly.
   */
  nodeFor(name: string, from?: NodeName): NodeName | typeof SETTLING | undefined;
  /** Other nodes with a provider of `capability`; the router picks among them in turn. */
  capabilityNodes(capability: string): readonly NodeName[];
  /** Other nodes with a subscriber of `topic`: each gets one copy and publishes it locally. */
  topicNodes(topic: string): readonly NodeName[];
}

/**
 * Agents in motion between nodes (src/agents/handoff.ts): messages for an agent arriving here are held
 * until it starts; messages for one that just left are forwarded to its new node (stragglers sent on
 * an old route) for a while.
 */
export interface MovingAgents {
  /** Whether messages for `name` are held here (the agent is arriving). */
  holding(name: string): boolean;
  /** Holds one; false when too many are held (the sender keeps a reliable one and retries). */
  hold(name: string, json: string, priority: number): boolean;
  /** The node an agent that just left this node went to, while stragglers are forwarded. */
  redirectOf(name: string): NodeName | undefined;
}

/**
 * A receiver on this node that is not an agent: the API's callers (replies to `POST /messages`), a
 * test's client. It names the receivers it takes; a message for any other name is not offered to it.
 */
export interface ExternalEndpoint {
  /** Whether this endpoint takes messages addressed to `name`. Called per message: keep it a lookup. */
  accepts(name: string): boolean;
  /**
   * Takes a message for one of its names. Must not block. `from` is the sender as this node knows it
   * (an agent of this node, an API caller's name, or '' for the node's own redeliveries and messages
   * from other nodes); `via` is set for a message another node handed over.
   */
  deliver(from: string, to: string, json: string, via?: Arrival): void;
}

/** Where a message from another node came from (Router.fromNode). */
export interface Arrival {
  /** The node that handed it over. */
  readonly node: NodeName;
  /**
   * The sender's name when that node routes replies for it because it is no agent there (an API
   * caller); '' when the sender is an agent of that node (its worker stamped the sender).
   */
  readonly replyTo: string;
}

/**
 * While this node's cluster is split (src/cluster/partition/), a name or capability the router cannot
 * place may live on the other side: instead of refusing it, the router hands the message here, to wait
 * in the durable partition queue until the partition heals (docs/operations.md, "Network partition").
 */
export interface PartitionHold {
  /** Whether this node is cut off from part of its cluster now. Called per unplaceable message: keep it a field read. */
  active(): boolean;
  /**
   * Keeps the message, durably, in order; 'full' when the queue has no room (the router then refuses
   * it, and its sender is answered). `to` is '' for a message to a capability.
   */
  hold(from: string, to: string, json: string, priority: number, replyTo: string): 'held' | 'full';
  /**
   * Whether messages for `to` wait in the queue: a new one then waits behind them (per-conversation
   * order), even once `to` can be reached. Called per routed message: a Map lookup at most.
   */
  waiting(to: string): boolean;
}
