/**
 * The names the API has sent messages as: `api`, and every `sender` a client chose for a
 * `POST /messages` that was delivered. Agents reply to those names, so the node's API endpoint takes
 * messages addressed to them; a message to any other name that is no agent anywhere is refused as
 * no_such_agent.
 *
 * A client-chosen name is remembered for `idleMs` after its last send (a reply may come late: a
 * timer, a redelivery), and at most `limit` of them (the least recently used makes room), so that a
 * client sending under ever new names cannot grow the node's memory. The names live in memory only:
 * after a restart of the node an agent's late reply to a client-chosen name is refused as
 * no_such_agent until that client sends again (`api` is always taken).
 */

/** How long a client-chosen sender name keeps taking replies after its last send, ms. */
export const API_SENDER_IDLE_MS = 24 * 3_600_000;
/** Client-chosen sender names remembered at most. */
export const API_SENDER_LIMIT = 10_000;

export class ApiSenders {
  /** name → last send, ms; Map order is least recently used first. */
  readonly #names = new Map<string, number>();

  constructor(
    /** Always taken: the API's own name. */
    readonly permanent: string,
    readonly idleMs = API_SENDER_IDLE_MS,
    readonly limit = API_SENDER_LIMIT,
  ) {}

  /** The API sent a message as `name`. */
  remember(name: string, now = Date.now()): void {
    if (name === this.permanent) return;
    this.#names.delete(name);
    if (this.#names.size >= this.limit) this.#names.delete(this.#names.keys().next().value as string);
    this.#names.set(name, now);
  }

  /** Whether replies to `name` go to the API. */
  has(name: string, now = Date.now()): boolean {
    if (name === this.permanent) return true;
    const at = this.#names.get(name);
    if (at === undefined) return false;
    if (now - at <= this.idleMs) return true;
    this.#names.delete(name);
    return false;
  }

  get size(): number {
    return this.#names.size;
  }
}
