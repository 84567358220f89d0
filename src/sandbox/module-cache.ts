/**
 * Admitted and compiled modules, keyed by the sha256 of the bytes the user uploaded. Admission
 * (validate + rewrite) and compilation happen once per distinct module, off the main thread
 * (./admission.ts); every agent started from it afterwards only instantiates (tens of µs).
 *
 * The cache is bounded by bytes: past `maxBytes` it forgets the least recently used modules that no
 * agent needs (`inUse`), at each admission. A module an agent runs, or may run again (stopped, being
 * upgraded to, canary), is never forgotten, so the cache may stay above its bound while they hold it.
 * A deployment whose module was forgotten admits it again from the bytes the database keeps.
 */
import { webcrypto } from 'node:crypto';
import type { Admitter } from './admission.js';
import type { SandboxPolicy } from './policy.js';
import type { AdmittedModule } from './wasm/index.js';

export interface CachedModule {
  readonly hash: string;
  readonly admitted: AdmittedModule;
  readonly module: WebAssembly.Module;
}

/** 256 MiB of admitted modules: thousands of typical agents (5-100 KB each), 32 of the largest (8 MiB). */
export const DEFAULT_MODULE_CACHE_BYTES = 256 * 1024 * 1024;

export interface ModuleCacheOptions {
  readonly admitter: Admitter;
  /**
   * Bytes of admitted modules kept once no agent needs them (the rewritten module's size; V8's
   * compiled code comes on top). @default DEFAULT_MODULE_CACHE_BYTES
   */
  readonly maxBytes?: number;
  /** The hashes agents need now; asked only when the cache is over its bound. @default none */
  readonly inUse?: () => ReadonlySet<string>;
  /** A module was forgotten (to drop the copies elsewhere: the workers'). */
  readonly onEvict?: (hash: string) => void;
}

/** Hex sha256, computed on libuv's thread pool (WebCrypto): 8 MiB takes ~40 ms, not on this thread. */
async function sha256(bytes: Uint8Array): Promise<string> {
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes)).toString('hex');
}

const NONE: ReadonlySet<string> = new Set();

export class ModuleCache {
  /** In least- to most-recently-used order (a use moves an entry to the end). */
  readonly #byHash = new Map<string, CachedModule>();
  /** Admissions under way, so that the same bytes sent twice at once are admitted once. */
  readonly #admitting = new Map<string, Promise<CachedModule>>();
  readonly #admitter: Admitter;
  readonly #inUse: () => ReadonlySet<string>;
  readonly #onEvict: (hash: string) => void;
  readonly maxBytes: number;
  #bytes = 0;
  #evictions = 0;

  constructor(
    readonly policy: SandboxPolicy,
    options: ModuleCacheOptions,
  ) {
    this.#admitter = options.admitter;
    this.maxBytes = options.maxBytes ?? DEFAULT_MODULE_CACHE_BYTES;
    if (!(this.maxBytes >= 0)) throw new RangeError(`maxBytes must be 0 or more, got ${this.maxBytes}`);
    this.#inUse = options.inUse ?? (() => NONE);
    this.#onEvict = options.onEvict ?? (() => {});
  }

  /** Admits and compiles `bytes`, or returns the cached result. Rejects with a CaxtonError on a bad module. */
  async admit(bytes: Uint8Array): Promise<CachedModule> {
    const hash = await sha256(bytes);
    const hit = this.get(hash);
    if (hit !== undefined) return hit;
    let admitting = this.#admitting.get(hash);
    if (admitting === undefined) {
      admitting = this.#admitter.admit(bytes, this.policy).then(
        ({ admitted, module }) => {
          this.#admitting.delete(hash);
          return this.#insert({ hash, admitted, module });
        },
        (e: unknown) => {
          this.#admitting.delete(hash);
          throw e;
        },
      );
      this.#admitting.set(hash, admitting);
    }
    return admitting;
  }

  /** The cached module, marked as just used; undefined when it was never admitted or was evicted. */
  get(hash: string): CachedModule | undefined {
    const hit = this.#byHash.get(hash);
    if (hit !== undefined) {
      this.#byHash.delete(hash);
      this.#byHash.set(hash, hit);
    }
    return hit;
  }

  delete(hash: string): boolean {
    const entry = this.#byHash.get(hash);
    if (entry === undefined) return false;
    this.#byHash.delete(hash);
    this.#bytes -= entry.admitted.bytes.length;
    return true;
  }

  hashes(): string[] {
    return [...this.#byHash.keys()];
  }

  get size(): number {
    return this.#byHash.size;
  }

  /** Bytes of the modules held (their admitted, rewritten size). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Modules forgotten to stay within maxBytes since the cache was made. */
  get evictions(): number {
    return this.#evictions;
  }

  /** Stops the admission worker; admissions under way are rejected. */
  close(): Promise<void> {
    return this.#admitter.close();
  }

  #insert(entry: CachedModule): CachedModule {
    const had = this.#byHash.get(entry.hash);
    if (had !== undefined) return had;
    this.#byHash.set(entry.hash, entry);
    this.#bytes += entry.admitted.bytes.length;
    if (this.#bytes > this.maxBytes) this.#evict(entry.hash);
    return entry;
  }

  /** Forgets least recently used modules nobody needs until within maxBytes; never `keep`, just admitted. */
  #evict(keep: string): void {
    const used = this.#inUse();
    for (const [hash] of this.#byHash) {
      if (this.#bytes <= this.maxBytes) break;
      if (hash === keep || used.has(hash)) continue;
      this.delete(hash);
      this.#evictions++;
      this.#onEvict(hash);
    }
  }
}
