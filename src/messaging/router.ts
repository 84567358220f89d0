/**
 * The router: the one place that decides where a message goes. Everything enters here: the API,
 * agents' `send` (the batches workers post to the main thread when the receiver is not in their own
 * worker), the outbox relay's redeliveries, and messages that arrive from other nodes.
 *
 * - By name: an agent of this node; else an external endpoint of this node (an API caller); else
 *   the node the directory names (its computed owner or an exception entry) through the remote link.
 * - By capability: a provider on this node first (the registry's strategy), else one of the nodes
 *   the directory lists, in turn.
 * - By topic: every local subscriber, plus one copy per other node with subscribers, which publishes
 *   it locally and never forwards it again.
 * - Local or remote, reliable or not: the router does not store anything. An at-least-once message
 *   is in the outbox before it reaches the router (the sending worker or the API put it there); the
 *   remote link keeps that row until the other node acknowledges it (./remote-delivery.ts).
 *
 * Messages between two agents of one worker never come here: the worker delivers them itself. The
 * cross-worker path (fromAgents → route → LocalAgents.deliver) allocates nothing per message.
 *
 * Refusals are decided here too: a name that exists nowhere in one function (#nowhere, system error
 * no_such_agent, counted in caxton_messages_no_such_agent_total), a receiver that takes no messages
 * now in #refuseByName. The sender gets a system `failure`, unless the message is at-least-once and
 * may still be delivered (it stays in the outbox).
 *
 * Hop guard: a message that arrived from another node carries how many nodes it crossed; it is
 * forwarded again only while that is below MAX_HOPS, so a stale directory can send a message at most
 * one node further, never around in a loop.
 *
 * Partitions: while the node is cut off from part of its cluster, "exists nowhere" cannot be decided
 * (the name may live on the other side): such a message, and a capability message no reachable node
 * provides, is held in the partition queue (PartitionHold) and replayed through route() on heal.
 */
import type { PriorityLevel } from '../sandbox/worker/mailbox.js';
import { addressOf, isReliable, senderOf } from '../sandbox/envelope.js';
import type { Redelivery } from './dead-letter-queue.js';
import { SETTLING, type Arrival, type Directory, type ExternalEndpoint, type MovingAgents, type NodeName, type PartitionHold, type RemoteLink } from './directory.js';
import type { Registry } from './registry.js';
import { SYSTEM_SENDER, SystemError, systemFailure, type SystemErrorCode } from './system-messages.js';

/**
 * Where a message by name went; `held`: kept in the partition queue (it may live on the other side of
 * a partition); `refused`: its receiver exists but takes no messages now; undefined: it exists nowhere.
 */
export type Where = 'local' | 'remote' | 'external' | 'held' | 'refused' | undefined;

/** What toCapability returns for a message held in the partition queue. */
export const QUEUED = 'queued';

/**
 * Nodes a message may have crossed and still be forwarded: one that starts here arrives with 1 and
 * may be forwarded once more (a directory entry that just moved); with 2 it is decided where it is.
 */
export const MAX_HOPS = 2;

/** API callers of other nodes whose replies this node routes back (router #returns). */
const RETURNS_MAX = 10_000;

const NORMAL = 1 as PriorityLevel;

/** What the router needs from this node's agent pool; built once, so routing allocates nothing per message. */
export interface LocalAgents {
  /** Queues a message for an agent of this node; false when there is none or it takes no messages now. */
  deliver(to: string, json: string, priority: PriorityLevel): boolean;
  /** The lifecycle state of this node's agent `name`, or undefined when this node has no such agent. */
  stateOf(name: string): string | undefined;
  /** Reports a message that reached nobody (the node counts, journals and dead-letters it). */
  undeliverable(from: string, to: string, json: string, code: SystemErrorCode, reason: string, kept: boolean): void;
  /** A warning for the operator, attributed to `name`. */
  warn(name: string, text: string): void;
}

