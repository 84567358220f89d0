/**
 * How many agents one process can hold, and how to tell when it is full.
 *
 * Every agent owns one WebAssembly memory. With V8's default trap-handler bounds checks each memory
 * reserves 10 GiB of virtual address space whatever its maximum, so one process runs out of address
 * space at about 13,050 memories (measured on Node 20.20: 13,082 bare memories on the main thread;
 * 12,603 echo agents over 2 workers), with only ~125 MB resident. `--disable-wasm-trap-handler` makes
 * V8 reserve only each memory's declared maximum (our cap, 64 MiB by default) and insert explicit
 * bounds checks instead (docs/sandbox.md, "Capacity" has the measured cost).
 *
 * The setting is process-wide and fixed at start: it is a Node option, not a V8 flag, so
 * `v8.setFlagsFromString` rejects it ("unrecognized flag"), and V8's `--wasm-enforce-bounds-checks`
 * keeps the 10 GiB reservation (13,087 memories). Worker threads share the process's setting.
 */

import { readFileSync } from 'node:fs';
import { CaxtonError } from '../errors.js';

export const TRAP_HANDLER_FLAG = '--disable-wasm-trap-handler';

/**
 * Agents one process is allowed while the trap handler is on: below the measured ceiling (12,603 to
 * 13,082), leaving room for upgrades and canaries, which hold a second instance for a while, and for
 * other reservations (each worker thread's heap, code space).
 */
export const TRAP_HANDLER_AGENT_CEILING = 12_000;

/** True when this process runs with V8's wasm trap handler off (flag on the command line or in NODE_OPTIONS). */
export function trapHandlerDisabled(execArgv: readonly string[] = process.execArgv, nodeOptions: string | undefined = process.env['NODE_OPTIONS']): boolean {
  if (execArgv.includes(TRAP_HANDLER_FLAG)) return true;
  return nodeOptions !== undefined && nodeOptions.split(/\s+/).includes(TRAP_HANDLER_FLAG);
}

/** The most agents the address space allows in this process: TRAP_HANDLER_AGENT_CEILING, or unlimited. */
export function addressSpaceCeiling(disabled = trapHandlerDisabled()): number {
  return disabled ? Infinity : TRAP_HANDLER_AGENT_CEILING;
}

/**
 * Memory mappings one agent adds to the process: its wasm memory is two (the committed pages and the
 * reserved rest), plus its share of the worker's heap pages. Measured with echo agents over 2
 * workers: 2.045-2.054 per agent at 5,000-20,000 agents, with or without the trap handler.
 */
export const MAPS_PER_AGENT = 2.1;
/** Of vm.max_map_count, what agents may use; the rest is for the process's other mappings. */
const MAP_SHARE = 0.9;

/** Linux's per-process limit on memory mappings, or undefined elsewhere (or when unreadable). */
export function maxMapCount(): number | undefined {
  try {
    const n = Number(readFileSync('/proc/sys/vm/max_map_count', 'utf8').trim());
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The most agents vm.max_map_count allows: 28,084 with Linux's default of 65,530. Past it mmap fails,
 * and when the failed mapping is one of V8's heap pages rather than a wasm memory the whole process
 * dies ("JavaScript heap out of memory" at a few hundred MB: measured at ~31,000 agents), so the pool
 * never gets there.
 */
export function mapCountCeiling(limit = maxMapCount()): number {
  return limit === undefined ? Infinity : Math.floor((limit * MAP_SHARE) / MAPS_PER_AGENT);
}

/** The process's ceiling and which limit sets it. */
export function processCeiling(): { agents: number; limit: 'address_space' | 'map_count' } {
  const space = addressSpaceCeiling();
  const maps = mapCountCeiling();
  return maps < space ? { agents: maps, limit: 'map_count' } : { agents: space, limit: 'address_space' };
}

/**
 * True for the error V8 throws when it cannot reserve or commit a wasm memory (address space or
 * memory exhausted: the trap handler's 10 GiB reservations, `ulimit -v`, a container limit):
 * `RangeError: WebAssembly.Instance(): Out of memory: Cannot allocate Wasm memory for new instance`,
 * or `RangeError: WebAssembly.Memory(): could not allocate memory`.
 */
export function isWasmAllocationFailure(e: unknown): boolean {
  return e instanceof RangeError && /Cannot allocate Wasm memory|could not allocate memory/.test(e.message);
}

/** Which limit a refused agent ran into (CaxtonError details.limit). */
export type CapacityLimit = 'max_agents' | 'address_space' | 'map_count' | 'memory';

/** The CAXTON_ERR_NODE_CAPACITY for an agent the pool cannot start, naming the limit and what raises it. */
export function capacityError(agent: string, agents: number, limit: CapacityLimit, capacity: number, reason = ''): CaxtonError {
  const why =
    limit === 'max_agents'
      ? `the pool's limit of ${capacity} agents (maxAgents)`
      : limit === 'address_space'
        ? `the address space of one process while V8's wasm trap handler is on: ${capacity} agents, each memory reserving 10 GiB; run Node with ${TRAP_HANDLER_FLAG} (caxton server start does) to hold more`
        : limit === 'map_count'
          ? `what vm.max_map_count (${maxMapCount() ?? '?'}) allows: ${capacity} agents at ${MAPS_PER_AGENT} memory mappings each; raise it (sysctl -w vm.max_map_count=262144 holds ~112,000) to hold more`
          : `the host could not allocate another WebAssembly memory (${reason}): the process's address space or memory is exhausted (ulimit -v, a container limit, or ${TRAP_HANDLER_FLAG} missing)`;
  return new CaxtonError('CAXTON_ERR_NODE_CAPACITY', `agent ${agent} not started: this node is at capacity with ${agents} agents, ${why}`, { agent, agents, limit, ...(Number.isFinite(capacity) ? { capacity } : {}) });
}
