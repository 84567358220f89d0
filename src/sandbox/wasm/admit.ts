/**
 * Module admission: the one entry point that turns untrusted bytes into a module Caxton may run, or
 * a CaxtonError that says precisely why not. Order of checks:
 * 1. size cap (before any parsing);
 * 2. WebAssembly.validate of the original (V8's verdict is kept; our own parser's message is
 *    preferred because it is more precise);
 * 3. our parser: structure, section order, caps, features, imports, exports, indices;
 * 4. the rewrite (fuel, memory/table caps), then WebAssembly.validate of the output.
 */
import { createHash } from 'node:crypto';
import { CaxtonError } from '../../errors.js';
import type { SandboxPolicy } from '../policy.js';
import { checkExports } from './exports.js';
import { fail, invalid, malformed } from './fail.js';
import { allowedMask } from './features.js';
import { rewriteModule } from './rewrite.js';
import { parseModule } from './sections.js';
import type { ExportKind } from './types.js';

export interface AdmittedModule {
  /** The rewritten module: metered, memory and tables capped, fuel global exported. */
  bytes: Uint8Array;
  /** Hex SHA-256 of the original bytes. */
  sha256: string;
  imports: { module: string; name: string }[];
  /** The module's own exports (the host's fuel export is not listed). */
  exports: { name: string; kind: ExportKind }[];
  memory: { minPages: number; maxPages: number };
  hasStart: boolean;
  hasInit: boolean;
  hasShutdown: boolean;
  stats: { functions: number; checks: number };
}

function v8Validate(bytes: Uint8Array): boolean {
  try {
    return WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

/** V8's own explanation for a module it rejects. */
function v8Reason(bytes: Uint8Array): string {
  try {
    new WebAssembly.Module(bytes);
    return 'WebAssembly.validate rejected the module';
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return msg.replace(/^WebAssembly\.Module\(\): /, '');
  }
}

function checkPolicy(policy: SandboxPolicy): void {
  if (!Number.isSafeInteger(policy.fuelPerCall) || policy.fuelPerCall < 0) {
    throw new TypeError(`policy.fuelPerCall must be a non-negative safe integer, got ${policy.fuelPerCall}`);
  }
  if (!Number.isInteger(policy.maxMemoryPages) || policy.maxMemoryPages < 0 || policy.maxMemoryPages > 65536) {
    throw new TypeError(`policy.maxMemoryPages must be an integer in [0, 65536], got ${policy.maxMemoryPages}`);
  }
  if (!Number.isInteger(policy.maxTableElements) || policy.maxTableElements < 0 || policy.maxTableElements > 0xffffffff) {
    throw new TypeError(`policy.maxTableElements must be a u32, got ${policy.maxTableElements}`);
  }
}

export function admitModule(bytes: Uint8Array, policy: SandboxPolicy): AdmittedModule {
  checkPolicy(policy);
  if (!(bytes instanceof Uint8Array)) malformed(`expected the module as a Uint8Array, got ${typeof bytes}`);
  if (bytes.length > policy.maxModuleBytes) {
    fail(
      'CAXTON_ERR_MODULE_TOO_LARGE',
      `the module is ${bytes.length} bytes, over the limit of ${policy.maxModuleBytes} bytes (sandbox.max_module_bytes)`,
    );
  }
  const validByV8 = v8Validate(bytes);
  const allowed = allowedMask(policy.features);
  let result: AdmittedModule;
  try {
    const m = parseModule(bytes, policy, allowed);
    const { hasInit, hasShutdown } = checkExports(m);
    const out = rewriteModule(bytes, m, policy, allowed);
    result = {
      bytes: out.bytes,
      sha256: '',
      imports: m.imports,
      exports: m.exports.map((e) => ({ name: e.name, kind: e.kind })),
      memory: out.memory,
      hasStart: m.start !== null,
      hasInit,
      hasShutdown,
      stats: { functions: m.bodyStarts.length, checks: out.checks },
    };
  } catch (e) {
    if (e instanceof CaxtonError) throw e;
    // A bug in this decoder must not escape as a TypeError/RangeError. Prefer V8's verdict.
    if (!validByV8) invalid(`the module fails WebAssembly validation: ${v8Reason(bytes)}`);
    throw new CaxtonError(
      'CAXTON_ERR_MODULE_INVALID',
      `internal error while admitting the module: ${e instanceof Error ? e.message : String(e)}`,
      undefined,
      { cause: e },
    );
  }
  if (!validByV8) invalid(`the module fails WebAssembly validation: ${v8Reason(bytes)}`);
  if (!v8Validate(result.bytes)) invalid('rewriter produced an invalid module');
  result.sha256 = createHash('sha256').update(bytes).digest('hex');
  return result;
}