export interface RouterOptions {
  /** Where names that are not this node's live (the cluster). @default none: single node */
  readonly directory?: Directory;
  /** How messages reach other nodes. Routing goes remote only when both directory and link are given. */
  readonly link?: RemoteLink;
}

export class Router {
  readonly #local: LocalAgents;
  readonly #registry: Registry;
  #directory: Directory | undefined;
  #link: RemoteLink | undefined;
  #moving: MovingAgents | undefined;
  #partition: PartitionHold | undefined;
  /** True while the partition queue replays through the router: a message that cannot go yet stays where it is. */
  #replaying = false;
  /** The node a message being routed came from, and its replyTo, while fromNode routes it (for endpoints). */
  #arriving: Arrival | undefined;
  /** Which other nodes serve a receiver that is no agent (mcp:<server>); undefined for any other name. */
  #remoteEndpoints: ((name: string) => readonly NodeName[] | undefined) | undefined;
  #nextEndpointNode = 0;
  readonly #endpoints: ExternalEndpoint[] = [];
  /**
   * Names that are no agent but sent from another node (API callers there) → that node: replies to
   * them go back to it. Least recently used first; bounded.
   */
  readonly #returns = new Map<string, NodeName>();
  #remoteSent: ((worker: number, to: string) => void) | undefined;
  /** Turn for the next remote capability choice. */
  #nextNode = 0;
  /** Agent-to-agent messages delivered to another worker of this node (cross-worker hops). */
  forwarded = 0;
  /**
   * Messages by name another node handed to this one and this one sent on to a third node (an extra
   * hop: the sender did not know where the receiver lives). The sender is told (Directory.nodeFor's
   * `from`), so this stays flat in a settled cluster.
   */
  passedOn = 0;

  /**
   * The relay's and the dead-letter queue's way back in: by name or capability, local or remote. A
   * stored message is routed as its stored sender: another node then hears whether that sender is an
   * agent of this node (replyTo '') or an API caller (replyTo its name), exactly as on the first try.
   */
  readonly redelivery: Redelivery = {
    deliver: (to, json) => {
      const where = this.route(to, json, NORMAL, senderOf(json));
      return where !== 'refused' && where !== undefined;
    },
    deliverToCapability: (capability, json) => this.toCapability(capability, json, NORMAL, 0, senderOf(json)),
  };

  constructor(local: LocalAgents, registry: Registry, opts: RouterOptions = {}) {
    this.#local = local;
    this.#registry = registry;
    this.#directory = opts.link === undefined ? undefined : opts.directory;
    this.#link = opts.directory === undefined ? undefined : opts.link;
  }

