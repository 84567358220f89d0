/**
 * Admitted and compiled modules, keyed by the sha256 of the bytes the user uploaded. Admission
 * (validate + rewrite) and compilation happen once per distinct module; every agent started from it
 * afterwards only instantiates (tens of µs).
 */
import { createHash } from 'node:crypto';
import { admitModule, type AdmittedModule } from './wasm/index.js';
import type { SandboxPolicy } from './policy.js';

export interface CachedModule {
  readonly hash: string;
  readonly admitted: AdmittedModule;
  readonly module: WebAssembly.Module;
}

export class ModuleCache {
  readonly #byHash = new Map<string, CachedModule>();

  constructor(readonly policy: SandboxPolicy) {}

  /** Admits and compiles `bytes`, or returns the cached result. Throws CaxtonError on a bad module. */
  admit(bytes: Uint8Array): CachedModule {
    const hash = createHash('sha256').update(bytes).digest('hex');
    const hit = this.#byHash.get(hash);
    if (hit !== undefined) return hit;
    const admitted = admitModule(bytes, this.policy);
    const entry: CachedModule = { hash, admitted, module: new WebAssembly.Module(admitted.bytes) };
    this.#byHash.set(entry.hash, entry);
    return entry;
  }

  get(hash: string): CachedModule | undefined {
    return this.#byHash.get(hash);
  }

  delete(hash: string): boolean {
    return this.#byHash.delete(hash);
  }

  hashes(): string[] {
    return [...this.#byHash.keys()];
  }

  get size(): number {
    return this.#byHash.size;
  }
}
