/**
 * Where receivers that are not agents of this node live. The pool delivers to its own agents first;
 * for any other name it asks the directory for a link to the node that hosts it, then the node's
 * external endpoints (API callers). A name none of them takes exists nowhere: the sender gets a
 * `failure` (no_such_agent). The cluster (membership, remote routing) implements the directory; a
 * single node has none.
 */

/** A way to hand a message to another node. Must not block: queue and return. */
export interface RemoteLink {
  /** The node at the other end, for logs and errors. */
  readonly node: string;
  /** Accepts `json` for the agent `to` on that node. False when the link cannot take it now. */
  deliver(to: string, json: string, priority: number): boolean;
}

export interface Directory {
  /** The link to the node hosting agent `name`, or undefined when no node is known to host it. */
  linkFor(name: string): RemoteLink | undefined;
  /** A link to a node with a provider of `capability`, used when no local agent provides it. */
  linkForCapability(capability: string): RemoteLink | undefined;
}

/**
 * A receiver on this node that is not an agent: the API's callers (replies to `POST /messages`), a
 * test's client. It names the receivers it takes; a message for any other name is not offered to it.
 */
export interface ExternalEndpoint {
  /** Whether this endpoint takes messages addressed to `name`. Called per message: keep it a lookup. */
  accepts(name: string): boolean;
  /** Takes a message for one of its names. Must not block. */
  deliver(from: string, to: string, json: string): void;
}
