/**
 * What a node holds as one of the top K holders of keys: for each key, at most one entry per agent,
 * the newest by `newer`. Tombstones are kept until they expire so that an older live entry that
 * arrives late (a partition heals, a post overtakes another through a third node) cannot revive a
 * removed agent.
 *
 * Anti-entropy rounds prune: an authority's round lists every entry it wants this node to hold; when
 * the round is complete, entries of that authority not seen in it and not newer than the round's
 * snapshot are gone at the authority (a lost tombstone, a key this node no longer holds) and are dropped.
 */
import { newer, type DirectoryEntry, type EntryKind } from './entry.js';

/** One held entry and the holder's bookkeeping about it. */
export interface Held {
  entry: DirectoryEntry;
  /** The authority's anti-entropy round that last listed it (0: only seen in an update). */
  round: number;
  /** For tombstones: when this holder forgets it, ms on the directory's clock. */
  expiresAt: number;
}

export type MergeOutcome = 'added' | 'replaced' | 'older' | 'same';

interface Round {
  round: number;
  chunks: number;
}

export class HolderStore {
  /** kind → key → agent → held. */
  readonly #maps: Record<EntryKind, Map<string, Map<string, Held>>> = { name: new Map(), cap: new Map(), topic: new Map() };
  /** The round being received from each authority. */
  readonly #rounds = new Map<string, Round>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(kind: EntryKind, key: string): ReadonlyMap<string, Held> | undefined {
    return this.#maps[kind].get(key);
  }

  /** Keeps `e` if it is newer than what is held for its key and agent. */
  merge(e: DirectoryEntry, round: number, tombstoneTtlMs: number, now: number): MergeOutcome {
    const byKey = this.#maps[e.kind];
    let agents = byKey.get(e.key);
    if (agents === undefined) {
      agents = new Map();
      byKey.set(e.key, agents);
    }
    const held = agents.get(e.agent);
    const expiresAt = e.tombstone === true ? now + tombstoneTtlMs : Infinity;
    if (held === undefined) {
      agents.set(e.agent, { entry: e, round, expiresAt });
      this.#size++;
      return 'added';
    }
    if (newer(e, held.entry)) {
      held.entry = e;
      held.round = round;
      held.expiresAt = expiresAt;
      return 'replaced';
    }
    if (!newer(held.entry, e)) {
      // The same write again (a re-announcement): it keeps its tombstone expiry, and is marked seen.
      if (round !== 0) held.round = round;
      return 'same';
    }
    return 'older';
  }

  /** Starts or continues `authority`'s round; true when this chunk completes it (all `chunks` seen). */
  roundChunk(authority: string, round: number, chunks: number): boolean {
    let r = this.#rounds.get(authority);
    if (r === undefined || r.round !== round) {
      r = { round, chunks: 0 };
      this.#rounds.set(authority, r);
    }
    r.chunks++;
    if (r.chunks < chunks) return false;
    this.#rounds.delete(authority);
    return r.chunks === chunks;
  }

  /**
   * Drops `authority`'s entries not seen in `round` whose version is not past the round's snapshot
   * (inc, ctr): the authority no longer has them for this node. Returns how many were dropped.
   */
  prune(authority: string, round: number, inc: number, ctr: number): number {
    return this.#drop((h) => h.entry.node === authority && h.round !== round && (h.entry.inc < inc || (h.entry.inc === inc && h.entry.ctr <= ctr)));
  }

  /** Drops expired tombstones and entries whose authority `gone` says is gone for good. */
  sweep(now: number, gone: (node: string) => boolean): number {
    return this.#drop((h) => h.expiresAt <= now || gone(h.entry.node));
  }

  /** Every held entry (for verify and tests). */
  *entries(): IterableIterator<DirectoryEntry> {
    for (const byKey of Object.values(this.#maps)) for (const agents of byKey.values()) for (const h of agents.values()) yield h.entry;
  }

  #drop(test: (h: Held) => boolean): number {
    let n = 0;
    for (const byKey of Object.values(this.#maps)) {
      for (const [key, agents] of byKey) {
        for (const [agent, h] of agents) {
          if (test(h)) {
            agents.delete(agent);
            n++;
          }
        }
        if (agents.size === 0) byKey.delete(key);
      }
    }
    this.#size -= n;
    return n;
  }
}
