/**
 * The `caxton.*` imports (docs/agent-abi.md §3). Each function checks its pointer ranges against the
 * agent's memory, turns bytes into host values, and hands the work to the agent's services. None of
 * them throws into the guest: every failure is an error code, and host-side faults are logged.
 */
import { AbiLimits, CAPABILITY_PATTERN, HostError, TOPIC_PATTERN } from './abi.js';
import type { GuestMemory } from './guest-memory.js';
import { REAL_HOST_ENV, type HostEnv } from './host-env.js';
import { outgoingSender, prepareOutgoing, type OutgoingMessage, type PrepareOptions } from './outgoing.js';

/** What the host does for one agent. Implemented by the worker runtime; must not block for long. */
export interface AgentServices {
  /** The agent's name: its identity as a sender and its key-value namespace. */
  readonly name: string;
  /** Largest message the agent may send, in bytes. */
  readonly maxMessageBytes: number;
  /** Takes a checked, completed message. Returns OK or a HostError code (for example BACKPRESSURE). */
  send(json: string, msg: OutgoingMessage): number;
  log(level: number, text: string): void;
  kvGet(key: Uint8Array): Uint8Array | undefined;
  /** Stores a value; returns OK, or QUOTA when the agent's key-value quota would be exceeded. */
  kvSet(key: Uint8Array, value: Uint8Array): number;
  kvDelete(key: Uint8Array): void;
  /** Returns a timer id (> 0) or a HostError code. */
  timerSet(delayMs: number, json: string): number;
  timerCancel(id: number): number;
  /** Registers the agent as a provider of a capability. Returns OK or a HostError code. */
  registerCapability(capability: string): number;
  /** Subscribes (or unsubscribes) the agent to a topic. Returns OK or a HostError code. */
  subscribe(topic: string, on: boolean): number;
  /** Reports a host-side fault (storage error, ...) that the guest only sees as an error code. */
  hostFault(what: string, error: unknown): void;
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const utf8Lenient = new TextDecoder('utf-8', { fatal: false });

/** The rewriter's fuel charge export (FUEL_CHARGE_EXPORT): subtracts units, returns what is left. */
export type FuelCharge = (units: number) => number;

/**
 * Charges host work to the calling agent's fuel, so that a guest looping over host calls runs out
 * like one looping over its own code. The guest stores its counter to the fuel global before every
 * host call and reloads it after, so a charge here is seen by the guest's next check. The charge
 * function is attached once the instance exists (host calls from a start function are not charged;
 * the start function's own loop is).
 */
export class HostMeter {
  fuel: FuelCharge | undefined;

