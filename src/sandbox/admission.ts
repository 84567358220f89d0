/**
 * Where modules are admitted (validated, rewritten, compiled): in a dedicated worker thread, started
 * at the first admission, so that a large module never blocks the main thread (API, routing). Errors
 * come back with their code, message and details unchanged.
 */
import type { Worker } from 'node:worker_threads';
import { CaxtonError, type ErrorCode } from '../errors.js';
import type { SandboxPolicy } from './policy.js';
import { admitModule, type AdmittedModule } from './wasm/index.js';
import { newWorker } from './workers.js';

/** An admitted module and its compiled form. */
export interface Admitted {
  readonly admitted: AdmittedModule;
  readonly module: WebAssembly.Module;
}

/** Admits modules. Rejects with the admission's CaxtonError for a bad module. */
export interface Admitter {
  admit(bytes: Uint8Array, policy: SandboxPolicy): Promise<Admitted>;
  /** Stops whatever it started; admissions under way are rejected. Idempotent. */
  close(): Promise<void>;
}

export interface AdmitRequest {
  readonly id: number;
  readonly bytes: Uint8Array;
  readonly policy: SandboxPolicy;
}

interface SentError {
  readonly code?: ErrorCode;
  readonly name: string;
  readonly message: string;
  readonly details?: Record<string, unknown>;
}

export type AdmitReply =
  | { readonly id: number; readonly ok: true; readonly admitted: AdmittedModule; readonly module: WebAssembly.Module }
  | { readonly id: number; readonly ok: false; readonly error: SentError };

interface Pending {
  resolve(a: Admitted): void;
  reject(e: Error): void;
}

/** The same error on this side of the thread boundary. */
function revive(e: SentError): Error {
  if (e.code !== undefined) return new CaxtonError(e.code, e.message, e.details);
  const err = e.name === 'TypeError' ? new TypeError(e.message) : e.name === 'RangeError' ? new RangeError(e.message) : new Error(e.message);
  return err;
}

/** Admission in one worker thread, started lazily and restarted lazily after it died. */
export class AdmissionWorker implements Admitter {
  #worker: Worker | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;

  admit(bytes: Uint8Array, policy: SandboxPolicy): Promise<Admitted> {
    if (this.#closed) return Promise.reject(new CaxtonError('CAXTON_ERR_POOL_CLOSED', 'the agent pool is closed'));
    const worker = (this.#worker ??= this.#start());
    const id = this.#nextId++;
    // Keeps the process alive only while an admission is under way.
    if (this.#pending.size === 0) worker.ref();
    return new Promise<Admitted>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // The caller keeps its bytes (to store them), so the worker gets a copy, made here with one
      // memcpy and transferred: a structured clone of 7.4 MB took 15-40 ms of this thread, a copy ~2 ms.
      const copy = new Uint8Array(bytes); // not bytes.slice(): on a Buffer that is a view, and the transfer would detach the caller's bytes
      worker.postMessage({ id, bytes: copy, policy } satisfies AdmitRequest, [copy.buffer]);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const w = this.#worker;
    this.#worker = undefined;
    this.#failAll('the agent pool was closed');
    if (w !== undefined) await w.terminate();
  }

  #start(): Worker {
    const worker = newWorker('./admission-worker', undefined, 'caxton-admission');
    worker.unref();
    worker.on('message', (reply: AdmitReply) => {
      const p = this.#pending.get(reply.id);
      if (p === undefined) return;
      this.#pending.delete(reply.id);
      if (this.#pending.size === 0) worker.unref();
      if (reply.ok) p.resolve({ admitted: reply.admitted, module: reply.module });
      else p.reject(revive(reply.error));
    });
    worker.on('error', (e) => this.#died(worker, `it failed: ${e.message}`));
    worker.on('exit', (code) => this.#died(worker, `it exited with code ${code}`));
    return worker;
  }

  /** The thread is gone: what it was admitting fails, the next admission starts a new one. */
  #died(worker: Worker, why: string): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    this.#failAll(`the admission worker stopped while admitting the module (${why})`);
  }

  #failAll(why: string): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(new CaxtonError(this.#closed ? 'CAXTON_ERR_POOL_CLOSED' : 'CAXTON_ERR_SERVER_INTERNAL', why));
  }
}

/** Admission on the calling thread (tests of what sits above admission; tools). Blocks that thread. */
export const admitInThread: Admitter = {
  admit: async (bytes, policy) => {
    const admitted = admitModule(bytes, policy);
    return { admitted, module: new WebAssembly.Module(admitted.bytes) };
  },
  close: async () => {},
};
