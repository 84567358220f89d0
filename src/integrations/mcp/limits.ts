/**
 * The limits of one MCP server: calls in flight (the server's and each agent's) and token buckets of
 * calls per second (the server's and each agent's). take() decides a call and reserves its slots;
 * the caller gives them back with release() once the call ended, whatever its outcome.
 */
import type { McpServerOptions } from './options.js';

/** A per-agent bucket that has been full and unused this long is forgotten (it would be full anyway). */
const IDLE_BUCKET_MS = 60_000;

export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    now: number,
  ) {
    this.#tokens = burst;
    this.#at = now;
  }

  /** Takes one token: 0 if there was one, else the ms until there is. perSecond 0 = no limit. */
  take(now: number): number {
    if (this.perSecond <= 0) return 0;
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.#tokens) / this.perSecond) * 1000);
  }

  /** Gives back a token taken for a call another limit refused after all. */
  refund(): void {
    if (this.perSecond > 0) this.#tokens = Math.min(this.burst, this.#tokens + 1);
  }

  /** Whether the bucket is full (and so can be forgotten). */
  full(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.burst;
  }

  #refill(now: number): void {
    const dt = Math.max(0, now - this.#at) / 1000;
    this.#at = now;
    this.#tokens = Math.min(this.burst, this.#tokens + dt * this.perSecond);
  }
}

export type LimitRefusal =
  | { readonly kind: 'busy'; readonly reason: string }
  | { readonly kind: 'rate'; readonly reason: string; readonly retryInMs: number };

export class ServerLimits {
  inFlight = 0;
  readonly #perAgent = new Map<string, number>();
  readonly #bucket: TokenBucket;
  readonly #agentBuckets = new Map<string, TokenBucket>();
  readonly #o: McpServerOptions;
  #sweptAt = 0;

  constructor(o: McpServerOptions, now = Date.now()) {
    this.#o = o;
    this.#bucket = new TokenBucket(o.rateLimit.callsPerSecond, o.rateLimit.burst, now);
  }

  /** Reserves a call for `caller`, or says which limit refuses it (nothing is reserved then). */
  take(caller: string, now = Date.now()): LimitRefusal | undefined {
    const o = this.#o;
    if (this.inFlight >= o.maxConcurrent) return { kind: 'busy', reason: `MCP server ${o.name} has ${this.inFlight} calls in flight, its max_concurrent` };
    const mine = this.#perAgent.get(caller) ?? 0;
    if (mine >= o.maxConcurrentPerAgent) return { kind: 'busy', reason: `${caller} has ${mine} calls in flight on MCP server ${o.name}, its max_concurrent_per_agent` };
    this.#sweep(now);
    let agentBucket = this.#agentBuckets.get(caller);
    if (agentBucket === undefined && o.rateLimit.agentCallsPerSecond > 0) {
      agentBucket = new TokenBucket(o.rateLimit.agentCallsPerSecond, o.rateLimit.agentBurst, now);
      this.#agentBuckets.set(caller, agentBucket);
    }
    const agentWait = agentBucket?.take(now) ?? 0;
    if (agentWait > 0) return { kind: 'rate', reason: `${caller} used up its calls on MCP server ${o.name} (${o.rateLimit.agentCallsPerSecond}/s, burst ${o.rateLimit.agentBurst})`, retryInMs: agentWait };
    const wait = this.#bucket.take(now);
    if (wait > 0) {
      // Refused by the server's bucket: the agent's token was not spent on a call.
      agentBucket?.refund();
      return { kind: 'rate', reason: `MCP server ${o.name} used up its calls (${o.rateLimit.callsPerSecond}/s, burst ${o.rateLimit.burst})`, retryInMs: wait };
    }
    this.inFlight++;
    this.#perAgent.set(caller, mine + 1);
    return undefined;
  }

  release(caller: string): void {
    this.inFlight--;
    const mine = (this.#perAgent.get(caller) ?? 1) - 1;
    if (mine <= 0) this.#perAgent.delete(caller);
    else this.#perAgent.set(caller, mine);
  }

  /** Forgets full per-agent buckets now and then, so that many callers do not grow the map for ever. */
  #sweep(now: number): void {
    if (now - this.#sweptAt < IDLE_BUCKET_MS) return;
    this.#sweptAt = now;
    for (const [name, b] of this.#agentBuckets) if (b.full(now)) this.#agentBuckets.delete(name);
  }
}
