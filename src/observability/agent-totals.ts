/**
 * Node-wide counters (messages, errors, fuel, handling-time buckets) that only ever go up, built from
 * the per-agent counters the workers report. Summing the workers' numbers directly would not do: an
 * agent's counters vanish when it is removed and restart from zero when its worker is replaced, and a
 * node total that drops makes Prometheus' rate() see a reset and count everything again. So each scrape
 * adds, per agent, only what grew since the previous scrape.
 */
import type { AgentRuntimeStats } from '../sandbox/index.js';
import { LATENCY_BUCKET_COUNT, mergeHistograms, subtractHistograms } from './latency.js';

/** The counters of one agent that feed node totals. */
export type AgentCounters = Pick<AgentRuntimeStats, 'key' | 'name' | 'messagesIn' | 'messagesOut' | 'errors' | 'fuelUsed' | 'latency'>;

export interface CounterDelta {
  messagesIn: number;
  messagesOut: number;
  errors: number;
  fuelUsed: number;
  /** Calls per latency bucket (not cumulative). */
  latency: number[];
}

function zero(): CounterDelta {
  return { messagesIn: 0, messagesOut: 0, errors: 0, fuelUsed: 0, latency: new Array<number>(LATENCY_BUCKET_COUNT).fill(0) };
}

export class AgentTotals {
  /** Everything counted so far, node-wide. */
  readonly total: CounterDelta = zero();
  /** The last reading per agent name. */
  readonly #last = new Map<string, AgentCounters>();
  /** Agents whose counters restarted from zero (their worker was replaced) since they were last read. */
  readonly #reset = new Set<string>();

  /**
   * The named agents' counters were lost (worker replaced): their next reading counts in full. Needed
   * because an agent that is busy again by the next scrape may already be past its old numbers, which a
   * check for counters going down would miss.
   */
  markReset(names: Iterable<string>): void {
    for (const n of names) this.#reset.add(n);
  }

  /**
   * Folds one scrape's readings in and returns what grew since the previous scrape. `known` is every
   * agent the pool still has: agents missing from `readings` but still known (their worker did not
   * answer in time) keep their last reading, so they are not counted twice when they reappear.
   */
  update(readings: readonly AgentCounters[], known: ReadonlySet<string>): CounterDelta {
    const delta = zero();
    for (const now of readings) {
      const before = this.#last.get(now.name);
      const fresh = before === undefined || before.key !== now.key || this.#reset.has(now.name) || wentDown(now, before);
      const base = fresh ? undefined : before;
      delta.messagesIn += now.messagesIn - (base?.messagesIn ?? 0);
      delta.messagesOut += now.messagesOut - (base?.messagesOut ?? 0);
      delta.errors += now.errors - (base?.errors ?? 0);
      delta.fuelUsed += now.fuelUsed - (base?.fuelUsed ?? 0);
      delta.latency = mergeHistograms(delta.latency, base === undefined ? now.latency : subtractHistograms(now.latency, base.latency));
      this.#last.set(now.name, now);
      this.#reset.delete(now.name);
    }
    for (const name of this.#last.keys()) if (!known.has(name)) this.#last.delete(name);
    for (const name of this.#reset) if (!known.has(name)) this.#reset.delete(name);
    const t = this.total;
    t.messagesIn += delta.messagesIn;
    t.messagesOut += delta.messagesOut;
    t.errors += delta.errors;
    t.fuelUsed += delta.fuelUsed;
    t.latency = mergeHistograms(t.latency, delta.latency);
    return delta;
  }
}

function wentDown(now: AgentCounters, before: AgentCounters): boolean {
  if (now.messagesIn < before.messagesIn || now.messagesOut < before.messagesOut) return true;
  if (now.errors < before.errors || now.fuelUsed < before.fuelUsed) return true;
  return now.latency.some((c, i) => c < (before.latency[i] ?? 0));
}
