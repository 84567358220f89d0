/**
 * One running agent: a WebAssembly instance of an admitted module, with its host imports, its fuel
 * counter and the calls of the ABI (init, handle_message, shutdown). It runs on whatever thread
 * creates it; the worker runtime owns many of them.
 *
 * After any fault the instance must be thrown away (docs/agent-abi.md §6): its heap may be half
 * updated. The owner creates a new AgentInstance from the same compiled module.
 */
import { ABI_VERSION, Export, FUEL_CHARGE_EXPORT } from './abi.js';
import { isWasmAllocationFailure } from './capacity.js';
import { GuestMemory } from './guest-memory.js';
import { createHostImports, HostMeter, type AgentServices, type FuelCharge } from './host-functions.js';
import { REAL_HOST_ENV, type HostEnv } from './host-env.js';

/** `no_memory`: the host could not allocate the agent's linear memory (the process is at capacity, ./capacity.ts). */
export type FaultKind = 'trap' | 'fuel_exhausted' | 'stack_overflow' | 'alloc_failed' | 'bad_abi' | 'init_failed' | 'no_memory';
export type CallPhase = 'start' | 'init' | 'message' | 'shutdown';

export class AgentFault extends Error {
  readonly kind: FaultKind;
  readonly phase: CallPhase;
  constructor(kind: FaultKind, phase: CallPhase, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AgentFault';
    this.kind = kind;
    this.phase = phase;
  }
}

interface AbiExports {
  alloc: (len: number) => number;
  handle: (ptr: number, len: number) => number;
  init: ((ptr: number, len: number) => number) | undefined;
  shutdown: (() => number) | undefined;
  fuel: FuelCharge;
}

// One encode buffer per thread: a message is written here, then copied into the guest in one `set`.
let scratch = new Uint8Array(64 * 1024);
const encoder = new TextEncoder();

function encode(text: string): number {
  // UTF-8 needs at most 3 bytes per UTF-16 code unit.
  if (scratch.length < text.length * 3) scratch = new Uint8Array(Math.max(text.length * 3, scratch.length * 2));
  return encoder.encodeInto(text, scratch).written;
}

export class AgentInstance {
  readonly #mem = new GuestMemory();
  readonly #meter = new HostMeter();
  readonly #fuelPerCall: number;
  /** The fuel counter's value between calls (only calls into the instance change it). */
  #fuelLeft = 0;
  #abi: AbiExports | undefined;
  /** Fuel used by the last call, and since this instance was created. */
  lastFuelUsed = 0;
  totalFuelUsed = 0;

  constructor(
    readonly module: WebAssembly.Module,
    readonly services: AgentServices,
    fuelPerCall: number,
    /** Clock and randomness of the host calls (the test harness passes its own). */
    readonly env: HostEnv = REAL_HOST_ENV,
  ) {
    this.#fuelPerCall = fuelPerCall;
  }

  /** Instantiates the module (its start function runs here, metered) and checks the ABI version. */
  instantiate(): void {
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(this.module, createHostImports(this.#mem, this.services, this.#meter, this.env));
    } catch (e) {
      // The fuel global starts at the budget, so a start function that never returns traps here.
      throw classify(e, 'start', undefined);
    }
    const x = instance.exports;
    const memory = x[Export.memory];
    const fuel = x[FUEL_CHARGE_EXPORT];
    if (!(memory instanceof WebAssembly.Memory) || typeof fuel !== 'function') {
      throw new AgentFault('bad_abi', 'start', 'module was not admitted by the Caxton rewriter (memory or fuel export missing)');
    }
    this.#mem.attach(memory);
    const charge = fuel as FuelCharge;
    this.#meter.fuel = charge;
    this.#fuelLeft = charge(0);
    this.#abi = {
      alloc: x[Export.alloc] as AbiExports['alloc'],
      handle: x[Export.handleMessage] as AbiExports['handle'],
      init: x[Export.init] as AbiExports['init'],
      shutdown: x[Export.shutdown] as AbiExports['shutdown'],
      fuel: charge,
    };
    const version = this.#call('start', () => (x[Export.abiVersion] as () => number)());
    if (version !== ABI_VERSION) {
      throw new AgentFault('bad_abi', 'start', `caxton_abi_version() returned ${version}; this host speaks version ${ABI_VERSION}`);
    }
  }

