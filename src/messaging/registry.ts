/**
 * Who offers what on this node: the agents that registered each capability, the subscribers of each
 * topic, and the choice of one local provider when a message is addressed to a capability. The router
 * (./router.ts) asks it first and turns to other nodes only when no local agent takes the message.
 *
 * Agents register in agent_init, so their worker reports it again after every restart; the lists
 * keep registration order and never hold a name twice. An agent that stops, fails or is removed is
 * taken out of everything (`unregister`).
 */
import type { PriorityLevel } from '../sandbox/worker/mailbox.js';

export type CapabilityStrategy = 'round-robin' | 'least-loaded';

/** How often least-loaded routing refreshes its view of the mailboxes, ms. */
const LOAD_SAMPLE_MS = 200;

/** What the registry needs from the pool; built once, so routing allocates nothing per message. */
export interface RegistryEnv {
  /** Queues a message for a local agent; false when it takes no messages. */
  deliver(to: string, json: string, priority: PriorityLevel): boolean;
  /** Whether the agent exists in its worker and takes messages. */
  accepting(name: string): boolean;
  /** Queued messages per agent, from every worker (least-loaded only). */
  queued(): Promise<readonly { readonly name: string; readonly queued: number }[]>;
}

export class Registry {
  readonly #strategy: CapabilityStrategy;
  readonly #env: RegistryEnv;
  /** capability → the agents that registered it, in registration order. */
  readonly #capabilities = new Map<string, string[]>();
  readonly #roundRobin = new Map<string, number>();
  /** topic → its subscribers, in subscription order. */
  readonly #topics = new Map<string, string[]>();
  /** least-loaded: queued messages per agent, as last sampled plus sent since. */
  readonly #load = new Map<string, number>();
  #loadTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(strategy: CapabilityStrategy, env: RegistryEnv) {
    this.#strategy = strategy;
    this.#env = env;
  }

  /** Starts sampling the mailboxes when the strategy needs it. */
  start(): void {
    if (this.#strategy !== 'least-loaded') return;
    this.#loadTimer = setInterval(() => void this.#sampleLoad(), LOAD_SAMPLE_MS);
    this.#loadTimer.unref();
  }

  close(): void {
    this.#closed = true;
    if (this.#loadTimer !== undefined) clearInterval(this.#loadTimer);
  }

  /**
   * Delivers `json` to one provider of `capability` that takes messages, chosen by the strategy.
   * Returns its name, or undefined when none can take it.
   */
  deliverToCapability(capability: string, json: string, priority: PriorityLevel): string | undefined {
    const providers = this.#capabilities.get(capability);
    if (providers === undefined || providers.length === 0) return undefined;
    const n = providers.length;
    if (this.#strategy === 'least-loaded') {
      let best: string | undefined;
      let bestLoad = Infinity;
      for (const name of providers) {
        const load = this.#load.get(name) ?? 0;
        if (load < bestLoad && this.#env.accepting(name)) {
          best = name;
          bestLoad = load;
        }
      }
      if (best === undefined || !this.#env.deliver(best, json, priority)) return undefined;
      // Counted until the next sample, so a burst does not all go to the same agent.
      this.#load.set(best, bestLoad + 1);
      return best;
    }
    const start = this.#roundRobin.get(capability) ?? 0;
    for (let i = 0; i < n; i++) {
      const name = providers[(start + i) % n] as string;
      if (this.#env.deliver(name, json, priority)) {
        this.#roundRobin.set(capability, (start + i + 1) % n);
        return name;
      }
    }
    return undefined;
  }

  /** Delivers `json` to every subscriber of `topic` except `from`; returns how many took it. */
  publish(topic: string, json: string, from: string, priority: PriorityLevel): number {
    const subscribers = this.#topics.get(topic);
    if (subscribers === undefined) return 0;
    let n = 0;
    for (const name of subscribers) if (name !== from && this.#env.deliver(name, json, priority)) n++;
    return n;
  }

  addProvider(capability: string, name: string): void {
    const list = this.#capabilities.get(capability) ?? [];
    if (!list.includes(name)) list.push(name);
    this.#capabilities.set(capability, list);
  }

  setSubscribed(topic: string, name: string, subscribed: boolean): void {
    const list = this.#topics.get(topic) ?? [];
    const i = list.indexOf(name);
    if (subscribed && i < 0) list.push(name);
    if (!subscribed && i >= 0) list.splice(i, 1);
    if (list.length > 0) this.#topics.set(topic, list);
    else this.#topics.delete(topic);
  }

  /** Takes an agent out of every capability and topic (it stopped, failed or was removed). */
  unregister(name: string): void {
    for (const registry of [this.#capabilities, this.#topics]) {
      for (const [key, list] of registry) {
        const i = list.indexOf(name);
        if (i < 0) continue;
        list.splice(i, 1);
        if (list.length === 0) registry.delete(key);
      }
    }
    this.#load.delete(name);
  }

  subscribersOf(topic: string): readonly string[] {
    return this.#topics.get(topic) ?? [];
  }

  providersOf(capability: string): readonly string[] {
    return this.#capabilities.get(capability) ?? [];
  }

  /** What one agent offers: the capabilities it registered and the topics it subscribes to, sorted. */
  offersOf(name: string): { capabilities: string[]; topics: string[] } {
    const having = (registry: Map<string, string[]>) => [...registry].filter(([, list]) => list.includes(name)).map(([key]) => key).sort();
    return { capabilities: having(this.#capabilities), topics: having(this.#topics) };
  }

  /** Every capability at least one agent has registered, sorted. */
  capabilities(): string[] {
    return [...this.#capabilities.keys()].sort();
  }

  async #sampleLoad(): Promise<void> {
    if (this.#closed) return;
    for (const s of await this.#env.queued()) this.#load.set(s.name, s.queued);
  }
}
