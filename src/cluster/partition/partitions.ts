/**
 * A node's behaviour across network partitions (docs/operations.md, "Network partition"), no consensus
 * service involved:
 *
 * - The monitor says which side this node is on (quorum.ts). Every change is an event on the node's
 *   stream: `cluster.split_brain` when the cluster splits, `cluster.partition_changed` when the sides
 *   change while split, then on heal `cluster.partition_healed`, `cluster.partition_replay` and
 *   `cluster.partition_synchronized` (the runbook's three `cluster watch` lines).
 * - While split, what the router cannot place (a name or capability that may live on the other side)
 *   is held in the durable partition queue instead of refused (PartitionHold), and the at-least-once
 *   messages posted to a node that membership just declared failed, and that it never acknowledged,
 *   join the queue in the order they were posted.
 * - The queue is replayed through the router, in order: on heal, after `settleMs` (directories merge
 *   and duplicate agents are settled by their claims first); on the majority side also every
 *   `retryMs`, since a failover there can make a held message deliverable. A minority does not replay
 *   until its side changes.
 * - `--resolve-strategy manual` (detect-partition) holds the merge: on heal nothing is replayed and no
 *   duplicate agent is settled until the operator runs `cluster resolve-partition`.
 */
import type { Logger } from '../../observability/logger.js';
import type { PriorityLevel } from '../../sandbox/worker/mailbox.js';
import { reliableIdOf } from '../../sandbox/envelope.js';
import type { PartitionHold } from '../../messaging/directory.js';
import type { HeldMessage, HoldResult, PartitionQueue, QueuedMessage, ReplayOutcome } from '../../messaging/partition-queue.js';
import type { UnackedPost } from '../../messaging/remote-delivery.js';
import type { PartitionChange, PartitionMonitor } from './monitor.js';
import { operationsLine, readOnly, statusLine, type PartitionView } from './quorum.js';

/** An event for the node's stream; `text` is its `cluster watch` line. */
export interface PartitionEvent {
  readonly type: 'split_brain' | 'partition_changed' | 'partition_healed' | 'partition_replay' | 'partition_synchronized' | 'partition_merge_held';
  readonly text: string;
  readonly [field: string]: unknown;
}

/** The longest wait between two replays that sent nothing, ms. */
const MAX_RETRY_MS = 30_000;

export interface PartitionsOptions {
  readonly monitor: PartitionMonitor;
  readonly queue: PartitionQueue;
  /** The router's replay entry (Router.replayHeld). */
  readonly replay: (from: string, to: string, json: string, priority: PriorityLevel, replyTo: string) => 'sent' | 'hold' | 'gone';
  /** Unacknowledged at-least-once posts to a node (RemoteDelivery.takeUnacked). */
  readonly takeUnacked: (node: string) => readonly UnackedPost[];
  /** The text of an at-least-once message still waiting in this node's outbox (undefined: acknowledged). */
  readonly pending: (messageId: string) => string | undefined;
  readonly emit: (e: PartitionEvent) => void;
  readonly logger: Logger;
  /** Wait after a heal before replaying, ms: longer than the directory's settle after a view change. @default 2,000 */
  readonly settleMs?: number;
  /**
   * How long a majority must have been stable (no member suspect, the same sides) before this node
   * takes other nodes' agents over, ms: while a cut-off side learns of its failures one verdict at a
   * time, it looks like a majority for a moment. @default 2,000
   */
  readonly takeoverStableMs?: number;
  /**
   * Asks `node` to answer now, over the link (true: it did, within the caller's timeout). With it, a
   * side whose members answer in enough numbers to make a quorum with this node takes agents over at
   * once instead of after takeoverStableMs: the answers are evidence of the quorum, where the wait
   * only gives a cut-off side's verdicts time to arrive. @default none: the wait only
   */
  readonly ping?: (node: string) => Promise<boolean>;
  /** Replay period while the queue is not empty and this side may write, ms. @default 2,000 */
  readonly retryMs?: number;
  /** Starts with the merge held (coordination.partition.resolve_strategy = manual). @default false */
  readonly manual?: boolean;
  /** The receiver of every message in the queue ('' for a capability): read at start and after each replay. */
  readonly queuedReceivers: () => Iterable<string>;
}

