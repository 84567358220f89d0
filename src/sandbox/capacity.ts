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
 * True for the error V8 throws when it cannot reserve or commit a wasm memory (address space or
 * memory exhausted: the trap handler's 10 GiB reservations, `ulimit -v`, a container limit):
 * `RangeError: WebAssembly.Instance(): Out of memory: Cannot allocate Wasm memory for new instance`,
 * or `RangeError: WebAssembly.Memory(): could not allocate memory`.
 */
export function isWasmAllocationFailure(e: unknown): boolean {
  return e instanceof RangeError && /Cannot allocate Wasm memory|could not allocate memory/.test(e.message);
}

/** Which limit a refused agent ran into (CaxtonError details.limit). */
export type CapacityLimit = 'max_agents' | 'address_space' | 'memory';

/** The CAXTON_ERR_NODE_CAPACITY for an agent the pool cannot start, naming the limit and what raises it. */
export function capacityError(agent: string, agents: number, limit: CapacityLimit, capacity: number, reason = ''): CaxtonError {
  const why =
    limit === 'max_agents'
      ? `the pool's limit of ${capacity} agents (maxAgents)`
      : limit === 'address_space'
        ? `the address space of one process while V8's wasm trap handler is on: ${capacity} agents, each memory reserving 10 GiB; run Node with ${TRAP_HANDLER_FLAG} (caxton server start does) to hold more`
        : `the host could not allocate another WebAssembly memory (${reason}): the process's address space or memory is exhausted (ulimit -v, a container limit, or ${TRAP_HANDLER_FLAG} missing)`;
  return new CaxtonError('CAXTON_ERR_NODE_CAPACITY', `agent ${agent} not started: this node is at capacity with ${agents} agents, ${why}`, { agent, agents, limit, ...(Number.isFinite(capacity) ? { capacity } : {}) });
}
