/**
 * The cluster directory (docs/cluster-routing.md#directory): where agents live, which agents provide a
 * capability, which nodes have subscribers of a topic, without a full copy on every node.
 *
 * - Authority: each node says what it hosts. It writes versioned entries for its agents and posts them
 *   to the holders of their keys: the top K nodes of rendezvous(key, alive).
 * - Computed by default: an agent on its HRW owner has no name entry; only exceptions (pinned, moved,
 *   not yet failed over) do. Capabilities and topics always have entries (`cap:<c>`, `topic:<t>`).
 * - Anti-entropy: every `antiEntropyMs` (jittered) and shortly after every view change, each authority
 *   re-announces all its entries to their current holders, in a numbered round; holders drop what a
 *   complete round no longer lists, drop entries of authorities dead for longer than `deadWindowMs`,
 *   and forget tombstones after `tombstoneTtlMs`. Versions (entry.ts `newer`) order conflicting
 *   entries, so after a partition heals every holder converges on the same winner.
 *
 * Traffic goes through `Peers` only: posts `dir.update`, `dir.sync`, `dir.moved`; calls `dir.lookup`,
 * `dir.verify`. A malformed body from a peer is refused and logged; it never throws out of a handler.
 */
import { systemClock, type Clock, type Timer } from '../membership/clock.js';
import { silentLogger, type ClusterLogger } from '../transport/logger.js';
import { TopKCache } from './top-k-cache.js';
import { CaxtonError } from '../../errors.js';
import type { NodeName, PeerBody, Peers } from '../peers.js';
import { asObject, badCall, BadDirectoryBody, LIMITS, newer, parseEntries, placementKey, str, uint, type DirectoryEntry, type EntryKind } from './entry.js';
import { HolderStore } from './holder-store.js';
import { computeDrift, compareState, digestOf, entrySet, parseNodeReport, type DriftReport, type NodeReport, type StateRow } from './drift.js';
import type { MembershipView } from './view.js';

/** Post kinds and call methods on the wire: renaming one breaks mixed-version clusters. */
export const DIRECTORY_WIRE = {
  update: 'dir.update',
  sync: 'dir.sync',
  moved: 'dir.moved',
  lookup: 'dir.lookup',
  verify: 'dir.verify',
} as const;

/** An agent this node hosts, as the directory announces it. */
export interface HostedAgent {
  readonly name: string;
  readonly id: string;
  readonly state: string;
  readonly capabilities: readonly string[];
  readonly topics: readonly string[];
  /** Ownership epoch (fencing token): raised by failover and moves. */
  readonly epoch: number;
}

export interface DirectoryOptions {
  readonly peers: Peers;
  readonly view: MembershipView;
  /** Time and timers; a simulation passes a virtual clock. @default systemClock */
  readonly clock?: Clock;
  readonly logger?: ClusterLogger;
  /**
   * This process's incarnation: must grow across restarts of a node so that its new entries win over
   * the ones it wrote before. @default clock.now() at construction
   */
  readonly incarnation?: number;
  /** Holders per key (the K top nodes in rendezvous order). @default 2 */
  readonly holders?: number;
  /** Period of anti-entropy rounds, ms (±10 % jitter). Each round posts every entry once per holder. @default 30000 */
  readonly antiEntropyMs?: number;
  /** Delay from a view change to the round it triggers, ms: several changes in a burst give one round. @default 200 */
  readonly viewChangeDelayMs?: number;
  /** How long a holder keeps entries of an authority that is no longer alive (the failover window), ms. @default 30000 */
  readonly deadWindowMs?: number;
  /** How long tombstones live, ms; keep it above 3 × antiEntropyMs. @default 4 × antiEntropyMs */
  readonly tombstoneTtlMs?: number;
  /** How long a providers()/subscriberNodes() answer is reused, ms (a view change clears it). @default 2000 */
  readonly lookupTtlMs?: number;
  /** After a view change, how long a holder answers `pending` rather than `unknown` for a name it lacks, ms. @default 2 × viewChangeDelayMs + 1000 */
  readonly settleMs?: number;
  /** Deadline of dir.lookup and dir.verify calls, ms. @default 2000 */
  readonly callTimeoutMs?: number;
  /** Bound of each lookup cache (owners, holders, hints); a full cache is cleared. @default 100000 */
  readonly cacheMax?: number;
}

/** A provider of a capability on another node (or this one). */
export interface Provider {
  readonly agent: string;
  readonly node: NodeName;
}

/**
 * What to do with a message for a name this node does not host (`whereIs`):
 * - local: it is hosted here after all;
 * - forward: send it to `node` (a "moved" hint went to the sender node);
 * - unknown: this node holds the name's entries and has none: the name exists nowhere;
 * - pending: as unknown, but the view changed moments ago and the entry may be on its way: keep a
 *   reliable message in the outbox and retry, fail an unreliable one.
 */
export type WhereIs = { readonly kind: 'local' } | { readonly kind: 'forward'; readonly node: NodeName } | { readonly kind: 'unknown' } | { readonly kind: 'pending' };

