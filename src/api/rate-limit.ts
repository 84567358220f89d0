/** A token bucket per API key: `perSecond` refill, `burst` capacity. */
export interface RateDecision {
  readonly allowed: boolean;
  readonly limit: number;
  readonly remaining: number;
  /** Epoch seconds at which the bucket is full again. */
  readonly resetAt: number;
  /** Seconds until one request is allowed again (when not allowed). */
  readonly retryAfter: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();

  constructor(
    readonly perSecond: number,
    readonly burst: number,
  ) {}

  take(key: string, now = Date.now()): RateDecision {
    let b = this.#buckets.get(key);
    if (b === undefined) {
      b = { tokens: this.burst, at: now };
      this.#buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    const allowed = b.tokens >= 1;
    if (allowed) b.tokens -= 1;
    const resetAt = Math.ceil((now + ((this.burst - b.tokens) / this.perSecond) * 1000) / 1000);
    return { allowed, limit: this.burst, remaining: Math.floor(b.tokens), resetAt, retryAfter: allowed ? 0 : Math.ceil((1 - b.tokens) / this.perSecond) };
  }

  /** A revoked key's bucket. */
  forget(key: string): void {
    this.#buckets.delete(key);
  }
}
