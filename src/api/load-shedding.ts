/**
 * Load shedding on the operator's order (`caxton cluster shed-load --percentage N`, the runbook's last
 * step against memory exhaustion): the node refuses N % of new external messages (POST /messages
 * that answer nothing) with a 503 CAXTON_ERR_LOAD_SHED and a Retry-After, so that the clients back
 * off while the agents catch up. Messages between agents and replies are never shed: refusing them
 * would break conversations already under way, which is work already paid for.
 *
 * The share is exact, not random: an error-diffusion counter adds N per decision and sheds when it
 * reaches 100, so every run of 100 decisions from a change of the percentage sheds exactly N (an
 * operator reading caxton_messages_shed_total sees the share asked for, not a coin's).
 *
 * Held in memory only: a restarted node starts at 0 (docs/operations.md).
 */
import { CaxtonError } from '../errors.js';

/** Retry-After of a shed message, seconds: long enough to relieve the node, short enough for a client's retry loop. */
export const SHED_RETRY_AFTER_S = 2;

export class LoadShedder {
  #percentage = 0;
  /** Error diffusion: what the previous decisions owe, in percent; sheds when it reaches 100. */
  #owed = 0;
  #shed = 0;

  /** The share of new external messages refused, 0 (off) to 100. */
  get percentage(): number {
    return this.#percentage;
  }

  /** New external messages refused since the node started. */
  get shedTotal(): number {
    return this.#shed;
  }

  /** Sets the share (a whole number 0..100, checked: parsePercentage). The count starts over from it. */
  set(percentage: number): void {
    this.#percentage = parsePercentage(percentage);
    this.#owed = 0;
  }

  /** One new external message: true when it is to be refused (and counted). */
  shed(): boolean {
    if (this.#percentage === 0) return false;
    this.#owed += this.#percentage;
    if (this.#owed < 100) return false;
    this.#owed -= 100;
    this.#shed++;
    return true;
  }

  /** The refusal of a shed message, for the API's error handler (status 503, Retry-After). */
  refusal(nodeId: string): CaxtonError {
    return new CaxtonError(
      'CAXTON_ERR_LOAD_SHED',
      `node ${nodeId} is shedding ${this.#percentage}% of new external messages on the operator's order (caxton cluster shed-load); this one was refused, retry after ${SHED_RETRY_AFTER_S} s`,
      { node: nodeId, percentage: this.#percentage, retryAfter: SHED_RETRY_AFTER_S },
    );
  }
}

/** A percentage from a request or a peer: a whole number from 0 to 100, or a clear error. */
export function parsePercentage(value: unknown, field = 'percentage'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 100) {
    throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', `${field} must be a whole number from 0 (off) to 100, got ${typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value))}`, { field });
  }
  return value;
}
