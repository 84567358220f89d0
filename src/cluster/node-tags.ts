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
 * | `isolated` | `1` while the node is out of placement (`caxton cluster isolate`, or leaving); absent otherwise | `1` |
 * | `mcp`    | the node's MCP servers (docs/tools.md), sorted, comma-separated, at most MCP_TAG_MAX_CHARS; absent without | `everything,memory` |
 *
 * A serf agent carries and shows tags it does not know, and ignores them: `isolated` means nothing to
 * it, while every Caxton node leaves the node out of placement (src/agents/ownership.ts).
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
  /** Out of placement (isolated by the operator, or leaving). @default false */
  readonly isolated?: boolean;
  /** The names of the node's MCP servers, so that other nodes route mcp:<name> here. @default none */
  readonly mcpServers?: readonly string[];
}

/**
 * Characters of server names the `mcp` tag carries at most: the whole node meta is 512 bytes. Names
 * beyond are left out (mcpTag says which): other nodes cannot route to those servers.
 */
export const MCP_TAG_MAX_CHARS = 160;

/** The `mcp` tag's value, and the server names that did not fit in it. */
export function mcpTag(names: readonly string[]): { value: string; left: string[] } {
  const sorted = [...new Set(names)].sort();
  const kept: string[] = [];
  const left: string[] = [];
  let size = 0;
  for (const n of sorted) {
    const add = (kept.length === 0 ? 0 : 1) + n.length;
    if (size + add <= MCP_TAG_MAX_CHARS) {
      kept.push(n);
      size += add;
    } else left.push(n);
  }
  return { value: kept.join(','), left };
}

/** The MCP servers a member's tags announce. */
export function mcpServersOf(tags: Readonly<Record<string, string>>): readonly string[] {
  const v = tags['mcp'];
  return v === undefined || v === '' ? [] : v.split(',');
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
    ...(i.isolated === true ? { isolated: '1' } : {}),
    ...(i.mcpServers === undefined || i.mcpServers.length === 0 ? {} : { mcp: mcpTag(i.mcpServers).value }),
  };
}

/** CPU moves by at least this many points before a load change is worth announcing. */
export const CPU_CHANGE_POINTS = 10;
/** Memory moves by at least this fraction of the announced value before a load change is worth announcing. */
export const MEM_CHANGE_RATIO = 0.25;
/** Load-only changes are announced at most this often, ms. */
export const LOAD_ANNOUNCE_MIN_MS = 60_000;

/**
 * How `next` differs from the announced `prev`: `identity` when a tag other than the load figures
 * differs (agent count, capabilities digest, API address, version, a tag appearing or going), `load`
 * when only CPU (by CPU_CHANGE_POINTS) or memory (by MEM_CHANGE_RATIO) moved, `none` otherwise.
 *
 * Every announcement is a memberlist alive message with a new incarnation, gossiped
 * retransmit_mult × log10(N + 1) times by every node. Measured with 10 nodes on a busy 2-core host,
 * announcing CPU moves of 5 points every 10 s more than doubled the cluster's gossip packets (2,919
 * against serf's 1,314 in 30 s), so identity changes go out at once and load changes at most once
 * per LOAD_ANNOUNCE_MIN_MS (the owner's rate limit).
 */
export function tagsChanged(prev: Readonly<Record<string, string>>, next: Readonly<Record<string, string>>): 'identity' | 'load' | 'none' {
  const keys = new Set([...Object.keys(prev), ...Object.keys(next)]);
  let load = false;
  for (const k of keys) {
    const a = prev[k];
    const b = next[k];
    if (a === b) continue;
    if (a === undefined || b === undefined) return 'identity';
    if (k === 'cpu') {
      if (Math.abs(Number(a) - Number(b)) >= CPU_CHANGE_POINTS) load = true;
    } else if (k === 'mem') {
      const before = Number(a);
      if (Math.abs(Number(b) - before) >= Math.max(1, before * MEM_CHANGE_RATIO)) load = true;
    } else {
      return 'identity';
    }
  }
  return load ? 'load' : 'none';
}

/** A member's load tags as numbers: null when absent or not a number (a serf node, an older Caxton). */
export function memberLoad(tags: Readonly<Record<string, string>>): { cpuPercent: number | null; rssBytes: number | null; capabilities: string | null } {
  const num = (v: string | undefined): number | null => (v !== undefined && /^\d{1,15}$/.test(v) ? Number(v) : null);
  const mem = num(tags['mem']);
  return { cpuPercent: num(tags['cpu']), rssBytes: mem === null ? null : mem * MiB, capabilities: tags['caps'] ?? null };
}
