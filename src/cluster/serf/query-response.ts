/**
 * The originator's side of a Serf query (serf/query.go QueryResponse): collects the acks and
 * responses that come back for one query, at most one of each per node, until the query's deadline
 * or until the owner closes it early (the key manager does once every member answered).
 */
import type { LamportTime } from './lamport.js';

export interface QueryParams {
  /** Only these nodes answer. */
  readonly filterNodes?: readonly string[];
  /** Only nodes whose tag matches the regular expression answer (tag → expression). */
  readonly filterTags?: Readonly<Record<string, string>>;
  /** Every node that passes the filters acks on receipt. */
  readonly requestAck?: boolean;
  /** Each answer is also relayed through this many other members (0–5), for lossy networks. */
  readonly relayFactor?: number;
  /** @default gossip interval × 16 × ceil(log10(members + 1)) (serf DefaultQueryTimeout) */
  readonly timeoutMs?: number;
}

export interface NodeResponse {
  readonly from: string;
  readonly payload: Uint8Array;
}

export interface QueryOutcome {
  /** Nodes that acked (only when `requestAck`). */
  readonly acks: readonly string[];
  readonly responses: readonly NodeResponse[];
}

export class QueryResponse {
  readonly #acks = new Set<string>();
  readonly #responses = new Map<string, Uint8Array>();
  readonly #responseListeners: ((r: NodeResponse) => void)[] = [];
  readonly #timer: NodeJS.Timeout;
  readonly #onClose: () => void;
  #closed = false;
  #resolve!: (o: QueryOutcome) => void;
  /** Resolves when the query closes (deadline or close()). */
  readonly done: Promise<QueryOutcome>;

  constructor(
    readonly ltime: LamportTime,
    readonly id: number,
    readonly deadline: number,
    readonly wantsAcks: boolean,
    timeoutMs: number,
    onClose: () => void,
  ) {
    this.done = new Promise((resolve) => (this.#resolve = resolve));
    this.#onClose = onClose;
    // Not unref'd: whoever awaits `done` is owed an answer at the deadline. Shutdown closes it sooner.
    this.#timer = setTimeout(() => this.close(), timeoutMs);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Answers so far. */
  get responseCount(): number {
    return this.#responses.size;
  }

  /** Called for each new response while the query is open. */
  onResponse(fn: (r: NodeResponse) => void): void {
    this.#responseListeners.push(fn);
  }

  /** Records an ack; false when a duplicate, unasked for, or late. */
  addAck(from: string): boolean {
    if (this.#closed || !this.wantsAcks || this.#acks.has(from)) return false;
    this.#acks.add(from);
    return true;
  }

  /** Records a response; false when a duplicate or late. */
  addResponse(from: string, payload: Uint8Array): boolean {
    if (this.#closed || this.#responses.has(from)) return false;
    this.#responses.set(from, payload);
    for (const fn of this.#responseListeners) fn({ from, payload });
    return true;
  }

  /** Stops collecting: later answers are ignored. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#onClose();
    this.#resolve({ acks: [...this.#acks], responses: [...this.#responses].map(([from, payload]) => ({ from, payload })) });
  }
}
