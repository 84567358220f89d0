/**
 * A canary: a new version of an agent running beside the current one, in the same worker, under the
 * same name, mailbox and key-value state, taking a share of the agent's messages.
 *
 * The split is deterministic. A message with a conversation_id goes to the version its conversation
 * hashes to (FNV-1a mod 100 < percent), so a conversation stays on one version as long as the share
 * does not change; other messages are spread by an accumulator (percent per message, one to the
 * canary each time it reaches 100). Both versions are called from the one mailbox, in order.
 *
 * The canary judges itself after every message it handles, so a bad version is rolled back within
 * one message of the evidence: error rate (errors / max(handled, minSamples)) above `maxErrorRate`,
 * or, once it has `minSamples` timings, P99 handling time above `maxP99Ms`. A crash rolls back at once.
 */
import type { AgentInstance } from '../agent-instance.js';
import type { CanaryLimits, CanaryStats } from '../worker-protocol.js';
import { fnv1a } from './fnv1a.js';

/** Handling times kept for the P99: the most recent ones. */
const LATENCY_WINDOW = 1024;
/** The P99 is recomputed every this many canary messages (a sort of up to LATENCY_WINDOW numbers). */
const P99_EVERY = 16;

const CONVERSATION_ID = /"conversation_id"\s*:\s*"((?:[^"\\]|\\.)*)"/;

export class Canary {
  instance: AgentInstance | undefined;
  percent: number;
  messagesIn = 0;
  errors = 0;
  faults = 0;
  #acc = 0;
  readonly #latencies = new Float64Array(LATENCY_WINDOW);
  #samples = 0;
  #p99 = 0;

  constructor(
    readonly hash: string,
    readonly module: WebAssembly.Module,
    percent: number,
    readonly limits: CanaryLimits,
  ) {
    this.percent = percent;
  }

  /** Whether this message goes to the canary. */
  takes(json: string): boolean {
    if (this.percent >= 100) return true;
    if (this.percent <= 0) return false;
    const conv = CONVERSATION_ID.exec(json);
    if (conv !== null) return fnv1a(conv[1] as string) % 100 < this.percent;
    this.#acc += this.percent;
    if (this.#acc < 100) return false;
    this.#acc -= 100;
    return true;
  }

  /** Records one handled message; returns why the canary must be rolled back, or undefined. */
  record(ms: number, failed: boolean): string | undefined {
    this.messagesIn++;
    if (failed) this.errors++;
    this.#latencies[this.#samples++ % LATENCY_WINDOW] = ms;
    const { maxErrorRate, maxP99Ms, minSamples } = this.limits;
    const rate = this.errors / Math.max(this.messagesIn, minSamples);
    if (rate > maxErrorRate) {
      return `error rate ${pct(this.errors / this.messagesIn)} (${this.errors} of ${this.messagesIn} messages) is above ${pct(maxErrorRate)}`;
    }
    if (this.#samples >= minSamples && this.#samples % P99_EVERY === 0) {
      this.#p99 = this.#computeP99();
      if (this.#p99 > maxP99Ms) return `P99 handling time ${this.#p99.toFixed(2)} ms is above ${maxP99Ms} ms`;
    }
    return undefined;
  }

  stats(): CanaryStats {
    return {
      module: this.hash,
      percent: this.percent,
      messagesIn: this.messagesIn,
      errors: this.errors,
      faults: this.faults,
      p99Ms: this.#samples === 0 ? 0 : this.#computeP99(),
      fuelUsed: this.instance?.totalFuelUsed ?? 0,
    };
  }

  #computeP99(): number {
    const n = Math.min(this.#samples, LATENCY_WINDOW);
    const sorted = this.#latencies.slice(0, n).sort();
    return sorted[Math.min(n - 1, Math.floor(n * 0.99))] as number;
  }
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x < 0.1 ? 2 : 1)}%`;
}
