/**
 * Where receivers that are not agents of this node live. The pool delivers to its own agents first;
 * for any other name it asks the directory for a link to the node that hosts it. The cluster
 * (membership, remote routing) implements this; a single node has no directory.
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
