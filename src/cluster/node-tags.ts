/**
 * A Caxton node's Serf tags: what `serf members` and `caxton cluster members` show about it. They
 * travel in memberlist node meta, which is at most 512 bytes encoded (META_MAX_SIZE), so every value is
 * short: numbers without decimals, the capabilities as an 8-hex-digit digest.
 *
 * | tag      | value                                                                  | example          |
 * |----------|------------------------------------------------------------------------|------------------|
 * | `role`   | always `caxton`                                                        | `caxton`         |
 * | `version`| the Caxton version                                                     | `0.3.0`          |
 * | `agents` | deployed agents                                                        | `12`             |
 * | `api`    | the REST API's host:port (once it listens)                             | `10.0.0.1:8080`  |
 * | `cpu`    | host CPU busy, percent of all cores, whole number (as `caxton resources`) | `37`          |
 * | `mem`    | the node process' resident memory (RSS), whole MiB                     | `412`            |
 * | `caps`   | first 8 hex digits of sha256 of the sorted capability names, one per line | `9f86d081`    |
 * | `caps_n` | how many distinct capabilities the node's agents registered            | `3`              |
 */
import { createHash } from 'node:crypto';

const MiB = 1024 * 1024;

export interface NodeTagInputs {
  readonly version: string;
  readonly agents: number;
  /** host:port of the REST API; absent before it listens, or without an API. */
  readonly api?: string;
  /** Host CPU busy, 0..100. */
  readonly cpuPercent: number;
  readonly rssBytes: number;
  /** Capability names the node's agents registered (any order, duplicates allowed). */
  readonly capabilities: readonly string[];
}

/** Digest of a set of capability names: equal sets give equal digests, whatever the order. */
export function capabilitiesDigest(names: readonly string[]): string {
  const sorted = [...new Set(names)].sort();
  return createHash('sha256').update(sorted.join('\n')).digest('hex').slice(0, 8);
}

export function nodeTags(i: NodeTagInputs): Record<string, string> {
  const caps = new Set(i.capabilities);
  return {
    role: 'caxton',
    version: i.version,
    agents: String(i.agents),
    ...(i.api === undefined ? {} : { api: i.api }),
    cpu: String(Math.round(Math.min(100, Math.max(0, i.cpuPercent)))),
    mem: String(Math.round(Math.max(0, i.rssBytes) / MiB)),
    caps: capabilitiesDigest([...caps]),
    caps_n: String(caps.size),
  };
}

/** CPU moves by at least this many points before the tags are re-announced. */
export const CPU_CHANGE_POINTS = 5;
/** Memory moves by at least this fraction of the announced value before the tags are re-announced. */
export const MEM_CHANGE_RATIO = 0.1;

/**
 * Whether `next` is worth announcing over `prev`. Every announcement is a memberlist alive message
 * with a new incarnation, gossiped to the whole cluster (and one more push/pull difference), so load
 * figures that merely wobble are not sent: CPU must move by CPU_CHANGE_POINTS, memory by
 * MEM_CHANGE_RATIO; any other tag (agent count, capabilities digest, API address, version) counts as
 * soon as it differs.
 */
export function tagsChanged(prev: Readonly<Record<string, string>>, next: Readonly<Record<string, string>>): boolean {
  const keys = new Set([...Object.keys(prev), ...Object.keys(next)]);
  for (const k of keys) {
    const a = prev[k];
    const b = next[k];
    if (a === b) continue;
    if (a === undefined || b === undefined) return true;
    if (k === 'cpu') {
      if (Math.abs(Number(a) - Number(b)) >= CPU_CHANGE_POINTS) return true;
    } else if (k === 'mem') {
      const before = Number(a);
      if (Math.abs(Number(b) - before) >= Math.max(1, before * MEM_CHANGE_RATIO)) return true;
    } else {
      return true;
    }
  }
  return false;
}

/** A member's load tags as numbers: null when absent or not a number (a serf node, an older Caxton). */
export function memberLoad(tags: Readonly<Record<string, string>>): { cpuPercent: number | null; rssBytes: number | null; capabilities: string | null } {
  const num = (v: string | undefined): number | null => (v !== undefined && /^\d{1,15}$/.test(v) ? Number(v) : null);
  const mem = num(tags['mem']);
  return { cpuPercent: num(tags['cpu']), rssBytes: mem === null ? null : mem * MiB, capabilities: tags['caps'] ?? null };
}
