/**
 * Message ids an agent worker has recently handled for at-least-once delivery, so that a redelivered
 * copy is recognised and dropped. Bounded in time and in count (oldest first out).
 */
export const DEDUP_TTL_MS = 10 * 60_000;
export const DEDUP_MAX_IDS = 100_000;

export class DedupWindow {
  // Insertion order = age order.
  readonly #seen = new Map<string, number>();

  constructor(
    readonly ttlMs = DEDUP_TTL_MS,
    readonly maxIds = DEDUP_MAX_IDS,
  ) {}

  has(id: string, nowMs: number): boolean {
    const at = this.#seen.get(id);
    return at !== undefined && nowMs - at <= this.ttlMs;
  }

  add(id: string, nowMs: number): void {
    this.#seen.delete(id);
    this.#seen.set(id, nowMs);
    for (const [old, at] of this.#seen) {
      if (this.#seen.size <= this.maxIds && nowMs - at <= this.ttlMs) break;
      this.#seen.delete(old);
    }
  }

  /**
   * The ids that start with `prefix` (one agent's: `<name>\n`), without it, still within the window,
   * oldest first; the newest `max` of them.
   */
  recent(prefix: string, nowMs: number, max: number): string[] {
    const out: string[] = [];
    for (const [id, at] of this.#seen) if (id.startsWith(prefix) && nowMs - at <= this.ttlMs) out.push(id.slice(prefix.length));
    return out.length > max ? out.slice(out.length - max) : out;
  }

  /** Drops every id that starts with `prefix` (one agent's: `<name>\n`). */
  forgetPrefix(prefix: string): void {
    for (const id of this.#seen.keys()) if (id.startsWith(prefix)) this.#seen.delete(id);
  }

  get size(): number {
    return this.#seen.size;
  }
}
