/**
 * Sandbox policy: what a module may contain and what one call into it may use.
 * Defaults are named constants; each field says its unit and what raising it costs.
 */

/** WebAssembly features a module may use beyond the MVP. */
export type WasmFeature =
  | 'mutable-global'
  | 'sign-ext'
  | 'nontrapping-fptoint'
  | 'bulk-memory'
  | 'multi-value'
  | 'reference-types'
  | 'simd';

/** Features every Caxton node accepts; `simd` is opt-in. */
export const DEFAULT_FEATURES: readonly WasmFeature[] = [
  'mutable-global',
  'sign-ext',
  'nontrapping-fptoint',
  'bulk-memory',
  'multi-value',
  'reference-types',
];

export interface SandboxPolicy {
  /** Largest module accepted, in bytes. @default 8 MiB. Admission time grows linearly (~15 ms per MB). */
  readonly maxModuleBytes: number;
  /** Per-agent linear memory cap, in 64 KiB pages. @default 1024 (64 MiB). */
  readonly maxMemoryPages: number;
  /** Per-table element cap. @default 10,000. `table.grow` also consumes host memory. */
  readonly maxTableElements: number;
  /** Fuel granted to each call into the agent (≈ operators executed). @default 10,000,000. */
  readonly fuelPerCall: number;
  /** Wall-clock limit of one call before the watchdog kills its worker, in ms. @default 5,000. */
  readonly maxCallMs: number;
  /** Features allowed beyond the MVP. @default DEFAULT_FEATURES */
  readonly features: readonly WasmFeature[];
  /** Structural caps that bound admission work and instantiation cost. */
  readonly maxFunctions: number;
  readonly maxImports: number;
  readonly maxExports: number;
  readonly maxGlobals: number;
  /** Largest function body, in bytes. @default 1 MiB. */
  readonly maxFunctionBodyBytes: number;
}

export const DEFAULT_MAX_MODULE_BYTES = 8 * 1024 * 1024; // 8 MiB
export const WASM_PAGE_BYTES = 65536;
export const DEFAULT_MAX_MEMORY_PAGES = 1024; // 64 MiB
export const DEFAULT_MAX_TABLE_ELEMENTS = 10_000; // spec MaxTableEntries
export const DEFAULT_FUEL_PER_CALL = 10_000_000; // ~5-20 ms of tight compute
export const DEFAULT_MAX_CALL_MS = 5_000; // spec max_execution_time

export const DEFAULT_POLICY: SandboxPolicy = Object.freeze({
  maxModuleBytes: DEFAULT_MAX_MODULE_BYTES,
  maxMemoryPages: DEFAULT_MAX_MEMORY_PAGES,
  maxTableElements: DEFAULT_MAX_TABLE_ELEMENTS,
  fuelPerCall: DEFAULT_FUEL_PER_CALL,
  maxCallMs: DEFAULT_MAX_CALL_MS,
  features: DEFAULT_FEATURES,
  maxFunctions: 100_000,
  maxImports: 100,
  maxExports: 1_000,
  maxGlobals: 10_000,
  maxFunctionBodyBytes: 1024 * 1024,
});

export function makePolicy(overrides: Partial<SandboxPolicy> = {}): SandboxPolicy {
  return Object.freeze({ ...DEFAULT_POLICY, ...overrides });
}
