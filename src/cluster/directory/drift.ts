/**
 * `caxton cluster verify` and `cluster compare-state`: each node reports what it is authority for
 * (per holder, what that holder should hold) and what it holds (per authority); comparing the pairs
 * shows drift. Digests compare cheaply; `deep` reports carry the entries, so drift is counted per
 * entry (missing, stale, extra) and agents hosted by more than one node (conflicting owners) are named.
 * Only live entries are compared: tombstones expire on each node on its own clock.
 */
import { createHash } from 'node:crypto';
import { asObject, BadDirectoryBody, str, uint, type DirectoryEntry, type EntryKind } from './entry.js';

/** One entry as verify compares it: identity and version. */
export interface EntryRef {
  readonly kind: EntryKind;
  readonly key: string;
  readonly agent: string;
  readonly epoch: number;
  readonly inc: number;
  readonly ctr: number;
}

export interface EntrySet {
  readonly count: number;
  /** sha256 (hex, first 16 digits) of the sorted entries' identities and versions. */
  readonly digest: string;
  /** With `deep` only. */
  readonly entries?: readonly EntryRef[];
}

/** A node's answer to `dir.verify`. */
export interface NodeReport {
  readonly node: string;
  /** The alive members this node sees, and a digest of their names (nodes that disagree see different clusters). */
  readonly alive: number;
  readonly viewDigest: string;
  /** Agents this node hosts; with `deep`, their names and epochs. */
  readonly hosted: number;
  readonly hostedAgents?: readonly { readonly agent: string; readonly epoch: number }[];
  /** Authority side: holder → the live entries this node wants it to hold. */
  readonly expected: Readonly<Record<string, EntrySet>>;
  /** Holder side: authority → the live entries this node holds from it. */
  readonly held: Readonly<Record<string, EntrySet>>;
}

export type NodeStatus = 'ok' | 'drift' | 'unreachable';

/** One row of `cluster verify`: drift found at this node as a holder, and conflicts it is part of. */
export interface DriftRow {
  readonly node: string;
  readonly status: NodeStatus;
  readonly hosted: number;
  /** Live entries this node holds for others. */
  readonly held: number;
  /** (authority, this node) pairs whose digests differ. */
  readonly mismatched: number;
  /** With deep: entries an authority has that this node lacks, holds in an older version, or holds without the authority having them. */
  readonly missing?: number;
  readonly stale?: number;
  readonly extra?: number;
  /** Agents this node hosts that another node hosts too (deep). */
  readonly conflicting?: number;
  /** Why the node could not be compared. */
  readonly error?: string;
}

export interface DriftReport {
  readonly deep: boolean;
  /** True when every reachable node agrees and none is unreachable. */
  readonly ok: boolean;
  readonly rows: readonly DriftRow[];
  /** With deep: agents hosted by more than one node, with those nodes. */
  readonly conflicts: readonly { readonly agent: string; readonly nodes: readonly string[] }[];
}

/** One row of `cluster compare-state`: what each node sees, to tell partitions apart. */
export interface StateRow {
  readonly node: string;
  readonly status: 'ok' | 'unreachable';
  readonly alive?: number;
  readonly viewDigest?: string;
  /** True when this node sees the same members as the most nodes do. */
  readonly majorityView?: boolean;
  readonly hosted?: number;
  readonly held?: number;
  readonly error?: string;
}

const refId = (e: EntryRef): string => `${e.kind}\n${e.key}\n${e.agent}`;
const refVersion = (e: EntryRef): string => `${e.epoch}.${e.inc}.${e.ctr}`;

export function toRef(e: DirectoryEntry): EntryRef {
  return { kind: e.kind, key: e.key, agent: e.agent, epoch: e.epoch, inc: e.inc, ctr: e.ctr };
}

export function digestOf(items: readonly string[]): string {
  const h = createHash('sha256');
  for (const s of [...items].sort()) h.update(s).update('\n\n');
  return h.digest('hex').slice(0, 16);
}

export function entrySet(entries: readonly DirectoryEntry[], deep: boolean): EntrySet {
  const refs = entries.map(toRef);
  return { count: refs.length, digest: digestOf(refs.map((r) => `${refId(r)}\n${refVersion(r)}`)), ...(deep ? { entries: refs } : {}) };
}