const NONE: readonly NodeName[] = Object.freeze([]);
const LOCAL: WhereIs = Object.freeze({ kind: 'local' });
const UNKNOWN: WhereIs = Object.freeze({ kind: 'unknown' });
const PENDING: WhereIs = Object.freeze({ kind: 'pending' });

/** Counters for metrics and tests. */
export interface DirectoryStats {
  /** Bodies refused from peers (malformed, or entries of another authority). */
  refused: number;
  /** Entries a holder accepted (added or replaced). */
  merged: number;
  /** Entries dropped by pruning, dead authorities and expired tombstones. */
  dropped: number;
  /** Anti-entropy rounds this node ran as an authority. */
  rounds: number;
  /** whereIs() answers `unknown`: names that exist nowhere (the no_such_agent metric). */
  unknown: number;
}

interface CachedLookup {
  readonly at: number;
  readonly entries: Promise<readonly DirectoryEntry[]>;
  /** Once answered: the entries, and what providers()/subscriberNodes() return (nodes that are up only, isolated ones included; a view change clears the cache). */
  settled?: readonly DirectoryEntry[];
  providers?: readonly Provider[];
  nodes?: readonly NodeName[];
  /** `nodes` without this node (what the router sends copies to). */
  others?: readonly NodeName[];
}

/** An entry's place among its agent's entries. */
const slot = (kind: EntryKind, key: string): string => `${kind}\n${key}`;

/** How often confirm() asks the holders again, ms. */
const CONFIRM_RETRY_MS = 20;
/** A sender is told again where a name lives at most this often (ClusterDirectory.#tell). */
const TELL_EVERY_MS = 1000;

export class ClusterDirectory {
  readonly #peers: Peers;
  readonly #view: MembershipView;
  readonly #clock: Clock;
  readonly #log: ClusterLogger;
  readonly #inc: number;
  readonly #k: number;
  readonly #aeMs: number;
  readonly #viewDelayMs: number;
  readonly #deadMs: number;
  readonly #tombMs: number;
  readonly #lookupTtlMs: number;
  readonly #settleMs: number;
  readonly #callMs: number;
  readonly #cacheMax: number;
  readonly self: NodeName;
  readonly stats: DirectoryStats = { refused: 0, merged: 0, dropped: 0, rounds: 0, unknown: 0 };

  // Authority side.
  readonly #hosted = new Map<string, HostedAgent>();
  /** Every entry this node authored and still announces (live, or tombstone until it expires): agent → kind+key → entry. */
  readonly #authored = new Map<string, Map<string, DirectoryEntry>>();
  /** Expiry of authored tombstones: agent → kind+key → when. */
  readonly #tombExpiry = new Map<string, Map<string, number>>();
  #ctr = 0;
  #round = 0;
  /** Holders the last round posted to: the next round tells the ones no longer holders to prune. */
  #lastTargets = new Set<NodeName>();

  // Holder side.
  readonly #store = new HolderStore();
  readonly #deadSince = new Map<NodeName, number>();

  // View and caches.
  #alive: readonly string[] = [];
  /**
   * The alive nodes plus the isolated ones (MembershipView.up): an entry naming one of them is valid,
   * since an isolated or leaving node runs its agents until they have moved.
   */
  #upSet = new Set<string>();
  #viewChangedAt = -Infinity;
  /** Owners (top 1) and holders (top K), kept across view changes at one hash per newcomer per key. */
  readonly #owners: TopKCache;
  readonly #holderCache: TopKCache;
  readonly #hints = new Map<string, NodeName>();
  /** When each (sender, name) was last told where the name lives (#tell), ms. */
  readonly #told = new Map<string, number>();
  readonly #lookups = new Map<string, CachedLookup>();

  readonly #selfOnly: readonly NodeName[];
  #tick: Timer | undefined;
  #viewTimer: Timer | undefined;
  #unsubscribe: () => void;
  #closed = false;