  /** Throws (ending the call as fuel_exhausted) once the budget is spent. */
  charge(units: number): void {
    const f = this.fuel;
    if (f === undefined) return;
    if (f(units) < 0) throw new Error('fuel exhausted in a host call');
  }
}

/**
 * Host call costs in fuel units (≈ operators; a unit is on the order of a nanosecond of work): a base
 * per call plus one per byte moved. Storage calls are dearer: a SQLite read or commit costs micro-
 * seconds.
 */
export const HostCost = {
  call: 100,
  message: 1000,
  log: 500,
  storage: 5000,
} as const;

/** prepareOutgoing's options for a timer message, made once (the send path allocates none). */
const TIMER: PrepareOptions = { timer: true };

export function createHostImports(mem: GuestMemory, svc: AgentServices, meter: HostMeter = new HostMeter(), env: HostEnv = REAL_HOST_ENV): WebAssembly.Imports {
  const { clock, random } = env;
  // What every message of this agent needs to know about it, worked out once.
  const self = outgoingSender(svc.name);

  /** Decodes a guest-supplied message; returns a HostError code when it cannot be sent. */
  function readMessage(ptr: number, len: number): string | number {
    if (!mem.inBounds(ptr, len)) return HostError.BOUNDS;
    if (len > svc.maxMessageBytes) return HostError.TOO_LARGE;
    meter.charge(len); // bytes are charged only once they are known to be real work
    const start = ptr >>> 0;
    try {
      return utf8Strict.decode(mem.bytes().subarray(start, start + len));
    } catch {
      return HostError.INVALID_MESSAGE;
    }
  }

  /** Copies a key out of guest memory, or returns an error code. */
  function readKey(ptr: number, len: number): Uint8Array | number {
    if (!mem.inBounds(ptr, len)) return HostError.BOUNDS;
    if (len === 0) return HostError.INVALID_ARGUMENT;
    if (len > AbiLimits.maxKeyBytes) return HostError.TOO_LARGE;
    const start = ptr >>> 0;
    // A copy: the store may keep the key beyond this call (and the guest may grow memory).
    return mem.bytes().slice(start, start + len);
  }

  /** Reads a capability or topic name, or returns an error code. */
  function readName(ptr: number, len: number, max: number, pattern: RegExp): string | number {
    if (!mem.inBounds(ptr, len)) return HostError.BOUNDS;
    if (len > max) return HostError.TOO_LARGE;
    const start = ptr >>> 0;
    let name: string;
    try {
      name = utf8Strict.decode(mem.bytes().subarray(start, start + len));
    } catch {
      return HostError.INVALID_ARGUMENT;
    }
    return pattern.test(name) ? name : HostError.INVALID_ARGUMENT;
  }

  const caxton = {
    send(ptr: number, len: number): number {
      meter.charge(HostCost.message);
      const text = readMessage(ptr, len);
      if (typeof text === 'number') return text;
      const prepared = prepareOutgoing(self, text);
      if ('error' in prepared) {
        svc.log(3, `send refused: ${prepared.reason}`);
        return prepared.error;
      }
      return svc.send(prepared.json, prepared.msg);
    },

    log(level: number, ptr: number, len: number): void {
      meter.charge(HostCost.log);
      if (!mem.inBounds(ptr, len)) return;
      const n = Math.min(len, AbiLimits.maxLogBytes);
      meter.charge(n);
      const start = ptr >>> 0;
      const text = utf8Lenient.decode(mem.bytes().subarray(start, start + n));
      svc.log(level >= 0 && level <= 4 ? level : 2, len > n ? `${text}…` : text);
    },

    time_now_us(): bigint {
      meter.charge(HostCost.call);
      return clock.nowUs();
    },

    time_monotonic_us(): bigint {
      meter.charge(HostCost.call);
      return clock.monotonicUs();
    },

    random_fill(ptr: number, len: number): number {
      meter.charge(HostCost.call);
      if (!mem.inBounds(ptr, len)) return HostError.BOUNDS;
      if (len > AbiLimits.maxRandomBytes) return HostError.TOO_LARGE;
      meter.charge(len);
      if (len === 0) return HostError.OK;
      const start = ptr >>> 0;
      random.fill(mem.bytes().subarray(start, start + len));
      return HostError.OK;
    },

    timer_set(delayMs: number, ptr: number, len: number): number {
      meter.charge(HostCost.message);
      if (delayMs < 0 || delayMs > AbiLimits.maxTimerDelayMs) return HostError.INVALID_ARGUMENT;
      const text = readMessage(ptr, len);
      if (typeof text === 'number') return text;
      // A timer message always goes to the agent itself; otherwise checked as a send is, in one pass.
      const prepared = prepareOutgoing(self, text, TIMER);
      if ('error' in prepared) {
        svc.log(3, `timer_set refused: ${prepared.reason}`);
        return prepared.error;
      }
      return svc.timerSet(delayMs, prepared.json);
    },

    timer_cancel(id: number): number {
      meter.charge(HostCost.call);
      return svc.timerCancel(id);
    },

    kv_get(keyPtr: number, keyLen: number, bufPtr: number, bufCap: number): number {
      meter.charge(HostCost.storage);
      const key = readKey(keyPtr, keyLen);
      if (typeof key === 'number') return key;
      if (!mem.inBounds(bufPtr, bufCap)) return HostError.BOUNDS;
      meter.charge(Math.min(bufCap, AbiLimits.maxValueBytes));
      let value: Uint8Array | undefined;
      try {
        value = svc.kvGet(key);
      } catch (e) {
        svc.hostFault('kv_get', e);
        return HostError.UNAVAILABLE;
      }
      if (value === undefined) return HostError.NOT_FOUND;
      const n = Math.min(value.length, bufCap >>> 0);
      if (n > 0) mem.bytes().set(n === value.length ? value : value.subarray(0, n), bufPtr >>> 0);
      return value.length;
    },

    kv_set(keyPtr: number, keyLen: number, valPtr: number, valLen: number): number {
      meter.charge(HostCost.storage);
      const key = readKey(keyPtr, keyLen);
      if (typeof key === 'number') return key;
      if (!mem.inBounds(valPtr, valLen)) return HostError.BOUNDS;
      if (valLen > AbiLimits.maxValueBytes) return HostError.TOO_LARGE;
      meter.charge(valLen);
      const start = valPtr >>> 0;
      try {
        // SQLite copies bound blobs, so a view of guest memory is enough here.
        return svc.kvSet(key, mem.bytes().subarray(start, start + valLen));
      } catch (e) {
        svc.hostFault('kv_set', e);
        return HostError.UNAVAILABLE;
      }
    },

    capability_register(ptr: number, len: number): number {
      meter.charge(HostCost.call);
      const name = readName(ptr, len, 128, CAPABILITY_PATTERN);
      return typeof name === 'number' ? name : svc.registerCapability(name);
    },

    topic_subscribe(ptr: number, len: number): number {
      meter.charge(HostCost.call);
      const topic = readName(ptr, len, 256, TOPIC_PATTERN);
      return typeof topic === 'number' ? topic : svc.subscribe(topic, true);
    },

    topic_unsubscribe(ptr: number, len: number): number {
      meter.charge(HostCost.call);
      const topic = readName(ptr, len, 256, TOPIC_PATTERN);
      return typeof topic === 'number' ? topic : svc.subscribe(topic, false);
    },

    kv_delete(keyPtr: number, keyLen: number): number {
      meter.charge(HostCost.storage);
      const key = readKey(keyPtr, keyLen);
      if (typeof key === 'number') return key;
      try {
        svc.kvDelete(key);
      } catch (e) {
        svc.hostFault('kv_delete', e);
        return HostError.UNAVAILABLE;
      }
      return HostError.OK;
    },
  };
  return { caxton };
}