  /**
   * Connects the router to the rest of the cluster once it exists (the node starts its cluster after
   * its pool): from now on names that are not this node's go through the directory and the link.
   */
  connect(directory: Directory, link: RemoteLink, moving?: MovingAgents): void {
    if (this.#directory !== undefined) throw new Error('the router is connected to a cluster already');
    this.#directory = directory;
    this.#link = link;
    this.#moving = moving;
  }

  /** Holds what cannot be placed while the cluster is split, instead of refusing it (src/cluster/partition/). */
  holdDuringPartitions(hold: PartitionHold): void {
    this.#partition = hold;
  }

  /**
   * Routes one message of the partition queue again: 'hold' when it still cannot be placed (it stays
   * queued), 'sent' when it went somewhere, 'gone' when it was decided for good (refused, or its name
   * exists nowhere: its sender is answered as for any message).
   */
  replayHeld(from: string, to: string, json: string, priority: PriorityLevel, replyTo: string): 'sent' | 'hold' | 'gone' {
    this.#replaying = true;
    try {
      if (replyTo !== '') from = replyTo;
      if (to === '') {
        const capability = addressOf(json).capability;
        const placed = capability === undefined ? undefined : this.toCapability(capability, json, priority, 0, from);
        if (placed === QUEUED) return 'hold';
        if (placed !== undefined) return 'sent';
        this.#undeliverable(from, '', json, SystemError.noRoute, `no agent provides capability ${JSON.stringify(capability)}`);
        return 'gone';
      }
      const where = this.route(to, json, priority, from);
      if (where === 'held') return 'hold';
      // Refused for now by the cluster (where it runs is settling after the heal, its node's link
      // refused): it keeps its place in the queue. Refused by an agent of this node: answered as usual.
      if (where === 'refused' && this.#local.stateOf(to) === undefined) return 'hold';
      if (where === 'refused' || where === undefined) {
        this.#refuseByName(from, to, json, where);
        return 'gone';
      }
      return 'sent';
    } finally {
      this.#replaying = false;
    }
  }

  /**
   * Routes receivers that are no agent and that this node does not serve (an MCP server another node
   * runs: mcp:<server>, docs/tools.md) to a node that serves them. `lookup` answers the other nodes that
   * serve `name` (none: it exists nowhere), or undefined for a name it does not know (an agent's name).
   */
  routeEndpointsTo(lookup: (name: string) => readonly NodeName[] | undefined): void {
    this.#remoteEndpoints = lookup;
  }

  /** Adds a receiver that is not an agent (see ExternalEndpoint). Returns the function that removes it. */
  addEndpoint(ep: ExternalEndpoint): () => void {
    this.#endpoints.push(ep);
    return () => {
      const i = this.#endpoints.indexOf(ep);
      if (i >= 0) this.#endpoints.splice(i, 1);
    };
  }

  /**
   * Messages from agents to receivers outside their worker: flat [from, to, json, priority, ...], from
   * worker `worker` (-1: not from a worker). A message by name that went to another node is reported
   * to onRemoteSend (the direct path: that worker may take such messages itself from now on).
   */
  fromAgents(batch: readonly (string | number)[], worker = -1): void {
    for (let i = 0; i + 3 < batch.length; i += 4) {
      const from = batch[i] as string;
      const to = batch[i + 1] as string;
      const json = batch[i + 2] as string;
      const priority = batch[i + 3] as PriorityLevel;
      // Addressed to a capability or a topic: the only cases where the main thread reads the message.
      if (to === '') {
        this.#unaddressed(from, json, priority, 0);
        continue;
      }
      const where = this.route(to, json, priority, from);
      if (where === 'local') this.forwarded++;
      else if (where === 'remote') {
        if (worker >= 0 && this.#remoteSent !== undefined) this.#remoteSent(worker, to);
      } else if (where === 'refused' || where === undefined) this.#refuseByName(from, to, json, where);
    }
  }

  /** Told of each agent's message by name that a worker handed over and that went to another node. */
  onRemoteSend(fn: (worker: number, to: string) => void): void {
    this.#remoteSent = fn;
  }

  /**
   * The node messages for agent `to` go to straight over the link, with nothing of this node in the
   * way: not an agent, endpoint or API caller here, not in motion, not held for a partition, not
   * settling. Undefined otherwise. The direct path is opened only for such names (its fence is sent
   * to that node, behind the messages the link carries there).
   */
  directNode(to: string): NodeName | undefined {
    return this.#straightTo(to, false);
  }

  /**
   * Where a fence for agent `to` that came from another node goes on, when no worker here hosts it: the
   * node this one sends `to`'s messages to (its new node while it leaves, as the directory says
   * otherwise), or undefined when that is not a straight send (see directNode).
   */
  fenceNext(to: string): NodeName | undefined {
    return this.#straightTo(to, true);
  }

  #straightTo(to: string, leaving: boolean): NodeName | undefined {
    const directory = this.#directory;
    if (directory === undefined || this.#link === undefined) return undefined;
    if (this.#partition !== undefined && (this.#partition.active() || this.#partition.waiting(to))) return undefined;
    const moving = this.#moving;
    if (moving !== undefined) {
      if (moving.holding(to)) return undefined;
      const away = moving.redirectOf(to);
      if (away !== undefined) return leaving ? away : undefined;
    }
    if (this.#local.stateOf(to) !== undefined || this.#returns.has(to) || this.#remoteEndpoints?.(to) !== undefined) return undefined;
    for (const ep of this.#endpoints) if (ep.accepts(to)) return undefined;
    const node = directory.nodeFor(to);
    return node === undefined || node === SETTLING ? undefined : node;
  }

  /** An agent's message by name (or one a worker handed back): routed, or its sender is answered. */
  send(from: string, to: string, json: string, priority: PriorityLevel): void {
    const where = this.route(to, json, priority, from);
    if (where === 'local') this.forwarded++;
    else if (where === 'refused' || where === undefined) this.#refuseByName(from, to, json, where);
  }

  /**
   * A message another node handed to this one (through the remote link); `hops` is how many nodes it
   * crossed. Routed like an agent's message but forwarded at most once more; a refusal is decided here
   * and answered to the sender on its own node (the failure is routed by name like any message).
   */
  fromNode(to: string, json: string, priority: PriorityLevel, hops: number, origin = '', replyTo = ''): void {
    if (replyTo !== '' && origin !== '') this.#rememberReturn(replyTo, origin);
    if (to === '') this.#unaddressed('', json, priority, hops);
    else {
      // An endpoint that takes it hears where it came from (the MCP bridge: who the sender is).
      this.#arriving = { node: origin, replyTo };
      let where: Where;
      try {
        where = this.route(to, json, priority, '', hops);
      } finally {
        this.#arriving = undefined;
      }
      if (where === 'remote') this.passedOn++;
      else if (where === 'refused' || where === undefined) this.#refuseByName('', to, json, where);
    }
  }

  /**
   * Routes a message by name: to an agent of this node, else to the external endpoint that takes the
   * name, else to the node the directory names. Returns where it went; `refused` when the receiver
   * exists but takes no messages now (an agent of ours that is stopped, draining or full; a node
   * whose link refuses; a message that may not be forwarded again); undefined when the name exists
   * nowhere. The caller decides how to answer the sender (send() and fromNode() answer it).
   */
  route(to: string, json: string, priority: PriorityLevel = NORMAL, from = '', hops = 0): Where {
    // Messages for `to` wait in the partition queue: this one waits behind them, to keep their order.
    if (this.#partition !== undefined && !this.#replaying && this.#partition.waiting(to)) return this.#hold(from, to, json, priority);
    const moving = this.#moving;
    if (moving !== undefined && moving.holding(to)) return moving.hold(to, json, priority) ? 'local' : 'refused';
    if (this.#local.deliver(to, json, priority)) return 'local';
    if (moving !== undefined) {
      // Leaving (draining here) or just gone: its new node takes it.
      const away = moving.redirectOf(to);
      if (away !== undefined) return hops < MAX_HOPS && (this.#link as RemoteLink).deliver(away, to, json, priority, hops + 1, this.#replyTo(from)) ? 'remote' : 'refused';
    }
    if (this.#local.stateOf(to) !== undefined) return 'refused'; // ours, but taking no messages
    for (const ep of this.#endpoints) {
      if (!ep.accepts(to)) continue;
      try {
        ep.deliver(from, to, json, this.#arriving);
      } catch (e) {
        this.#local.warn(from, `the endpoint for ${to} failed to take a message: ${(e as Error).message}`);
      }
      return 'external';
    }
    const serving = this.#remoteEndpoints?.(to);
    if (serving !== undefined) {
      // Served elsewhere (or nowhere): never the directory, which would compute an owner for any name.
      const n = serving.length;
      if (n === 0 || this.#link === undefined) return undefined;
      if (hops >= MAX_HOPS) return 'refused';
      const start = this.#nextEndpointNode++;
      for (let i = 0; i < n; i++) {
        if (this.#link.deliver(serving[(start + i) % n] as NodeName, to, json, priority, hops + 1, this.#replyTo(from))) return 'remote';
      }
      return 'refused';
    }
    const node = this.#returns.get(to) ?? this.#directory?.nodeFor(to, hops > 0 ? this.#arriving?.node || undefined : undefined);
    if (node === undefined) return this.#partition?.active() === true ? this.#hold(from, to, json, priority) : undefined;
    if (node === SETTLING) return 'refused'; // the view just changed: where it lives is not known yet
    return hops < MAX_HOPS && (this.#link as RemoteLink).deliver(node, to, json, priority, hops + 1, this.#replyTo(from)) ? 'remote' : 'refused';
  }

  /** Keeps a message for the other side of a partition: 'held', or 'refused' when the queue is full. */
  #hold(from: string, to: string, json: string, priority: PriorityLevel): 'held' | 'refused' {
    if (this.#replaying) return 'held'; // it is in the queue already: it stays there
    return (this.#partition as PartitionHold).hold(from, to, json, priority, this.#replyTo(from)) === 'held' ? 'held' : 'refused';
  }

  /**
   * The name replies go to when `from` is no agent of this node (an API caller); '' otherwise. A
   * message another node handed over (routed with from '') keeps the replyTo it came with, so a
   * second hop still says "no agent" when the first did.
   */
  #replyTo(from: string): string {
    if (from === '') return this.#arriving?.replyTo ?? '';
    return from === SYSTEM_SENDER || this.#local.stateOf(from) !== undefined ? '' : from;
  }

  #rememberReturn(name: string, node: NodeName): void {
    this.#returns.delete(name);
    if (this.#returns.size >= RETURNS_MAX) this.#returns.delete(this.#returns.keys().next().value as string);
    this.#returns.set(name, node);
  }

  /** Whether a receiver named `to` exists here or on a node the directory knows (it may not take messages now). */
  exists(to: string): boolean {
    return this.#local.stateOf(to) !== undefined || this.#directory?.nodeFor(to) !== undefined || this.#partition?.active() === true;
  }

  /** Whether any agent, here or on another node, provides `capability`. */
  provided(capability: string): boolean {
    return this.#registry.providersOf(capability).length > 0 || (this.#directory?.capabilityNodes(capability).length ?? 0) > 0 || this.#partition?.active() === true;
  }

  /**
   * Delivers to one provider of `capability`: a local one chosen by the registry's strategy, else a
   * node the directory lists, in turn. Returns the local agent's name, `remote:<node>`, QUEUED when
   * no node provides it while the cluster is split (held in the partition queue), or undefined when no
   * provider can take it now.
   */
  toCapability(capability: string, json: string, priority: PriorityLevel = NORMAL, hops = 0, from = ''): string | undefined {
    const local = this.#registry.deliverToCapability(capability, json, priority);
    if (local !== undefined || hops >= MAX_HOPS || this.#directory === undefined) return local;
    const nodes = this.#directory.capabilityNodes(capability);
    const n = nodes.length;
    const start = this.#nextNode++;
    for (let i = 0; i < n; i++) {
      const node = nodes[(start + i) % n] as NodeName;
      if ((this.#link as RemoteLink).deliver(node, '', json, priority, hops + 1, this.#replyTo(from))) return `remote:${node}`;
    }
    if (n === 0 && this.#partition?.active() === true && this.#registry.providersOf(capability).length === 0) {
      return this.#replaying || this.#partition.hold(from, '', json, priority, this.#replyTo(from)) === 'held' ? QUEUED : undefined;
    }
    return undefined;
  }

  /**
   * Publishes to every local subscriber of `topic` except `from`, and, for a message that starts here
   * (`hops` 0), one copy to every other node with subscribers. Returns local deliveries plus the
   * nodes that took a copy (0 is not an error: nobody listens). Topics are at most once.
   */
  publish(topic: string, json: string, from = '', priority: PriorityLevel = NORMAL, hops = 0): number {
    const local = this.#registry.publish(topic, json, from, priority);
    return hops > 0 ? local : local + this.#publishRemote(topic, json, priority);
  }

  /**
   * Answers a message that reached nobody, for a refusal decided elsewhere (the worker the agent is
   * placed on refused it, with its reason): the node counts it; the sender gets a `failure` unless it
   * is at-least-once and may still arrive.
   */
  refused(from: string, to: string, json: string, code: SystemErrorCode, reason: string): void {
    this.#undeliverable(from, to, json, code, reason);
  }

  /** One copy to every other node with subscribers of `topic`; returns how many took it. */
  #publishRemote(topic: string, json: string, priority: PriorityLevel): number {
    if (this.#directory === undefined) return 0;
    let n = 0;
    for (const node of this.#directory.topicNodes(topic)) if ((this.#link as RemoteLink).deliver(node, '', json, priority, 1)) n++;
    return n;
  }

  /** A message addressed to a capability or a topic (no receiver). */
  #unaddressed(from: string, json: string, priority: PriorityLevel, hops: number): void {
    const { capability, topic } = addressOf(json);
    if (topic !== undefined) {
      const local = this.#registry.publish(topic, json, from, priority);
      if (hops > 0) return; // another node's publication: its copy is for our subscribers only
      this.forwarded += local;
      this.#publishRemote(topic, json, priority);
      return;
    }
    const to = capability === undefined ? undefined : this.toCapability(capability, json, priority, hops, from);
    if (to === undefined) this.#undeliverable(from, '', json, SystemError.noRoute, `no agent provides capability ${JSON.stringify(capability)}`);
    else if (hops === 0 && !to.startsWith('remote:') && to !== QUEUED) this.forwarded++;
  }

  /** A message by name that nobody took: its receiver takes no messages now, or exists nowhere. */
  #refuseByName(from: string, to: string, json: string, where: 'refused' | undefined): void {
    if (where === undefined) return this.#nowhere(from, to, json);
    const state = this.#local.stateOf(to);
    if (state !== undefined) this.#undeliverable(from, to, json, SystemError.agentUnavailable, `agent ${to} is ${state} and takes no messages`);
    else if (this.#partition?.active() === true && this.#directory?.nodeFor(to) === undefined) {
      this.#undeliverable(from, to, json, SystemError.agentUnavailable, `agent ${to} may run on the other side of a network partition, and this node's partition queue is full`);
    }
    else if (this.#returns.get(to) === undefined && this.#directory?.nodeFor(to) === SETTLING) {
      this.#undeliverable(from, to, json, SystemError.agentUnavailable, `where agent ${to} runs is not known yet: the cluster's membership changed a moment ago; send it again`);
    } else this.#undeliverable(from, to, json, SystemError.agentUnavailable, `the node hosting agent ${to} takes no messages for it now`);
  }

  /**
   * The one place where a name that exists nowhere is decided: no agent of this node, no endpoint,
   * and the directory names no other node (this node is the name's owner and holds no entry for it).
   * Final even for an at-least-once message: retrying cannot help.
   */
  #nowhere(from: string, to: string, json: string): void {
    this.#undeliverable(from, to, json, SystemError.noSuchAgent, `no agent named ${to} exists on this node or in its cluster`);
  }

  /**
   * Reports a message that reached nobody and tells its sender why with a system `failure`, never
   * silently. An at-least-once message is kept in the outbox for redelivery, and its sender hears
   * nothing yet, unless its receiver exists nowhere: then it is final like any other.
   */
  #undeliverable(from: string, to: string, json: string, code: SystemErrorCode, reason: string): void {
    const kept = code !== SystemError.noSuchAgent && isReliable(json);
    this.#local.undeliverable(from, to, json, code, reason, kept);
    if (kept) return;
    const reply = systemFailure(json, code, reason);
    // Nobody to tell (the sender is gone) ends it here: answering further could only loop.
    if (reply !== undefined) this.route(reply.to, reply.json, NORMAL, SYSTEM_SENDER);
  }
}