/** Compares the reports of every node (`undefined` report: the node did not answer, with the reason). */
export function computeDrift(reports: ReadonlyMap<string, NodeReport | { error: string }>, deep: boolean, only?: string): DriftReport {
  const ok = new Map<string, NodeReport>();
  for (const [n, r] of reports) if (!('error' in r)) ok.set(n, r);

  const conflicts: { agent: string; nodes: string[] }[] = [];
  const conflictCount = new Map<string, number>();
  if (deep) {
    const hosts = new Map<string, string[]>();
    for (const r of ok.values()) for (const a of r.hostedAgents ?? []) hosts.set(a.agent, [...(hosts.get(a.agent) ?? []), r.node]);
    for (const [agent, nodes] of [...hosts].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (nodes.length < 2) continue;
      if (only !== undefined && !nodes.includes(only)) continue;
      nodes.sort();
      conflicts.push({ agent, nodes });
      for (const n of nodes) conflictCount.set(n, (conflictCount.get(n) ?? 0) + 1);
    }
  }

  const rows: DriftRow[] = [];
  for (const [node, r] of [...reports].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (only !== undefined && node !== only && !(('expected' in r) && only in r.expected) && !(('held' in r) && only in r.held)) continue;
    if ('error' in r) {
      rows.push({ node, status: 'unreachable', hosted: 0, held: 0, mismatched: 0, error: r.error });
      continue;
    }
    let mismatched = 0;
    let missing = 0;
    let stale = 0;
    let extra = 0;
    let held = 0;
    for (const s of Object.values(r.held)) held += s.count;
    // Every reachable authority's wish for this holder, against what this holder has from it.
    for (const a of ok.values()) {
      if (only !== undefined && a.node !== only && node !== only) continue;
      const want = a.expected[node];
      const have = r.held[a.node];
      const wantDigest = want?.digest ?? EMPTY_DIGEST;
      const haveDigest = have?.digest ?? EMPTY_DIGEST;
      if (wantDigest === haveDigest) continue;
      mismatched++;
      if (!deep) continue;
      const haveById = new Map((have?.entries ?? []).map((e) => [refId(e), e]));
      for (const w of want?.entries ?? []) {
        const h = haveById.get(refId(w));
        if (h === undefined) missing++;
        else if (refVersion(h) !== refVersion(w)) stale++;
        haveById.delete(refId(w));
      }
      extra += haveById.size;
    }
    const conflicting = conflictCount.get(node) ?? 0;
    const drift = mismatched > 0 || conflicting > 0;
    rows.push({
      node,
      status: drift ? 'drift' : 'ok',
      hosted: r.hosted,
      held,
      mismatched,
      ...(deep ? { missing, stale, extra, conflicting } : {}),
    });
  }
  return { deep, ok: rows.every((r) => r.status === 'ok'), rows, conflicts };
}

export const EMPTY_DIGEST = digestOf([]);

/** What each node sees (compare-state): the members, and whether that is the view most nodes share. */
export function compareState(reports: ReadonlyMap<string, NodeReport | { error: string }>): StateRow[] {
  const votes = new Map<string, number>();
  for (const r of reports.values()) if (!('error' in r)) votes.set(r.viewDigest, (votes.get(r.viewDigest) ?? 0) + 1);
  let best = '';
  let bestVotes = 0;
  for (const [d, v] of votes) if (v > bestVotes || (v === bestVotes && d < best)) [best, bestVotes] = [d, v];
  return [...reports]
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([node, r]): StateRow => {
      if ('error' in r) return { node, status: 'unreachable', error: r.error };
      let held = 0;
      for (const s of Object.values(r.held)) held += s.count;
      return { node, status: 'ok', alive: r.alive, viewDigest: r.viewDigest, majorityView: r.viewDigest === best, hosted: r.hosted, held };
    });
}

/** Validates a node's verify answer (it comes from a peer). */
export function parseNodeReport(v: unknown, where: string): NodeReport {
  const o = asObject(v, where);
  const sets = (field: string): Record<string, EntrySet> => {
    const m = asObject(o[field], `${where}.${field}`);
    const out: Record<string, EntrySet> = {};
    for (const [k, s] of Object.entries(m)) {
      const so = asObject(s, `${where}.${field}.${k}`);
      const entries = so['entries'];
      let refs: EntryRef[] | undefined;
      if (entries !== undefined) {
        if (!Array.isArray(entries)) throw new BadDirectoryBody(`${where}.${field}.${k}.entries must be an array`);
        refs = entries.map((e, i) => {
          const w = `${where}.${field}.${k}.entries[${i}]`;
          const eo = asObject(e, w);
          const kind = eo['kind'];
          if (kind !== 'name' && kind !== 'cap' && kind !== 'topic') throw new BadDirectoryBody(`${w}.kind must be "name", "cap" or "topic"`);
          return { kind, key: str(eo, 'key', w), agent: str(eo, 'agent', w), epoch: uint(eo, 'epoch', w), inc: uint(eo, 'inc', w), ctr: uint(eo, 'ctr', w) };
        });
      }
      out[k] = { count: uint(so, 'count', `${where}.${field}.${k}`), digest: str(so, 'digest', `${where}.${field}.${k}`), ...(refs === undefined ? {} : { entries: refs }) };
    }
    return out;
  };
  const hostedAgents = o['hostedAgents'];
  let agents: { agent: string; epoch: number }[] | undefined;
  if (hostedAgents !== undefined) {
    if (!Array.isArray(hostedAgents)) throw new BadDirectoryBody(`${where}.hostedAgents must be an array`);
    agents = hostedAgents.map((a, i) => {
      const ao = asObject(a, `${where}.hostedAgents[${i}]`);
      return { agent: str(ao, 'agent', `${where}.hostedAgents[${i}]`), epoch: uint(ao, 'epoch', `${where}.hostedAgents[${i}]`) };
    });
  }
  return {
    node: str(o, 'node', where),
    alive: uint(o, 'alive', where),
    viewDigest: str(o, 'viewDigest', where),
    hosted: uint(o, 'hosted', where),
    ...(agents === undefined ? {} : { hostedAgents: agents }),
    expected: sets('expected'),
    held: sets('held'),
  };
}
