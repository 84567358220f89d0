/**
 * Serf's Lamport clock (serf 0.9.4 serf/lamport.go). Serf keeps three: membership (join/leave
 * intents), user events, and queries.
 *
 * - `time()` is the current value;
 * - `increment()` adds one and returns the new value;
 * - `witness(v)`: on seeing a time `v` from another node, make sure ours is past it: if v >= ours,
 *   ours becomes v + 1; an older v changes nothing.
 *
 * Go's LamportTime is a uint64. Here it is a JS number: decoders refuse times above
 * Number.MAX_SAFE_INTEGER, and `witness` ignores a time it could not step past exactly.
 */
export type LamportTime = number;

export class LamportClock {
  #counter: number;

  constructor(start: LamportTime = 0) {
    if (!Number.isSafeInteger(start) || start < 0) throw new RangeError(`invalid Lamport time ${start}`);
    this.#counter = start;
  }

  time(): LamportTime {
    return this.#counter;
  }

  increment(): LamportTime {
    if (this.#counter >= Number.MAX_SAFE_INTEGER) throw new RangeError('Lamport clock overflow');
    this.#counter += 1;
    return this.#counter;
  }

  witness(v: LamportTime): void {
    if (!Number.isSafeInteger(v) || v < this.#counter || v >= Number.MAX_SAFE_INTEGER) return;
    this.#counter = v + 1;
  }
}
