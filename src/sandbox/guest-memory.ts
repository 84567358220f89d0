/**
 * Safe access to an agent's linear memory from host functions.
 * `memory.grow` (by the guest or the host) detaches every view of the old buffer, so views are
 * rebuilt lazily whenever the buffer changed; between grows the same view is reused.
 */
export class GuestMemory {
  #memory: WebAssembly.Memory | undefined;
  #buffer: ArrayBuffer | undefined;
  #u8: Uint8Array = new Uint8Array(0);

  attach(memory: WebAssembly.Memory): void {
    this.#memory = memory;
    this.#buffer = undefined;
  }

  /** The current byte view. Valid until the next call into the guest. */
  bytes(): Uint8Array {
    const m = this.#memory;
    if (m === undefined) return this.#u8;
    if (m.buffer !== this.#buffer) {
      this.#buffer = m.buffer;
      this.#u8 = new Uint8Array(m.buffer);
    }
    return this.#u8;
  }

  get byteLength(): number {
    return this.#memory === undefined ? 0 : this.#memory.buffer.byteLength;
  }

  /**
   * Whether [ptr, ptr + len) lies inside memory. Both arrive as signed i32 and are read as unsigned,
   * so a "negative" pointer or length is simply far out of range.
   */
  inBounds(ptr: number, len: number): boolean {
    const p = ptr >>> 0;
    const n = len >>> 0;
    return p + n <= this.byteLength;
  }
}
