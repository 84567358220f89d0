/**
 * How the parts of a node above membership talk to other nodes: the directory, the router, state
 * replication, module fetch and the cluster-wide views all go through this one seam. The node-to-node
 * link (src/cluster/link/) implements it over one persistent, multiplexed connection per pair of nodes;
 * the transport under it (plain TCP, or mTLS) is the link's business, never its users'.
 *
 * Two kinds of traffic share a connection:
 * - posts: one-way frames, batched, for the hot path (FIPA messages, replication deltas, directory
 *   updates). `post` never blocks: it queues and returns false when the peer cannot take more now.
 * - calls: request/response with a deadline, for everything that needs an answer.
 */

/** A node name as membership knows it. */
export type NodeName = string;

/** The body of a post or a call: JSON-able data, or raw bytes (module blobs, encoded batches). */
export type PeerBody = unknown;

export interface CallOptions {
  /** How long to wait for the answer, ms. @default 5000 */
  readonly timeoutMs?: number;
}

export interface Peers {
  /** This node's name. */
  readonly self: NodeName;
  /**
   * Queues a one-way frame of `kind` for `node`. Never blocks. False when it was not queued: the node is
   * unknown or not alive, its circuit is open, or its send queue is over its limit (backpressure). The
   * caller decides what a refusal means (keep it in the outbox, refuse the sender, retry later).
   */
  post(node: NodeName, kind: string, body: PeerBody): boolean;
  /**
   * Sends a request to `node` and resolves with the handler's answer. Rejects with a CaxtonError:
   * CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE (unknown, not alive, circuit open, connection lost before the
   * answer), CAXTON_ERR_CLUSTER_TIMEOUT, or the error the remote handler threw (its code and message).
   */
  call<T = unknown>(node: NodeName, method: string, body: PeerBody, opts?: CallOptions): Promise<T>;
  /** Handles posts of `kind` from any peer. One handler per kind. */
  onPost(kind: string, handler: (from: NodeName, body: PeerBody) => void): void;
  /** Answers calls of `method`; what it returns (or throws) goes back to the caller. One handler per method. */
  onCall(method: string, handler: (from: NodeName, body: PeerBody) => unknown): void;
}
