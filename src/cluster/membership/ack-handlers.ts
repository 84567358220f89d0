/**
 * Pending acks by sequence number (memberlist state.go setProbeChannels, setAckHandler,
 * invokeAckHandler, invokeNackHandler). A handler is removed when its ack arrives or its timeout
 * passes, whichever is first; nacks do not remove it (several relays may nack one probe).
 */
import type { Clock, Timer } from './clock.js';

export interface AckHandler {
  /** The ack arrived (payload from the peer's ping delegate; `at` on our clock). */
  onAck(payload: Uint8Array | null, at: number): void;
  /** A relay reported that it got no ack from the target in time. */
  onNack?(): void;
  /** Nothing arrived within the timeout (or the table was cleared on shutdown). */
  onTimeout?(): void;
}

interface Entry {
  readonly handler: AckHandler;
  readonly timer: Timer;
}

export class AckHandlers {
  readonly #clock: Clock;
  readonly #entries = new Map<number, Entry>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Registers a handler for seq, reaped after timeoutMs (replaces one already there). */
  set(seq: number, timeoutMs: number, handler: AckHandler): void {
    this.#entries.get(seq)?.timer.cancel();
    const timer = this.#clock.setTimer(timeoutMs, () => {
      const e = this.#entries.get(seq);
      if (e === undefined || e.handler !== handler) return;
      this.#entries.delete(seq);
      handler.onTimeout?.();
    });
    this.#entries.set(seq, { handler, timer });
  }

  /** Delivers an ack; false when nobody waits for seq (late, duplicate or unsolicited). */
  ack(seq: number, payload: Uint8Array | null, at: number): boolean {
    const e = this.#entries.get(seq);
    if (e === undefined) return false;
    this.#entries.delete(seq);
    e.timer.cancel();
    e.handler.onAck(payload, at);
    return true;
  }

  /** Delivers a nack; false when nobody waits for seq or the waiter takes no nacks. */
  nack(seq: number): boolean {
    const e = this.#entries.get(seq);
    if (e?.handler.onNack === undefined) return false;
    e.handler.onNack();
    return true;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Times out every waiter now (shutdown). */
  clear(): void {
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    for (const e of entries) {
      e.timer.cancel();
      e.handler.onTimeout?.();
    }
  }
}