  /** Runs agent_init with the init document, if the agent exports it. */
  init(doc: string): void {
    const abi = this.#ready();
    const initFn = abi.init;
    if (initFn === undefined) return;
    const rc = this.#call('init', () => {
      const [ptr, len] = this.#write(abi, doc, 'init');
      return initFn(ptr, len);
    });
    if (rc !== 0) throw new AgentFault('init_failed', 'init', `agent_init returned ${rc}`);
  }

  /** Delivers one message. Returns handle_message's status (0 = success). Throws AgentFault on a fault. */
  handle(json: string): number {
    const abi = this.#ready();
    return this.#call('message', () => {
      const [ptr, len] = this.#write(abi, json, 'message');
      return abi.handle(ptr, len);
    });
  }

  /** Runs agent_shutdown, if exported. Returns its status, or 0. */
  shutdown(): number {
    const abi = this.#ready();
    const fn = abi.shutdown;
    return fn === undefined ? 0 : this.#call('shutdown', fn);
  }

  /** Current size of the agent's linear memory, in bytes. */
  get memoryBytes(): number {
    return this.#mem.byteLength;
  }

  #ready(): AbiExports {
    if (this.#abi === undefined) throw new Error('AgentInstance used before instantiate()');
    return this.#abi;
  }

  #write(abi: AbiExports, text: string, phase: CallPhase): [number, number] {
    const n = encode(text);
    const ptr = abi.alloc(n);
    if (ptr === 0 || !this.#mem.inBounds(ptr, n)) {
      throw new AgentFault('alloc_failed', phase, `caxton_alloc(${n}) returned ${ptr >>> 0}, which is not a usable buffer`);
    }
    this.#mem.bytes().set(scratch.subarray(0, n), ptr >>> 0);
    return [ptr, n];
  }

  /** Runs one metered call: fresh budget in, fuel used out, faults classified. */
  #call<T>(phase: CallPhase, fn: () => T): T {
    const fuel = this.#abi?.fuel;
    // Refill to the budget: charging a negative amount adds it.
    if (fuel !== undefined) fuel(this.#fuelLeft - this.#fuelPerCall);
    try {
      return fn();
    } catch (e) {
      throw classify(e, phase, fuel);
    } finally {
      if (fuel !== undefined) {
        const left = fuel(0);
        this.#fuelLeft = left;
        const used = left < 0 ? this.#fuelPerCall : this.#fuelPerCall - left;
        this.lastFuelUsed = used;
        this.totalFuelUsed += used;
      }
    }
  }
}

function classify(e: unknown, phase: CallPhase, fuel: FuelCharge | undefined): AgentFault {
  if (e instanceof AgentFault) return e;
  const message = e instanceof Error ? e.message : String(e);
  if (isWasmAllocationFailure(e)) return new AgentFault('no_memory', phase, message, { cause: e });
  if (fuel !== undefined && fuel(0) < 0) {
    return new AgentFault('fuel_exhausted', phase, 'fuel exhausted (CPU limit reached)', { cause: e });
  }
  // Start functions run before we can read the fuel export; the rewriter's trap is `unreachable`.
  if (phase === 'start' && e instanceof WebAssembly.RuntimeError && /unreachable/.test(message)) {
    return new AgentFault('fuel_exhausted', phase, 'start function trapped (unreachable); most likely fuel exhausted (CPU limit reached)', { cause: e });
  }
  if (e instanceof RangeError && /call stack/i.test(message)) {
    return new AgentFault('stack_overflow', phase, 'stack exhausted (recursion too deep)', { cause: e });
  }
  return new AgentFault('trap', phase, message, { cause: e });
}
