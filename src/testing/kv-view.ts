/** Read access to an agent's key-value state in the node's store, for assertions. */
import type { AgentStateStore } from '../storage/agent-state-store.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class KvView {
  constructor(
    readonly store: AgentStateStore,
    readonly agent: string,
  ) {}

  /** The value under `key` as UTF-8 text, or undefined. */
  get(key: string): string | undefined {
    const v = this.getBytes(key);
    return v === undefined ? undefined : decoder.decode(v);
  }

  getBytes(key: string): Uint8Array | undefined {
    const v = this.store.get(this.agent, encoder.encode(key));
    // A plain copy: the store hands out Buffers (a view that assert.deepEqual tells from a Uint8Array).
    return v === undefined ? undefined : new Uint8Array(v);
  }

  has(key: string): boolean {
    return this.store.valueSize(this.agent, encoder.encode(key)) !== undefined;
  }

  /** Every key (as UTF-8 text) and value (as text), in key order. */
  entries(): [string, string][] {
    return this.store.keys(this.agent).map((k) => [decoder.decode(k), decoder.decode(this.store.get(this.agent, k))]);
  }

  /** Every key as text, its value as bytes, in key order. */
  byteEntries(): [string, Uint8Array][] {
    return this.store.keys(this.agent).map((k) => [decoder.decode(k), new Uint8Array(this.store.get(this.agent, k) ?? new Uint8Array())]);
  }

  /** The state as a plain object of text values (handy for assert.deepEqual). */
  toObject(): Record<string, string> {
    return Object.fromEntries(this.entries());
  }
}