  constructor(o: DirectoryOptions) {
    this.#peers = o.peers;
    this.self = o.peers.self;
    this.#selfOnly = Object.freeze([this.self]);
    this.#view = o.view;
    this.#clock = o.clock ?? systemClock;
    this.#log = o.logger ?? silentLogger;
    this.#inc = o.incarnation ?? this.#clock.now();
    this.#k = o.holders ?? 2;
    this.#aeMs = o.antiEntropyMs ?? 30_000;
    this.#viewDelayMs = o.viewChangeDelayMs ?? 200;
    this.#deadMs = o.deadWindowMs ?? 30_000;
    this.#tombMs = o.tombstoneTtlMs ?? 4 * this.#aeMs;
    this.#lookupTtlMs = o.lookupTtlMs ?? 2000;
    this.#settleMs = o.settleMs ?? 2 * this.#viewDelayMs + 1000;
    this.#callMs = o.callTimeoutMs ?? 2000;
    this.#cacheMax = o.cacheMax ?? 100_000;
    this.#owners = new TopKCache(1, this.#cacheMax);
    this.#holderCache = new TopKCache(this.#k, this.#cacheMax);
    if (!(this.#k >= 1) || !Number.isInteger(this.#k)) throw new RangeError(`holders must be an integer of 1 or more, got ${this.#k}`);
    if (this.#tombMs <= 3 * this.#aeMs) this.#log.warn({ tombstoneTtlMs: this.#tombMs, antiEntropyMs: this.#aeMs }, 'directory: tombstones should outlive 3 anti-entropy periods, or a late entry may revive a removed agent');

    this.#applyView(false);
    // A node that just started holds nothing yet: it settles like after a view change.
    this.#viewChangedAt = this.#clock.now();
    this.#unsubscribe = this.#view.onChange(() => this.#applyView(true));
    this.#peers.onPost(DIRECTORY_WIRE.update, (from, b) => this.#guard(DIRECTORY_WIRE.update, from, () => this.#onUpdate(from, b)));
    this.#peers.onPost(DIRECTORY_WIRE.sync, (from, b) => this.#guard(DIRECTORY_WIRE.sync, from, () => this.#onSync(from, b)));
    this.#peers.onPost(DIRECTORY_WIRE.moved, (from, b) => this.#guard(DIRECTORY_WIRE.moved, from, () => this.#onMoved(b)));
    this.#peers.onCall(DIRECTORY_WIRE.lookup, (from, b) => this.#onLookup(from, b));
    this.#peers.onCall(DIRECTORY_WIRE.verify, (from, b) => this.#onVerify(from, b));
    // The first round goes to every alive member, soon: a node that restarted (same name, new
    // incarnation) makes holders drop what its previous process announced, and announces what it hosts.
    for (const n of this.#alive) if (n !== this.self) this.#lastTargets.add(n);
    this.#round = this.#inc; // round numbers grow across restarts too, so a new process never repeats an old one's
    this.#viewTimer = this.#clock.setTimer(this.#viewDelayMs, () => {
      this.#viewTimer = undefined;
      this.antiEntropy();
    });
    this.#scheduleTick();
  }

  /** Stops the timers. Entries stay where they are (holders drop them once this node is dead past the window). */
  close(): void {
    this.#closed = true;
    this.#tick?.cancel();
    this.#viewTimer?.cancel();
    this.#unsubscribe();
  }

  // ---- Authority side ---------------------------------------------------------------------------

  /** Announces an agent this node hosts (deployed, started, state or capabilities changed, moved here). */
  upsert(a: HostedAgent): void {
    this.#hosted.set(a.name, a);
    this.#write(a.name);
  }

  /** The agent left this node (removed, or moved away): its entries become tombstones. */
  remove(name: string): void {
    if (!this.#hosted.delete(name)) return;
    this.#write(name);
  }

  /**
   * Resolves once every holder of agent `name`'s entry holds it as this node authored it last, so that
   * a deploy off the agent's computed owner (pinned, weighted, moved) is answered only when every node
   * can route to it: until then the computed owner, lacking the entry, would declare the name
   * nonexistent. An agent on its computed owner needs no entry: resolves at once. True when confirmed;
   * false at the deadline (anti-entropy repairs it later) or when this node no longer hosts it.
   */
  async confirm(name: string, timeoutMs = 2000): Promise<boolean> {
    const deadline = this.#clock.now() + timeoutMs;
    for (;;) {
      if (!this.#hosted.has(name)) return false;
      const mine = this.#authored.get(name)?.get(slot('name', name));
      if (mine === undefined || mine.tombstone === true) return true;
      const holders = this.holdersOf(placementKey('name', name)).filter((h) => h !== this.self);
      const answers = await Promise.allSettled(
        holders.map((h) =>
          this.#peers
            .call<unknown>(h, DIRECTORY_WIRE.lookup, { kind: 'name', key: name }, { timeoutMs: this.#callMs })
            .then((r) => parseEntries(asObject(r, `${DIRECTORY_WIRE.lookup} answer`), 'entries', `${DIRECTORY_WIRE.lookup} answer`)),
        ),
      );
      const held = (r: PromiseSettledResult<DirectoryEntry[]>) =>
        r.status === 'fulfilled' && r.value.some((e) => e.agent === name && e.node === this.self && e.tombstone !== true && e.inc === mine.inc && e.ctr >= mine.ctr);
      if (answers.every(held)) return true;
      if (this.#clock.now() >= deadline || this.#closed) return false;
      await new Promise<void>((resolve) => this.#clock.setTimer(CONFIRM_RETRY_MS, resolve));
    }
  }

  /** Agents this node hosts. */
  hosted(): IterableIterator<HostedAgent> {
    return this.#hosted.values();
  }

  /**
   * Rewrites the entries of agent `name` from what is hosted now: live entries for the keys it should
   * have, tombstones for keys it had and no longer has; posts the changes to the holders.
   */
  #write(name: string, post = true): void {
    const a = this.#hosted.get(name);
    const want = new Map<string, DirectoryEntry>();
    let mine = this.#authored.get(name);
    if (mine === undefined) {
      if (a === undefined) return;
      this.#authored.set(name, (mine = new Map()));
    }
    let tombs = this.#tombExpiry.get(name);
    const version = { inc: this.#inc, ctr: ++this.#ctr };
    if (a !== undefined) {
      const base = { agent: a.name, id: a.id, node: this.self, state: a.state, epoch: a.epoch, ...version };
      if (this.ownerOf(a.name) !== this.self) {
        want.set(slot('name', a.name), { kind: 'name', key: a.name, ...base, capabilities: a.capabilities, topics: a.topics });
      }
      for (const c of a.capabilities) want.set(slot('cap', c), { kind: 'cap', key: c, ...base });
      for (const t of a.topics) want.set(slot('topic', t), { kind: 'topic', key: t, ...base });
    }
    const changed: DirectoryEntry[] = [];
    // Keys the agent had and no longer has: tombstones, with the new version so they win.
    for (const [id, old] of mine) {
      if (want.has(id) || old.tombstone === true) continue;
      const t: DirectoryEntry = { ...old, ...version, ...(a === undefined ? {} : { epoch: a.epoch }), tombstone: true };
      mine.set(id, t);
      if (tombs === undefined) this.#tombExpiry.set(name, (tombs = new Map()));
      tombs.set(id, this.#clock.now() + this.#tombMs);
      changed.push(t);
    }
    for (const [id, e] of want) {
      const old = mine.get(id);
      if (old !== undefined && old.tombstone !== true && sameContent(old, e)) continue;
      mine.set(id, e);
      tombs?.delete(id);
      changed.push(e);
    }
    if (tombs?.size === 0) this.#tombExpiry.delete(name);
    if (mine.size === 0) this.#authored.delete(name);
    if (post && changed.length > 0) this.#postToHolders(changed);
  }

  *#authoredEntries(): IterableIterator<DirectoryEntry> {
    for (const m of this.#authored.values()) yield* m.values();
  }

  #postToHolders(entries: readonly DirectoryEntry[]): void {
    const byNode = new Map<NodeName, DirectoryEntry[]>();
    for (const e of entries) {
      for (const h of this.holdersOf(placementKey(e.kind, e.key))) {
        let l = byNode.get(h);
        if (l === undefined) byNode.set(h, (l = []));
        l.push(e);
      }
    }
    for (const [node, list] of byNode) {
      if (node === this.self) {
        for (const e of list) this.#merge(e, 0);
        continue;
      }
      // The next round tells this node what it should still hold, even if it is no holder by then.
      this.#lastTargets.add(node);
      for (let i = 0; i < list.length; i += LIMITS.maxEntriesPerPost) {
        // A refusal (backpressure, peer down) is repaired by the next anti-entropy round.
        this.#peers.post(node, DIRECTORY_WIRE.update, { entries: list.slice(i, i + LIMITS.maxEntriesPerPost) });
      }
    }
  }

  /** One anti-entropy round: every authored entry to every current holder of its key. */
  antiEntropy(): void {
    if (this.#closed) return;
    const now = this.#clock.now();
    for (const [agent, tombs] of this.#tombExpiry) {
      const mine = this.#authored.get(agent);
      for (const [id, at] of tombs) {
        if (at > now) continue;
        tombs.delete(id);
        mine?.delete(id);
      }
      if (tombs.size === 0) this.#tombExpiry.delete(agent);
      if (mine?.size === 0) this.#authored.delete(agent);
    }
    const round = ++this.#round;
    this.stats.rounds++;
    const targets = new Map<NodeName, DirectoryEntry[]>();
    for (const e of this.#authoredEntries()) {
      for (const h of this.holdersOf(placementKey(e.kind, e.key))) {
        let l = targets.get(h);
        if (l === undefined) targets.set(h, (l = []));
        l.push(e);
      }
    }
    // Former holders get an empty round: they drop what they hold from this node.
    for (const n of this.#lastTargets) if (!targets.has(n)) targets.set(n, []);
    const next = new Set<NodeName>();
    for (const [node, list] of targets) {
      const chunks = Math.max(1, Math.ceil(list.length / LIMITS.maxEntriesPerPost));
      if (node === this.self) {
        for (const e of list) this.#merge(e, round);
        continue;
      }
      let all = true;
      for (let c = 0; c < chunks; c++) {
        const entries = list.slice(c * LIMITS.maxEntriesPerPost, (c + 1) * LIMITS.maxEntriesPerPost);
        all = this.#peers.post(node, DIRECTORY_WIRE.sync, { round, inc: this.#inc, ctr: this.#ctr, chunks, entries }) && all;
      }
      // A node that did not get the whole round, or still holds something, is posted to next round too.
      if (!all || list.length > 0) next.add(node);
    }
    this.#lastTargets = next;
    // This node as a holder of its own entries: whatever this round did not list, it no longer holds.
    this.#prune(this.self, round, this.#inc, this.#ctr);
    this.#sweep(now);
  }

  // ---- Holder side ------------------------------------------------------------------------------

  #merge(e: DirectoryEntry, round: number): void {
    const r = this.#store.merge(e, round, this.#tombMs, this.#clock.now());
    if (r === 'added' || r === 'replaced') {
      this.stats.merged++;
      if (e.kind !== 'name') this.#lookups.delete(`${e.kind}\n${e.key}`);
    }
  }

  #prune(authority: NodeName, round: number, inc: number, ctr: number): void {
    this.stats.dropped += this.#store.prune(authority, round, inc, ctr);
  }

  #sweep(now: number): void {
    const gone = (node: NodeName): boolean => {
      if (this.#upSet.has(node)) return false;
      let since = this.#deadSince.get(node);
      if (since === undefined) this.#deadSince.set(node, (since = now)); // an authority this node never saw alive
      return now - since > this.#deadMs;
    };
    this.stats.dropped += this.#store.sweep(now, gone);
  }

  #onUpdate(from: NodeName, body: PeerBody): void {
    const o = asObject(body, DIRECTORY_WIRE.update);
    const entries = this.#fromAuthority(from, parseEntries(o, 'entries', DIRECTORY_WIRE.update), DIRECTORY_WIRE.update);
    for (const e of entries) this.#merge(e, 0);
  }

  #onSync(from: NodeName, body: PeerBody): void {
    const w = DIRECTORY_WIRE.sync;
    const o = asObject(body, w);
    const round = uint(o, 'round', w);
    const inc = uint(o, 'inc', w);
    const ctr = uint(o, 'ctr', w);
    const chunks = uint(o, 'chunks', w);
    if (round === 0 || chunks === 0) throw new BadDirectoryBody(`${w}.round and ${w}.chunks must be 1 or more`);
    const entries = this.#fromAuthority(from, parseEntries(o, 'entries', w), w);
    for (const e of entries) this.#merge(e, round);
    if (this.#store.roundChunk(from, round, chunks)) this.#prune(from, round, inc, ctr);
  }

  /** An authority announces only its own entries: a post carrying another node's is refused whole. */
  #fromAuthority(from: NodeName, entries: DirectoryEntry[], where: string): DirectoryEntry[] {
    const other = entries.find((e) => e.node !== from);
    if (other !== undefined) throw new BadDirectoryBody(`${where} from ${from} carries an entry of node ${other.node}: an authority announces only its own agents`);
    return entries;
  }

  #onMoved(body: PeerBody): void {
    const o = asObject(body, DIRECTORY_WIRE.moved);
    this.hint(str(o, 'name', DIRECTORY_WIRE.moved), str(o, 'node', DIRECTORY_WIRE.moved));
  }

  #onLookup(_from: NodeName, body: PeerBody): { entries: DirectoryEntry[] } {
    let kind: EntryKind;
    let key: string;
    try {
      const o = asObject(body, DIRECTORY_WIRE.lookup);
      const k = o['kind'];
      if (k !== 'name' && k !== 'cap' && k !== 'topic') throw new BadDirectoryBody(`${DIRECTORY_WIRE.lookup}.kind must be "name", "cap" or "topic"`);
      kind = k;
      key = str(o, 'key', DIRECTORY_WIRE.lookup);
    } catch (e) {
      this.#refused(DIRECTORY_WIRE.lookup, _from, e);
      throw badCall(DIRECTORY_WIRE.lookup, e);
    }
    const held = this.#store.get(kind, key);
    const entries: DirectoryEntry[] = [];
    if (held !== undefined) for (const h of held.values()) entries.push(h.entry);
    return { entries };
  }

  #onVerify(from: NodeName, body: PeerBody): NodeReport {
    let deep: boolean;
    try {
      const o = asObject(body, DIRECTORY_WIRE.verify);
      const d = o['deep'];
      if (d !== undefined && typeof d !== 'boolean') throw new BadDirectoryBody(`${DIRECTORY_WIRE.verify}.deep must be a boolean`);
      deep = d === true;
    } catch (e) {
      this.#refused(DIRECTORY_WIRE.verify, from, e);
      throw badCall(DIRECTORY_WIRE.verify, e);
    }
    return this.report(deep);
  }

  #guard(kind: string, from: NodeName, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#refused(kind, from, e);
    }
  }

  #refused(kind: string, from: NodeName, e: unknown): void {
    this.stats.refused++;
    this.#log.warn({ from, kind, reason: e instanceof Error ? e.message : String(e) }, 'directory: refused a malformed body from a peer');
  }

