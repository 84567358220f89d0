/**
 * WebAssembly features as bits. The first seven can be allowed by SandboxPolicy.features; the rest
 * are named only so that rejections can say which feature a module needs.
 */
import type { WasmFeature } from '../policy.js';
import { fail } from './fail.js';

export const F_MUTABLE_GLOBAL = 1 << 0;
export const F_SIGN_EXT = 1 << 1;
export const F_NONTRAPPING_FPTOINT = 1 << 2;
export const F_BULK_MEMORY = 1 << 3;
export const F_MULTI_VALUE = 1 << 4;
export const F_REFERENCE_TYPES = 1 << 5;
export const F_SIMD = 1 << 6;
// Never allowed.
export const F_THREADS = 1 << 7;
export const F_EXCEPTIONS = 1 << 8;
export const F_TAIL_CALL = 1 << 9;
export const F_GC = 1 << 10;
export const F_TYPED_FUNCTION_REFERENCES = 1 << 11;
export const F_MEMORY64 = 1 << 12;
export const F_MULTI_MEMORY = 1 << 13;
export const F_EXTENDED_CONST = 1 << 14;
export const F_RELAXED_SIMD = 1 << 15;

const POLICY_FEATURES: Readonly<Record<WasmFeature, number>> = {
  'mutable-global': F_MUTABLE_GLOBAL,
  'sign-ext': F_SIGN_EXT,
  'nontrapping-fptoint': F_NONTRAPPING_FPTOINT,
  'bulk-memory': F_BULK_MEMORY,
  'multi-value': F_MULTI_VALUE,
  'reference-types': F_REFERENCE_TYPES,
  simd: F_SIMD,
};

const ALLOWABLE = F_SIMD * 2 - 1;

const NAMES: ReadonlyArray<readonly [number, string]> = [
  [F_MUTABLE_GLOBAL, 'mutable-global'],
  [F_SIGN_EXT, 'sign-ext'],
  [F_NONTRAPPING_FPTOINT, 'nontrapping-fptoint'],
  [F_BULK_MEMORY, 'bulk-memory'],
  [F_MULTI_VALUE, 'multi-value'],
  [F_REFERENCE_TYPES, 'reference-types'],
  [F_SIMD, 'simd'],
  [F_THREADS, 'threads'],
  [F_EXCEPTIONS, 'exceptions'],
  [F_TAIL_CALL, 'tail-call'],
  [F_GC, 'gc'],
  [F_TYPED_FUNCTION_REFERENCES, 'typed-function-references'],
  [F_MEMORY64, 'memory64'],
  [F_MULTI_MEMORY, 'multi-memory'],
  [F_EXTENDED_CONST, 'extended-const'],
  [F_RELAXED_SIMD, 'relaxed-simd'],
];

export function featureName(bit: number): string {
  for (const [b, name] of NAMES) if (b === bit) return name;
  return `feature bit ${bit}`;
}

/** The allowed-feature mask for a policy. Unknown names in policy.features are ignored. */
export function allowedMask(features: readonly WasmFeature[]): number {
  let mask = 0;
  for (const f of features) {
    if (Object.hasOwn(POLICY_FEATURES, f)) mask |= POLICY_FEATURES[f];
  }
  return mask & ALLOWABLE;
}

/**
 * Throws CAXTON_ERR_MODULE_FEATURE unless `bit` is in `allowed`. `what` names the construct, e.g.
 * "operator 0xfd 0x0c (v128.const) in function #3 at offset 120 (0x78)".
 */
export function requireFeature(allowed: number, bit: number, what: string, offset?: number): void {
  if ((allowed & bit) !== 0) return;
  const name = featureName(bit);
  const tail =
    (bit & ALLOWABLE) !== 0
      ? 'which is not enabled on this node (sandbox.features)'
      : 'which Caxton does not allow';
  fail('CAXTON_ERR_MODULE_FEATURE', `${what} needs the '${name}' feature, ${tail}`, offset);
}
