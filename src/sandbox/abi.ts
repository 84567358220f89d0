/**
 * The agent ABI, version 1, as constants. docs/agent-abi.md is the specification; this file is its
 * machine-readable half. The numbers below are on the wire between host and guest: only append.
 */

export const ABI_VERSION = 1;

/** The module name every host import lives under. */
export const HOST_MODULE = 'caxton';

/** Exports the host looks for. */
export const Export = {
  memory: 'memory',
  abiVersion: 'caxton_abi_version',
  alloc: 'caxton_alloc',
  handleMessage: 'handle_message',
  init: 'agent_init',
  shutdown: 'agent_shutdown',
} as const;

/** Exports that must be present, with their function signatures (memory is checked separately). */
export const REQUIRED_FUNCTION_EXPORTS: Readonly<Record<string, FuncSig>> = {
  [Export.abiVersion]: { params: [], results: ['i32'] },
  [Export.alloc]: { params: ['i32'], results: ['i32'] },
  [Export.handleMessage]: { params: ['i32', 'i32'], results: ['i32'] },
};

/** Optional exports; when present they must have these signatures. */
export const OPTIONAL_FUNCTION_EXPORTS: Readonly<Record<string, FuncSig>> = {
  [Export.init]: { params: ['i32', 'i32'], results: ['i32'] },
  [Export.shutdown]: { params: [], results: ['i32'] },
};

/** Export names with this prefix belong to the host (the fuel exports use it). */
export const RESERVED_EXPORT_PREFIX = '__caxton';
/** The name under which the rewriter exports the fuel counter (a mutable i64 global). */
export const FUEL_EXPORT = '__caxton_fuel';
/**
 * The rewriter's function `(param f64 units) (result f64 left)`: subtracts `units` from the fuel
 * counter (a negative amount refills it) and returns what is left. The host charges and reads fuel
 * through it: a call costs a few ns, where the WebAssembly.Global's BigInt accessors cost ~23 ns each.
 */
export const FUEL_CHARGE_EXPORT = '__caxton_fuel_charge';

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';

export interface FuncSig {
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
}

/** Every import the host offers, with its exact signature. Anything else is refused at admission. */
export const HOST_IMPORTS: Readonly<Record<string, FuncSig>> = {
  send: { params: ['i32', 'i32'], results: ['i32'] },
  log: { params: ['i32', 'i32', 'i32'], results: [] },
  time_now_us: { params: [], results: ['i64'] },
  time_monotonic_us: { params: [], results: ['i64'] },
  random_fill: { params: ['i32', 'i32'], results: ['i32'] },
  timer_set: { params: ['i32', 'i32', 'i32'], results: ['i32'] },
  timer_cancel: { params: ['i32'], results: ['i32'] },
  kv_get: { params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'] },
  kv_set: { params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'] },
  kv_delete: { params: ['i32', 'i32'], results: ['i32'] },
  capability_register: { params: ['i32', 'i32'], results: ['i32'] },
  topic_subscribe: { params: ['i32', 'i32'], results: ['i32'] },
  topic_unsubscribe: { params: ['i32', 'i32'], results: ['i32'] },
};

/** Host function return codes (docs/agent-abi.md, "Error codes"). Only append. */
export const HostError = {
  OK: 0,
  NOT_FOUND: -1,
  BOUNDS: -2,
  TOO_LARGE: -3,
  INVALID_MESSAGE: -4,
  QUOTA: -5,
  BACKPRESSURE: -6,
  UNAVAILABLE: -7,
  INVALID_ARGUMENT: -8,
} as const;
export type HostErrorCode = (typeof HostError)[keyof typeof HostError];

/** Log levels accepted by `caxton.log`. */
export const LogLevel = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type AgentLogLevel = (typeof LogLevel)[number];

/** Host-side limits that the ABI document states. */
export const AbiLimits = {
  maxLogBytes: 4096,
  maxRandomBytes: 64 * 1024,
  maxTimerDelayMs: 24 * 60 * 60 * 1000,
  maxTimersPerAgent: 1000,
  maxKeyBytes: 256,
  maxValueBytes: 1024 * 1024,
  maxCapabilitiesPerAgent: 32,
  maxTopicsPerAgent: 64,
  /** Key-value quota per agent: keys, and bytes of keys plus values. */
  maxKeysPerAgent: 10_000,
  maxStateBytesPerAgent: 64 * 1024 * 1024,
} as const;

/** Capability names: like agent names, at most 128 characters. */
export const CAPABILITY_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:@\/-]{0,127}$/;
/** Topic names: the same characters, at most 256. */
export const TOPIC_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:@\/-]{0,255}$/;
