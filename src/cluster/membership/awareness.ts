/**
 * Lifeguard's Local Health Multiplier (memberlist awareness.go). The score runs from 0 (healthy) to
 * max − 1. It rises when this node seems to be the problem (a probe that failed without the nacks a
 * working network would have produced, having to refute a suspicion about itself) and falls with every
 * successful probe. Probe intervals are multiplied by score + 1, so a slow or overloaded node probes
 * less often and gives peers more time before it accuses them.
 */
export class Awareness {
  #score = 0;
  readonly #max: number;
  readonly #onChange: ((score: number) => void) | undefined;

  /**
   * @param max AwarenessMaxMultiplier: the score stays below it (default 8 → 0..7)
   * @param onChange called when the score actually changes (memberlist sets its health gauge there)
   */
  constructor(max: number, onChange?: (score: number) => void) {
    this.#max = Math.max(1, Math.floor(max));
    this.#onChange = onChange;
  }

  /** Adds delta, clamped to [0, max − 1]. */
  applyDelta(delta: number): void {
    const initial = this.#score;
    this.#score = Math.min(this.#max - 1, Math.max(0, this.#score + delta));
    if (this.#score !== initial) this.#onChange?.(this.#score);
  }

  /** The current score, 0 = healthy (memberlist GetHealthScore). */
  get score(): number {
    return this.#score;
  }

  /** timeout × (score + 1). */
  scaleTimeout(timeoutMs: number): number {
    return timeoutMs * (this.#score + 1);
  }
}