export class Partitions implements PartitionHold {
  readonly #o: PartitionsOptions;
  #active: boolean;
  #manual: boolean;
  /** The merge is held: healed while manual, waiting for resolve-partition. */
  #mergeHeld = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** A heal was announced and "Cluster synchronized" is still owed. */
  #syncPending = false;
  /** The next periodic retry, ms: doubles (up to MAX_RETRY_MS) while replays send nothing. */
  #retryDelay = 0;
  /** Messages refused because the queue was full, since start. */
  refusedFull = 0;
  readonly #mergeHeldListeners: (() => void)[] = [];
  readonly #readyListeners: (() => void)[] = [];
  #readyTimer: NodeJS.Timeout | undefined;
  /** The monitor generation whose quorum the members confirmed by answering (ping), and the one being asked. */
  #confirmed = -1;
  #confirming = -1;
  /** Receivers with messages in the queue → how many (per-receiver order: new ones wait behind them). */
  readonly #waiting = new Map<string, number>();
  /** The sides of the last split, as this node saw them when it happened. */
  #lastSplit: { readonly majority: readonly string[]; readonly minority: readonly string[] } | undefined;

  constructor(o: PartitionsOptions) {
    this.#o = o;
    this.#manual = o.manual ?? false;
    this.#active = o.monitor.view.state !== 'healthy';
    this.#recount();
    o.monitor.onChange((c) => this.#changed(c));
    // A restart with messages still queued: replay them once the node is up and sees its cluster.
    if (o.queue.size > 0) this.#schedule(o.settleMs ?? 2000);
  }

  get view(): PartitionView {
    return this.#o.monitor.view;
  }

  /** PartitionHold: whether this node is cut off from part of its cluster (or still merging). */
  active(): boolean {
    return this.#active;
  }

  /** Whether `node` counts toward the agreed cluster size. */
  knows(node: string): boolean {
    return this.#o.monitor.view.reachable.includes(node) || this.#o.monitor.view.unreachable.includes(node);
  }

  /** A node gone for good (`cluster remove`) no longer counts. */
  forget(node: string): void {
    this.#o.monitor.forget(node);
  }

  /** Recomputes the side this node is on now (membership may have changed since the last event). */
  refresh(): void {
    this.#o.monitor.update();
  }

  /**
   * Whether this side may take other nodes' agents over now: it holds a quorum, no member is suspect,
   * and the view has been so for takeoverStableMs (a minority learning of its failures one at a time
   * passes through views that look like a majority). When only time is missing, the listeners of
   * onTakeoverReady are called once it has passed, so that the caller runs its takeovers then.
   */
  takeoverAllowed(): boolean {
    const m = this.#o.monitor;
    const v = m.view;
    if (v.forming) return true;
    if (readOnly(v.state) || this.#mergeHeld) return false;
    const wait = (this.#o.takeoverStableMs ?? 2000) - m.stableForMs();
    if (v.suspect.length === 0) {
      if (wait <= 0 || this.#confirmed === m.generation) return true;
      this.#confirmQuorum();
    }
    if (this.#readyTimer === undefined && !this.#closed) {
      this.#readyTimer = setTimeout(() => {
        this.#readyTimer = undefined;
        this.#ready();
      }, Math.max(wait, 250));
      this.#readyTimer.unref();
    }
    return false;
  }

  /**
   * Asks every other reachable member to answer (options.ping); when enough answer to make a quorum
   * with this node, and the view is still the one asked about, with no member suspect, the quorum is
   * confirmed for that view and the takeover listeners run now. A cut-off side cannot get those answers:
   * the members it has no verdict on yet do not answer it. Anything short of a quorum leaves the wait.
   */
  #confirmQuorum(): void {
    const ping = this.#o.ping;
    const m = this.#o.monitor;
    const generation = m.generation;
    if (ping === undefined || this.#confirming === generation || this.#closed) return;
    this.#confirming = generation;
    const asked = m.view;
    const others = asked.reachable.filter((n) => n !== m.self);
    void Promise.all(others.map((n) => ping(n).catch(() => false))).then((answers) => {
      const answered = answers.filter((a) => a).length + 1;
      if (this.#closed || m.generation !== generation || m.view.suspect.length > 0 || answered < asked.quorum) return;
      this.#confirmed = generation;
      if (this.#readyTimer !== undefined) clearTimeout(this.#readyTimer);
      this.#readyTimer = undefined;
      this.#o.logger.info({ answered, quorum: asked.quorum, members: asked.reachable.length }, 'partition: quorum confirmed by the members answering; takeovers may run before the view has been stable for long');
      this.#ready();
    });
  }

  #ready(): void {
    for (const fn of this.#readyListeners) fn();
  }

  /** See takeoverAllowed. */
  onTakeoverReady(fn: () => void): void {
    this.#readyListeners.push(fn);
  }

  /** Whether management writes are refused here (minority, alone). */
  readOnly(): boolean {
    const v = this.#o.monitor.view;
    return !v.forming && readOnly(v.state);
  }

  /** The sides of the last split this node saw (undefined: none since start). */
  get lastSplit(): { readonly majority: readonly string[]; readonly minority: readonly string[] } | undefined {
    return this.#lastSplit;
  }

  /** Bytes waiting in the partition queue. */
  get queueBytes(): number {
    return this.#o.queue.bytes;
  }

  get manual(): boolean {
    return this.#manual;
  }

  /** Whether the merge after a heal is held for the operator. */
  get mergeHeld(): boolean {
    return this.#mergeHeld;
  }

  /**
   * Whether duplicate agents must not be settled now (no claims, no moves): while the operator holds
   * the merge, from `--resolve-strategy manual` on, split or healed. Not only once the heal is seen
   * here: the view change that reunites the sides runs claims before this node has noticed the heal.
   */
  get settlingHeld(): boolean {
    return this.#manual || this.#mergeHeld;
  }

  /** PartitionHold: keeps a message for after the partition. */
  hold(from: string, to: string, json: string, priority: number, replyTo: string): 'held' | 'full' {
    return this.#hold({ messageId: reliableIdOf(json) ?? '', to, json, priority: priority as PriorityLevel, from, replyTo }) === 'full' ? 'full' : 'held';
  }

  /** PartitionHold: whether messages for `to` wait in the queue. */
  waiting(to: string): boolean {
    return this.#waiting.size > 0 && this.#waiting.has(to);
  }

  /** Holds one message ('duplicate': it is held already, by its message id). */
  #hold(m: HeldMessage): HoldResult {
    const r = this.#o.queue.hold(m);
    if (r === 'full') this.refusedFull++;
    else if (r === 'held') {
      if (m.to !== '') this.#count(m.to, 1);
      this.#ensureTimer();
    }
    return r;
  }

  #count(to: string, d: number): void {
    const n = (this.#waiting.get(to) ?? 0) + d;
    if (n > 0) this.#waiting.set(to, n);
    else this.#waiting.delete(to);
  }

  /** Call at every membership event, after the monitor's update: a failed node's unacknowledged posts join the queue. */
  nodeFailed(node: string): void {
    if (!this.#active) return;
    let n = 0;
    for (const p of this.#o.takeUnacked(node)) {
      const json = this.#o.pending(p.id);
      if (json === undefined) continue; // acknowledged meanwhile through another path
      if (this.#hold({ messageId: p.id, to: p.to, json, priority: p.priority, from: '', replyTo: p.replyTo }) === 'held') n++;
    }
    if (n > 0) this.#o.logger.warn({ node, messages: n }, 'partition: messages sent to a node now unreachable were queued, in order, for after the partition');
  }

  /**
   * `detect-partition --resolve-strategy manual`: hold the next merge until resolve(). A node told
   * while its own heal is about to replay (it was on the other side and just came back) holds at once.
   */
  holdMerge(): void {
    this.#manual = true;
    if (this.#syncPending && !this.#mergeHeld) this.#holdNow();
  }

  /** Called when a heal is held here: the node tells the nodes it reaches again (src/cluster/partition/control.ts). */
  onMergeHeld(fn: () => void): void {
    this.#mergeHeldListeners.push(fn);
  }

  #holdNow(): void {
    this.#mergeHeld = true;
    this.#syncPending = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#o.emit({ type: 'partition_merge_held', text: `[WARN] Merge held (resolve strategy manual): ${this.#o.queue.size} queued messages wait for \`caxton cluster resolve-partition\``, queued: this.#o.queue.size });
    for (const fn of this.#mergeHeldListeners) fn();
  }

  /**
   * `resolve-partition`: ends a held merge (and manual mode): replays the queue now. Returns how many
   * messages were queued.
   */
  resolve(): number {
    const n = this.#o.queue.size;
    this.#manual = false;
    this.#mergeHeld = false;
    const healthy = this.#o.monitor.view.state === 'healthy';
    this.#active = !healthy;
    // Healed already (the merge was held): replay now, announced, and say when it is synchronized. Still
    // split: the heal, when it comes, merges by itself.
    if (healthy) {
      this.#syncPending = true;
      this.#replayNow(true);
    }
    return n;
  }

  /** What `cluster status` prints beyond the counts. */
  statusFields(): { status: string; operations: string; queuedWrites: number } {
    const v = this.#o.monitor.view;
    if (v.forming) return { status: `FORMING (${v.reachable.length} of ${v.expected} expected nodes have joined)`, operations: 'READ-WRITE', queuedWrites: this.#o.queue.size };
    const s = v.state;
    return { status: statusLine(s), operations: this.#mergeHeld ? 'READ-WRITE (merge held: resolve-partition)' : operationsLine(s), queuedWrites: this.#o.queue.size };
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#readyTimer !== undefined) clearTimeout(this.#readyTimer);
    this.#readyTimer = undefined;
  }

  #changed({ previous, current }: PartitionChange): void {
    const o = this.#o;
    // A cluster still forming (nodes joining up to bootstrap_expect) is not split, and its formation is no heal.
    if (current.forming || previous.forming) {
      this.#active = current.state !== 'healthy' && !current.forming;
      return;
    }
    const sides = `this side [${current.reachable.join(', ')}] (${current.state}), unreachable [${current.unreachable.join(', ')}]`;
    if (current.state !== 'healthy') {
      const mine = current.state === 'majority';
      this.#lastSplit = { majority: mine ? current.reachable : current.unreachable.length >= current.quorum ? current.unreachable : [], minority: mine ? current.unreachable : current.reachable };
    }
    if (previous.state === 'healthy' && current.state !== 'healthy') {
      this.#active = true;
      this.#syncPending = false;
      o.logger.warn({ state: current.state, reachable: current.reachable, unreachable: current.unreachable, quorum: current.quorum }, 'network partition detected');
      o.emit({ type: 'split_brain', text: `[WARN] Network partition detected: ${sides}; quorum ${current.quorum} of ${current.expected}${readOnly(current.state) ? ' — this node is read-only' : ''}`, state: current.state, reachable: current.reachable.join(','), unreachable: current.unreachable.join(','), quorum: current.quorum });
      return;
    }
    if (previous.state !== 'healthy' && current.state === 'healthy') {
      o.logger.info({ reachable: current.reachable, queued: o.queue.size }, 'partition healed');
      o.emit({ type: 'partition_healed', text: '[INFO] Partition healed, merging state', reachable: current.reachable.join(',') });
      if (this.#manual) return this.#holdNow();
      this.#syncPending = true;
      this.#schedule(o.settleMs ?? 2000, true);
      return;
    }
    if (current.state === 'healthy') return; // the same healthy view (an expected size change)
    o.logger.warn({ from: previous.state, state: current.state, reachable: current.reachable, unreachable: current.unreachable }, 'partition changed');
    o.emit({ type: 'partition_changed', text: `[WARN] Partition changed: ${sides}`, state: current.state, reachable: current.reachable.join(','), unreachable: current.unreachable.join(',') });
    if (!readOnly(current.state)) this.#schedule(o.settleMs ?? 2000);
  }

  #replayOne(m: QueuedMessage): ReplayOutcome {
    return this.#o.replay(m.from, m.to, m.json, m.priority, m.replyTo);
  }

  /** Who has messages waiting, from the queue itself (a replay deletes rows without asking the router). */
  #recount(): void {
    this.#waiting.clear();
    if (this.#o.queue.size === 0) return;
    for (const to of this.#o.queuedReceivers()) if (to !== '') this.#count(to, 1);
  }

  /** Replays soon: after a heal (announced), or to retry. */
  #schedule(ms: number, announce = false): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#replayNow(announce);
    }, ms);
    this.#timer.unref();
  }

  /** Keeps a retry going while messages wait and this side may send them. */
  #ensureTimer(): void {
    if (this.#timer === undefined && !this.#closed) this.#schedule(this.#o.retryMs ?? 2000);
  }

  #replayNow(announce: boolean): void {
    const o = this.#o;
    if (this.#closed || this.#mergeHeld) return;
    const state = o.monitor.view.state;
    // A minority holds what it has until its side changes: every replay would only hold it again.
    if (!announce && readOnly(state)) return;
    if (state === 'healthy') this.#active = false;
    const n = o.queue.size;
    if (announce || n > 0) {
      if (announce) o.emit({ type: 'partition_replay', text: `[INFO] Replaying ${n} queued messages`, queued: n });
      const t0 = performance.now();
      const r = n === 0 ? { sent: 0, kept: 0, gone: 0 } : o.queue.replay((m: QueuedMessage) => this.#replayOne(m));
      if (n > 0) o.logger.info({ ...r, ms: Math.round(performance.now() - t0) }, 'partition queue replayed');
      this.#recount();
      // A pass walks the whole queue: while nothing can go, they get rarer.
      this.#retryDelay = announce || r.sent + r.gone > 0 ? (o.retryMs ?? 2000) : Math.min(MAX_RETRY_MS, Math.max(o.retryMs ?? 2000, this.#retryDelay * 2));
    }
    if (o.queue.size === 0) {
      if (this.#syncPending && state === 'healthy') {
        this.#syncPending = false;
        o.emit({ type: 'partition_synchronized', text: '[INFO] Cluster synchronized' });
      }
      return;
    }
    this.#schedule(this.#retryDelay || (o.retryMs ?? 2000), false);
  }
}
