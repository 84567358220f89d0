/**
 * Messages between nodes, over Peers (src/cluster/peers.ts): the RemoteLink the router hands other
 * nodes' messages to, and the receiving side that hands them to this node's router.
 *
 * Posts of kind `msg` carry one message each ([to, json, priority, hops, id]); the link batches
 * them on the wire. At-most-once messages (id '') are posted and forgotten. At-least-once ones
 * (docs/cluster-routing.md, "Routing"):
 *
 * 1. The sending node already holds the message in its outbox (the agent's worker or the API wrote
 *    it there before the sender was told it was accepted). It stays there until the receiving node
 *    posts `ack` with its id; until then the sender's relay redelivers it (through the router, to the
 *    same or a newer node), then dead-letters it.
 * 2. The receiving node writes it into its own outbox first (INSERT OR IGNORE by message_id: one row
 *    per message, whichever copy came first) and routes it: its own relay now redelivers it locally.
 * 3. When that row is gone (the handler acknowledged it, or it was dead-lettered, or refused for
 *    good), the receiving node posts `ack(message_id)`, after `beforeAck` settles: state replication
 *    holds the ack there until the replica has the change the handler made.
 * 4. A copy that arrives after the ack (the ack was lost, the sender redelivered) is answered with
 *    the ack again and not delivered: handled ids are remembered (bounded). Copies that arrive while
 *    the row is still kept are dropped.
 *
 * Order: posts to one node leave in the order the router handed them over and the link keeps that
 * order, so messages of one conversation arrive in order while nothing is lost. A redelivery (after a
 * peer was down, or an ack was late) arrives after whatever was sent since: at-least-once keeps every
 * message but not their order across a loss, here as within one node.
 */
import type { NodeName, PeerBody, Peers } from '../cluster/peers.js';
import type { PriorityLevel } from '../sandbox/worker/mailbox.js';
import { reliableIdOf } from '../sandbox/envelope.js';
import type { OutboxStore } from '../storage/outbox-store.js';
import type { RemoteLink } from './directory.js';

/** Post kinds on the Peers seam. */
export const MSG_POST = 'msg';
export const ACK_POST = 'ack';

/** Where messages from other nodes go: the router (src/messaging/router.ts Router.fromNode). */
export interface Inbound {
  /** `origin` is the node that sent it; `replyTo` a sender name that is no agent there ('' when none). */
  fromNode(to: string, json: string, priority: PriorityLevel, hops: number, origin: NodeName, replyTo: string): void;
}

/**
 * An at-least-once message posted to another node and not acknowledged yet. Its text is not kept here
 * (the outbox has it): remembering up to UNACKED_MAX of them costs their ids and names only.
 */
export interface UnackedPost {
  readonly id: string;
  readonly node: NodeName;
  readonly to: string;
  readonly priority: PriorityLevel;
  readonly replyTo: string;
}

/** Unacknowledged posts remembered for takeUnacked; beyond it the oldest are forgotten (the relay still has them). */
const UNACKED_MAX = 100_000;

export interface RemoteDeliveryOptions {
  /** How often handled messages from other nodes are looked for and acknowledged, ms. @default 20 */
  readonly ackIntervalMs?: number;
  /** Rows checked per scan (the oldest first). @default 2,000 */
  readonly ackScan?: number;
  /** Ids of acknowledged messages remembered to answer late copies. @default 100,000 */
  readonly rememberAcked?: number;
  /** When this node's relay first redelivers a message it took from another node, ms. @default 5,000 */
  readonly redeliverAfterMs?: number;
  /**
   * Called once the local row of a message from another node is gone, before its ack is posted;
   * the ack waits for the promise (state replication: until the replica holds the handler's change).
   * A rejection leaves the message unacknowledged: the sender redelivers it and it is acked then.
   */
  readonly beforeAck?: (messageId: string) => void | Promise<void>;
  /** Told about posts that are not what this module sends (a peer of another version, a bug). */
  readonly warn?: (text: string) => void;
}

