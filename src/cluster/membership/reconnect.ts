/**
 * Reconnecting to failed members (Serf serf.go reconnect, handleReap; memberlist itself forgets a
 * dead node after gossipToTheDead). Every member declared failed is remembered for
 * reconnectTimeout. Each reconnectInterval we pick one at random and try a join (push/pull) with it,
 * so two halves of a healed partition find each other again without an operator. Like Serf we
 * throttle by probability failed / alive, so the cluster as a whole tries each failed member about
 * once per interval rather than every node trying every time.
 */
import type { Address } from '../transport/transport.js';
import type { Member, MemberEvent } from './delegate.js';
import type { MembershipConfig } from './config.js';
import type { Clock } from './clock.js';
import type { MembershipLogger } from './log.js';
import { randomOffset, type Random } from './selection.js';
import type { Counters } from './stats.js';

export interface ReconnectEnv {
  readonly config: MembershipConfig;
  readonly clock: Clock;
  readonly random: Random;
  readonly counters: Counters;
  readonly log: MembershipLogger;
  /** Alive and suspect members, us included. */
  numAlive(): number;
  join(addresses: readonly Address[]): Promise<number>;
  /** False after leave or shutdown. */
  active(): boolean;
}

interface Failed {
  readonly member: Member;
  readonly failedAt: number;
}

export class Reconnector {
  readonly #env: ReconnectEnv;
  readonly #failed = new Map<string, Failed>();

  constructor(env: ReconnectEnv) {
    this.#env = env;
  }

  /** Tracks failures and recoveries from the member events. */
  observe(ev: MemberEvent): void {
    switch (ev.type) {
      case 'failed':
        if (ev.member.name !== this.#env.config.name) this.#failed.set(ev.member.name, { member: ev.member, failedAt: this.#env.clock.now() });
        break;
      case 'join':
      case 'alive':
      case 'left':
        this.#failed.delete(ev.member.name);
        break;
      default:
        break; // reaped: keep trying, that is the point
    }
  }

  /** Stops retrying `name` (an operator removed it: Serf's force-leave moves it to left). */
  forget(name: string): void {
    this.#failed.delete(name);
  }

  /** Failed members still being retried. */
  get pending(): number {
    return this.#failed.size;
  }

  /** Names being retried (diagnostics). */
  pendingNames(): string[] {
    return [...this.#failed.keys()];
  }

  /** One reconnect round. */
  async tick(): Promise<void> {
    const env = this.#env;
    const now = env.clock.now();
    for (const [name, f] of this.#failed) {
      if (now - f.failedAt > env.config.reconnectTimeoutMs) {
        env.log.info({ node: name }, 'giving up reconnecting to failed member');
        this.#failed.delete(name);
      }
    }
    if (!env.active()) return;
    const n = this.#failed.size;
    if (n === 0) return;
    const prob = n / Math.max(1, env.numAlive());
    if (env.random() > prob) return;
    const pick = [...this.#failed.values()][randomOffset(n, env.random)];
    if (pick === undefined) return;
    env.counters.reconnectAttempts += 1;
    env.log.info({ node: pick.member.name, addr: `${pick.member.host}:${pick.member.port}` }, 'attempting reconnect');
    const ok = await env.join([{ host: pick.member.host, port: pick.member.port }]);
    if (ok > 0) env.counters.reconnectSuccesses += 1;
  }
}
