/** Loads the agents and fixtures that `npm run build` compiles from source into build/. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { AgentPool, PoolEvent } from '../../src/sandbox/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

export function agentWasm(name: string): Uint8Array {
  return readFileSync(join(root, 'build', 'agents', `${name}.wasm`));
}

export function fixtureWasm(name: string): Uint8Array {
  return readFileSync(join(root, 'build', 'fixtures', `${name}.wasm`));
}

/** Admits a built example agent and starts it under `name`. */
export async function spawnAgent(pool: AgentPool, kind: string, name: string, config?: unknown): Promise<void> {
  const m = await pool.admit(agentWasm(kind));
  await pool.spawn({ name, module: m.hash, ...(config === undefined ? {} : { config }) });
}

export interface Msg {
  performative: string;
  sender: string;
  receiver?: string;
  content?: unknown;
  conversation_id?: string;
  reply_with?: string;
  in_reply_to?: string;
  protocol?: string;
  [k: string]: unknown;
}

/**
 * An endpoint outside the pool (as the API will be): it sends as `name` and collects every message
 * addressed to it.
 */
export class Client {
  readonly inbox: Msg[] = [];
  #waiters: { pred: (m: Msg) => boolean; resolve: (m: Msg) => void }[] = [];
  #seq = 0;
  readonly #off: () => void;

  constructor(
    readonly pool: AgentPool,
    readonly name = 'client',
  ) {
    this.#off = pool.addEndpoint({
      accepts: (to) => to === this.name,
      deliver: (_from, _to, json) => {
        const m = JSON.parse(json) as Msg;
        this.inbox.push(m);
        this.#waiters = this.#waiters.filter((w) => (w.pred(m) ? (w.resolve(m), false) : true));
      },
    });
  }

  /** Sends a message and returns its reply_with. */
  send(to: string, performative: string, content: unknown, extra: Partial<Msg> = {}): string {
    const replyWith = `${this.name}-${++this.#seq}`;
    const msg = { performative, sender: this.name, receiver: to, content, reply_with: replyWith, conversation_id: `conv-${replyWith}`, ...extra };
    if (!this.pool.deliver(to, JSON.stringify(msg))) throw new Error(`no agent ${to}`);
    return replyWith;
  }

  /** Resolves with the first message (already received or future) that matches. */
  waitFor(pred: (m: Msg) => boolean, timeoutMs = 5000, what = 'a message'): Promise<Msg> {
    const have = this.inbox.find(pred);
    if (have !== undefined) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; inbox: ${JSON.stringify(this.inbox)}`)), timeoutMs);
      this.#waiters.push({ pred, resolve: (m) => (clearTimeout(t), resolve(m)) });
    });
  }

  /** Sends and waits for the reply with the given performative. */
  async request(to: string, performative: string, content: unknown, replyPerformative = 'inform'): Promise<Msg> {
    const rw = this.send(to, performative, content);
    return this.waitFor((m) => m.in_reply_to === rw && m.performative === replyPerformative, 5000, `${replyPerformative} in reply to ${rw}`);
  }

  close(): void {
    this.#off();
  }
}

/** Collects pool events for assertions. */
export function recordEvents(pool: AgentPool): PoolEvent[] {
  const events: PoolEvent[] = [];
  pool.onEvent((e) => events.push(e));
  return events;
}

/** Waits until `pred` holds for some recorded event. */
export async function waitForEvent<T extends PoolEvent>(events: PoolEvent[], pred: (e: PoolEvent) => e is T, timeoutMs?: number): Promise<T>;
export async function waitForEvent(events: PoolEvent[], pred: (e: PoolEvent) => boolean, timeoutMs?: number): Promise<PoolEvent>;
export async function waitForEvent(events: PoolEvent[], pred: (e: PoolEvent) => boolean, timeoutMs = 5000): Promise<PoolEvent> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const e = events.find(pred);
    if (e !== undefined) return e;
    if (Date.now() > end) throw new Error(`no matching event within ${timeoutMs} ms; saw ${JSON.stringify(events.map((x) => x.type))}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