export class RemoteDelivery implements RemoteLink {
  readonly #peers: Peers;
  readonly #outbox: OutboxStore;
  readonly #opts: Required<Omit<RemoteDeliveryOptions, 'beforeAck' | 'warn'>>;
  readonly #beforeAck: RemoteDeliveryOptions['beforeAck'];
  readonly #warn: (text: string) => void;
  #inbound: Inbound | undefined;
  /** At-least-once messages from other nodes still in this node's outbox → the node to ack. */
  readonly #held = new Map<string, NodeName>();
  /** Ids acknowledged lately (insertion order = age), to answer copies that come after the ack. */
  readonly #acked = new Set<string>();
  /**
   * At-least-once messages posted and not acknowledged yet, in the order they were posted: when their
   * node ends up on the other side of a partition, they go to the partition queue in that order
   * (takeUnacked), ahead of anything sent since.
   */
  readonly #unacked = new Map<string, UnackedPost>();
  /** Handled messages whose ack waits for beforeAck: a copy arriving meanwhile is dropped like a held one. */
  readonly #gating = new Set<string>();
  /** Acks waiting for the next post, per node. */
  readonly #acks = new Map<NodeName, string[]>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(peers: Peers, outbox: OutboxStore, opts: RemoteDeliveryOptions = {}) {
    this.#peers = peers;
    this.#outbox = outbox;
    this.#opts = { ackIntervalMs: 20, ackScan: 2000, rememberAcked: 100_000, redeliverAfterMs: 5000, ...opts };
    this.#beforeAck = opts.beforeAck;
    this.#warn = opts.warn ?? (() => {});
    peers.onPost(MSG_POST, (from, body) => this.#onMessage(from, body));
    peers.onPost(ACK_POST, (from, body) => this.#onAck(from, body));
  }

  /** Where messages from other nodes go; until attached they are not taken (the sender keeps reliable ones). */
  attach(inbound: Inbound): void {
    this.#inbound = inbound;
  }

  /** Stops taking messages from other nodes (a stopping node); acknowledgements still go out. */
  detach(): void {
    this.#inbound = undefined;
  }

  /** RemoteLink: posts the message; an at-least-once one stays in this node's outbox until acked. */
  deliver(node: NodeName, to: string, json: string, priority: number, hops: number, replyTo = ''): boolean {
    if (this.#closed) return false;
    const id = reliableIdOf(json) ?? '';
    if (!this.#peers.post(node, MSG_POST, [to, json, priority, hops, id, replyTo])) return false;
    if (id !== '') this.#track({ id, node, to, priority: priority as PriorityLevel, replyTo });
    return true;
  }

  /**
   * The at-least-once messages posted to `node` that it has not acknowledged, oldest first, forgotten
   * here (their outbox rows stay: the caller queues them for after a partition).
   */
  takeUnacked(node: NodeName): UnackedPost[] {
    const out: UnackedPost[] = [];
    for (const p of this.#unacked.values()) if (p.node === node) out.push(p);
    for (const p of out) this.#unacked.delete(p.id);
    return out;
  }

  #track(p: UnackedPost): void {
    // A redelivery to the same node keeps its place; to another node, it moves to the end.
    const was = this.#unacked.get(p.id);
    if (was !== undefined && was.node === p.node) return;
    this.#unacked.delete(p.id);
    this.#unacked.set(p.id, p);
    if (this.#unacked.size > UNACKED_MAX) this.#unacked.delete(this.#unacked.keys().next().value as string);
  }

  /** At-least-once messages from other nodes not yet acknowledged to their sender. */
  get held(): number {
    return this.#held.size;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #onMessage(node: NodeName, body: PeerBody): void {
    const inbound = this.#inbound;
    if (this.#closed || inbound === undefined) return;
    if (!Array.isArray(body) || body.length !== 6) return this.#warn(`node ${node} posted a ${MSG_POST} that is not [to, json, priority, hops, id, replyTo]: ignored`);
    const [to, json, priority, hops, id, replyTo] = body as unknown[];
    if (typeof to !== 'string' || typeof json !== 'string' || !isPriority(priority) || typeof hops !== 'number' || !Number.isInteger(hops) || hops < 1 || typeof id !== 'string' || typeof replyTo !== 'string') {
      return this.#warn(`node ${node} posted a ${MSG_POST} with a field of the wrong type: ignored`);
    }
    if (id === '') return inbound.fromNode(to, json, priority, hops, node, replyTo);
    if (this.#held.has(id) || this.#gating.has(id)) return; // a copy of one still kept here, or handled and about to be acked
    if (this.#acked.has(id)) return this.#queueAck(node, id); // handled already: the ack was lost
    this.#hold(id, node);
    // A row with this id may be here already: this node sent the message itself and it came back (the
    // agent moved here meanwhile), or took it before a restart. Delivered now all the same: waiting
    // for the relay would hold the ack chain, and a copy the agent handled lately is dropped by its
    // worker's dedup window.
    this.#outbox.add(id, to, json, Date.now() + this.#opts.redeliverAfterMs);
    inbound.fromNode(to, json, priority, hops, node, replyTo);
  }

  #onAck(node: NodeName, body: PeerBody): void {
    if (!Array.isArray(body)) return this.#warn(`node ${node} posted an ${ACK_POST} that is not a list of message ids: ignored`);
    for (const id of body) {
      if (typeof id !== 'string') continue;
      this.#outbox.ack(id);
      this.#unacked.delete(id);
    }
  }

  #hold(id: string, node: NodeName): void {
    this.#held.set(id, node);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#scan(), this.#opts.ackIntervalMs);
      this.#timer.unref();
    }
  }

  /**
   * Acknowledges the held messages whose local row is gone. Each scan looks at `ackScan` of them; the
   * ones still kept go to the back, so that messages an agent cannot handle for a while (suspended,
   * a deep mailbox) never keep the others from being acknowledged.
   */
  #scan(): void {
    let n = 0;
    const kept: [string, NodeName][] = [];
    for (const [id, node] of this.#held) {
      if (n++ >= this.#opts.ackScan) break;
      if (this.#outbox.has(id)) {
        kept.push([id, node]);
        continue;
      }
      this.#held.delete(id);
      const gate = this.#beforeAck?.(id);
      if (gate === undefined) this.#acknowledged(node, id);
      else {
        this.#gating.add(id);
        gate.then(
          () => {
            this.#gating.delete(id);
            this.#acknowledged(node, id);
          },
          () => this.#gating.delete(id), // not acknowledged: the sender redelivers, and this node acks that copy
        );
      }
    }
    for (const [id, node] of kept) {
      this.#held.delete(id);
      this.#held.set(id, node);
    }
    this.#flush();
    if (this.#held.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #acknowledged(node: NodeName, id: string): void {
    this.#acked.add(id);
    if (this.#acked.size > this.#opts.rememberAcked) for (const old of this.#acked) {
      this.#acked.delete(old);
      break;
    }
    this.#queueAck(node, id);
    if (this.#timer === undefined) this.#flush(); // a gated ack that settled after the last scan
  }

  #queueAck(node: NodeName, id: string): void {
    const list = this.#acks.get(node);
    if (list === undefined) this.#acks.set(node, [id]);
    else list.push(id);
    if (this.#timer === undefined) queueMicrotask(() => this.#flush());
  }

  /** Posts the queued acks, one post per node. One that cannot be posted is owed again on the next copy. */
  #flush(): void {
    if (this.#acks.size === 0 || this.#closed) return;
    for (const [node, ids] of this.#acks) this.#peers.post(node, ACK_POST, ids);
    this.#acks.clear();
  }
}

function isPriority(p: unknown): p is PriorityLevel {
  return p === 0 || p === 1 || p === 2 || p === 3;
}