  // ---- View -------------------------------------------------------------------------------------

  #applyView(changed: boolean): void {
    const alive = this.#view.alive();
    const now = this.#clock.now();
    // Which hosted agents are exceptions (not on their owner) before the change.
    const wasOwner = changed ? new Set([...this.#hosted.keys()].filter((n) => this.ownerOf(n) === this.self)) : undefined;
    const up = new Set([...alive, ...(this.#view.up?.() ?? [])]);
    const prev = this.#alive;
    for (const n of this.#upSet) if (!up.has(n)) this.#deadSince.set(n, now);
    for (const n of up) this.#deadSince.delete(n);
    this.#alive = alive;
    this.#upSet = up;
    this.#owners.update(alive, prev);
    this.#holderCache.update(alive, prev);
    this.#hints.clear();
    this.#told.clear();
    this.#lookups.clear();
    if (!changed) return;
    this.#viewChangedAt = now;
    // Name entries depend on the owner: an agent whose owner changed may have become an exception,
    // or stopped being one. Its cap and topic entries keep their versions.
    // Only those whose exception status changed are rewritten (a view change alone bumps no version).
    for (const name of this.#hosted.keys()) if (wasOwner?.has(name) !== (this.ownerOf(name) === this.self)) this.#write(name, false);
    this.#viewTimer?.cancel();
    this.#viewTimer = this.#clock.setTimer(this.#viewDelayMs, () => {
      this.#viewTimer = undefined;
      this.antiEntropy();
    });
  }

  #scheduleTick(): void {
    if (this.#closed) return;
    const jitter = this.#aeMs * 0.1 * (2 * Math.random() - 1);
    this.#tick = this.#clock.setTimer(this.#aeMs + jitter, () => {
      this.antiEntropy();
      this.#scheduleTick();
    });
  }

  /** The HRW owner of `name` among alive members (this node when it is alone). Cached per view. */
  ownerOf(name: string): NodeName {
    return this.#owners.get(name)[0] ?? this.self;
  }

  /** The holders of a rendezvous key (top K alive). Cached per view. */
  holdersOf(placement: string): readonly NodeName[] {
    const h = this.#holderCache.get(placement);
    return h.length === 0 ? this.#selfOnly : h;
  }

  // ---- Lookups for the router -------------------------------------------------------------------

  /**
   * The node to send a message for agent `name` to: this node when it hosts it, else a hinted node,
   * else the exception entry this node holds, else the HRW owner. Allocation-free once the owner is
   * cached (Map lookups only): it runs per message.
   */
  locate(name: string, sender?: NodeName): NodeName {
    if (this.#hosted.has(name)) return this.self;
    const hinted = this.#hints.get(name);
    if (hinted !== undefined) return sender === undefined ? hinted : this.#tell(sender, name, hinted);
    const held = this.#store.get('name', name)?.get(name);
    if (held !== undefined && held.entry.tombstone !== true && this.#upSet.has(held.entry.node)) {
      return sender === undefined ? held.entry.node : this.#tell(sender, name, held.entry.node);
    }
    return this.ownerOf(name);
  }

  /**
   * Tells `sender` (the node that handed this one a message for `name`) that `name` lives on `node`,
   * and returns `node`. Only for what this node knows and the sender cannot compute (an exception
   * entry it holds, a hint): without it the sender would route every message for the name through
   * here, one extra hop each way for as long as the view holds. A forward computed from this node's
   * own view is not hinted (the views differ for a moment; the next view change settles it). Once a
   * second per (sender, name): messages in flight before the hint lands are forwarded without a
   * post each.
   */
  #tell(sender: NodeName, name: string, node: NodeName): NodeName {
    if (sender === this.self || sender === node) return node;
    const key = `${sender}\n${name}`;
    const now = this.#clock.now();
    const last = this.#told.get(key);
    if (last !== undefined && now - last < TELL_EVERY_MS) return node;
    if (this.#told.size >= this.#cacheMax) this.#told.clear();
    this.#told.set(key, now);
    this.#peers.post(sender, DIRECTORY_WIRE.moved, { name, node });
    return node;
  }

  /**
   * Decides what happens to a message for `name` that reached this node: the one place where a name
   * that exists nowhere is decided. `sender` (the node the message came from) gets a "moved" hint when
   * the message is forwarded, so that its next message goes straight to the right node.
   */
  whereIs(name: string, sender?: NodeName): WhereIs {
    if (this.#hosted.has(name)) return LOCAL;
    const held = this.#store.get('name', name)?.get(name);
    if (held !== undefined && held.entry.tombstone !== true && held.entry.node !== this.self && this.#upSet.has(held.entry.node)) {
      const node = held.entry.node;
      if (sender !== undefined) this.#tell(sender, name, node);
      return { kind: 'forward', node };
    }
    const holders = this.holdersOf(name);
    if (!holders.includes(this.self)) {
      // The sender's view put the name here, this node's does not: pass it to the owner it computes.
      const owner = holders[0] as NodeName;
      return { kind: 'forward', node: owner };
    }
    if (this.#clock.now() - this.#viewChangedAt < this.#settleMs) return PENDING;
    this.stats.unknown++;
    return UNKNOWN;
  }

  /** Whether `node` is up in this node's view (an isolated node, out of placement, included). */
  isAlive(node: NodeName): boolean {
    return this.#upSet.has(node);
  }

  /** Records that `name` lives on `node` (a "moved" hint); the next view change forgets it. */
  hint(name: string, node: NodeName): void {
    if (node === this.self) {
      this.#hints.delete(name);
      return;
    }
    if (this.#hints.size >= this.#cacheMax) this.#hints.clear();
    this.#hints.set(name, node);
  }

  /** Forgets a hint (the hinted node answered that it does not host the name). */
  forget(name: string): void {
    this.#hints.delete(name);
  }

  /** Providers of `capability` on nodes that are up (isolated ones included), from its holders; cached for lookupTtlMs. */
  async providers(capability: string): Promise<readonly Provider[]> {
    const entries = await this.#lookup('cap', capability);
    return this.#cached('cap', capability)?.providers ?? providersOf(entries, this.#upSet);
  }

  /** The cached providers of `capability` (no allocation), or undefined when they must be fetched with providers(). */
  providersCached(capability: string): readonly Provider[] | undefined {
    return this.#cached('cap', capability)?.providers;
  }

  /** Nodes with subscribers of `topic` (this node included when it has some), from its holders; cached for lookupTtlMs. */
  async subscriberNodes(topic: string): Promise<readonly NodeName[]> {
    const entries = await this.#lookup('topic', topic);
    return this.#cached('topic', topic)?.nodes ?? nodesOf(entries, this.#upSet);
  }

  /** The cached nodes with subscribers of `topic`, or undefined when they must be fetched with subscriberNodes(). */
  subscriberNodesCached(topic: string): readonly NodeName[] | undefined {
    return this.#cached('topic', topic)?.nodes;
  }

  /**
   * Other nodes with a provider of `capability` (kind cap) or a subscriber of `topic` (kind topic),
   * synchronously, for the router's per-message path: the cached answer (no allocation), or, when
   * there is none yet, an empty list while the answer is fetched in the background. An answer past
   * its time to live is still returned while the next one is fetched (stale while revalidating: a
   * provider does not vanish for a lookup at every expiry); a view change drops them all. A caller
   * that cannot accept "none yet" awaits providers()/subscriberNodes() instead.
   */
  otherNodes(kind: 'cap' | 'topic', key: string): readonly NodeName[] {
    const c = this.#lookups.get(`${kind}\n${key}`);
    if (c?.others !== undefined) {
      if (this.#clock.now() - c.at > this.#lookupTtlMs) this.#lookup(kind, key).catch(() => undefined);
      return c.others;
    }
    this.#lookup(kind, key).catch(() => undefined); // unreachable holders: asked again at the next miss
    return NONE;
  }

  #cached(kind: EntryKind, key: string): CachedLookup | undefined {
    const c = this.#lookups.get(`${kind}\n${key}`);
    if (c === undefined || c.settled === undefined || this.#clock.now() - c.at > this.#lookupTtlMs) return undefined;
    return c;
  }

  #lookup(kind: EntryKind, key: string): Promise<readonly DirectoryEntry[]> {
    const id = `${kind}\n${key}`;
    const c = this.#lookups.get(id);
    if (c !== undefined && this.#clock.now() - c.at <= this.#lookupTtlMs) return c.entries;
    const holders = this.holdersOf(placementKey(kind, key));
    const asked = holders.map((h) =>
      h === this.self
        ? Promise.resolve([...(this.#store.get(kind, key)?.values() ?? [])].map((x) => x.entry))
        : this.#peers.call<unknown>(h, DIRECTORY_WIRE.lookup, { kind, key }, { timeoutMs: this.#callMs }).then((r) => parseEntries(asObject(r, `${DIRECTORY_WIRE.lookup} answer`), 'entries', `${DIRECTORY_WIRE.lookup} answer`)),
    );
    // The expired answer stands in until this one settles (see otherNodes).
    const stale = c?.others === undefined ? {} : { others: c.others };
    const entry: CachedLookup = {
      ...stale,
      at: this.#clock.now(),
      entries: Promise.allSettled(asked).then((rs) => {
        const ok = rs.filter((r): r is PromiseFulfilledResult<DirectoryEntry[]> => r.status === 'fulfilled');
        if (ok.length === 0) {
          if (this.#lookups.get(id) === entry) this.#lookups.delete(id);
          const reasons = rs.map((r, i) => `${holders[i]}: ${r.status === 'rejected' ? (r.reason instanceof Error ? r.reason.message : String(r.reason)) : ''}`);
          throw new CaxtonError('CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', `no holder of ${placementKey(kind, key)} answered (${reasons.join('; ')})`);
        }
        // Both holders may know different versions during a repair: the newest per agent wins.
        const out = newestPerAgent(ok.map((r) => r.value));
        entry.settled = out;
        entry.providers = providersOf(out, this.#upSet);
        entry.nodes = nodesOf(out, this.#upSet);
        entry.others = entry.nodes.filter((n) => n !== this.self);
        return out;
      }),
    };
    if (this.#lookups.size >= this.#cacheMax) this.#lookups.clear();
    this.#lookups.set(id, entry);
    return entry.entries;
  }

  // ---- Verify -----------------------------------------------------------------------------------

  /** This node's side of `cluster verify`: what it wants each holder to hold, what it holds from each authority. */
  report(deep: boolean): NodeReport {
    const expected = new Map<NodeName, DirectoryEntry[]>();
    for (const e of this.#authoredEntries()) {
      if (e.tombstone === true) continue;
      for (const h of this.holdersOf(placementKey(e.kind, e.key))) {
        let l = expected.get(h);
        if (l === undefined) expected.set(h, (l = []));
        l.push(e);
      }
    }
    const held = new Map<NodeName, DirectoryEntry[]>();
    for (const e of this.#store.entries()) {
      if (e.tombstone === true) continue;
      let l = held.get(e.node);
      if (l === undefined) held.set(e.node, (l = []));
      l.push(e);
    }
    const sets = (m: Map<NodeName, DirectoryEntry[]>) => Object.fromEntries([...m].map(([n, l]) => [n, entrySet(l, deep)]));
    return {
      node: this.self,
      alive: this.#alive.length,
      viewDigest: digestOf(this.#alive),
      hosted: this.#hosted.size,
      ...(deep ? { hostedAgents: [...this.#hosted.values()].map((a) => ({ agent: a.name, epoch: a.epoch })) } : {}),
      expected: sets(expected),
      held: sets(held),
    };
  }

  /**
   * Asks every node of `nodes` (this node included) for its report. @default nodes: the alive view.
   * The node's API passes every up Caxton member: an isolated node is out of the view (it holds and is
   * owner of nothing) but still a member whose data the operator verifies before it rejoins.
   */
  async collect(deep: boolean, nodes: readonly NodeName[] = this.#alive): Promise<Map<NodeName, NodeReport | { error: string }>> {
    const out = new Map<NodeName, NodeReport | { error: string }>();
    await Promise.all(
      nodes.map(async (n) => {
        if (n === this.self) {
          out.set(n, this.report(deep));
          return;
        }
        try {
          const r = await this.#peers.call<unknown>(n, DIRECTORY_WIRE.verify, { deep }, { timeoutMs: this.#callMs });
          out.set(n, parseNodeReport(r, `${DIRECTORY_WIRE.verify} answer from ${n}`));
        } catch (e) {
          out.set(n, { error: e instanceof Error ? e.message : String(e) });
        }
      }),
    );
    if (!out.has(this.self)) out.set(this.self, this.report(deep));
    return out;
  }

  /** `cluster verify [--deep] [--node X]`; `nodes`: who is asked (see collect). */
  async verify(opts: { deep?: boolean; node?: string; nodes?: readonly NodeName[] } = {}): Promise<DriftReport> {
    const nodes = opts.nodes ?? this.#alive;
    if (opts.node !== undefined && !nodes.includes(opts.node) && opts.node !== this.self) {
      throw new CaxtonError('CAXTON_ERR_CLUSTER_UNKNOWN_NODE', `node ${opts.node} is not an alive member`, { node: opts.node });
    }
    const deep = opts.deep === true;
    return computeDrift(await this.collect(deep, nodes), deep, opts.node);
  }

  /** `cluster compare-state`; `nodes`: who is asked (see collect). */
  async compareState(nodes?: readonly NodeName[]): Promise<StateRow[]> {
    return compareState(await this.collect(false, nodes));
  }

  /** Held entries, for tests and the simulation's memory figures. */
  held(): IterableIterator<DirectoryEntry> {
    return this.#store.entries();
  }

  get heldCount(): number {
    return this.#store.size;
  }
}

/** Same key, agent and content (the version aside): rewriting it would only make traffic. */
function sameContent(a: DirectoryEntry, b: DirectoryEntry): boolean {
  return (
    a.id === b.id &&
    a.state === b.state &&
    a.epoch === b.epoch &&
    a.node === b.node &&
    sameList(a.capabilities, b.capabilities) &&
    sameList(a.topics, b.topics)
  );
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  return a.every((x, i) => x === b[i]);
}

/** The newest entry per agent among several holders' answers. */
function newestPerAgent(lists: readonly (readonly DirectoryEntry[])[]): DirectoryEntry[] {
  const m = new Map<string, DirectoryEntry>();
  for (const l of lists) {
    for (const e of l) {
      const cur = m.get(e.agent);
      if (cur === undefined || newer(e, cur)) m.set(e.agent, e);
    }
  }
  return [...m.values()];
}

function providersOf(entries: readonly DirectoryEntry[], alive: ReadonlySet<string>): Provider[] {
  const out: Provider[] = [];
  for (const e of entries) if (e.tombstone !== true && alive.has(e.node)) out.push({ agent: e.agent, node: e.node });
  return out;
}

function nodesOf(entries: readonly DirectoryEntry[], alive: ReadonlySet<string>): NodeName[] {
  const s = new Set<NodeName>();
  for (const e of entries) if (e.tombstone !== true && alive.has(e.node)) s.add(e.node);
  return [...s].sort();
}
