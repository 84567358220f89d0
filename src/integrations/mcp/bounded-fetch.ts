/**
 * fetch for the Streamable HTTP transport with a bound on what one message may take: a plain body
 * over `maxBytes`, or one event of an SSE stream over it (a server that streams an event without end,
 * or answers one huge body), is cut, and `onFlood` hears why, as a stdio server that writes a line
 * past the bound is closed (./stdio-transport.ts).
 *
 * An SSE stream is bounded per event, not in total: the GET stream of a session stays open for as
 * long as the session, and its ordinary notifications add up past any bound on a node that runs for
 * days. The SDK's parser holds one event at a time, so one event is what must fit.
 */
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';

const LF = 0x0a;
const CR = 0x0d;

export function boundedFetch(maxBytes: number, onFlood: (reason: string) => void): FetchLike {
  return async (url, init) => {
    const res = await fetch(url, init);
    if (res.body === null) return res;
    const sse = (res.headers.get('content-type') ?? '').toLowerCase().startsWith('text/event-stream');
    const events = sse ? new SseEventCounter(maxBytes) : undefined;
    let seen = 0;
    const counted = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          const over = events === undefined ? (seen += chunk.byteLength) > maxBytes : events.add(chunk);
          if (over) {
            const reason = sse ? `it sent an event of more than ${maxBytes} bytes on an SSE stream` : `it sent a response of more than ${maxBytes} bytes`;
            onFlood(reason);
            controller.error(new Error(reason));
            return;
          }
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

/**
 * The bytes of the SSE event being received, across chunks. An event ends at a blank line; a line
 * ends at CRLF, LF or CR (the SSE grammar), so a blank line is a line break right after another.
 */
export class SseEventCounter {
  readonly #max: number;
  #eventBytes = 0;
  #lineBytes = 0;
  #afterCr = false;

  constructor(maxBytes: number) {
    this.#max = maxBytes;
  }

  /** Counts `chunk`; true when the event being read has passed the bound (counting stops there). */
  add(chunk: Uint8Array): boolean {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (++this.#eventBytes > this.#max) return true;
      if (b === LF && this.#afterCr) {
        // The LF of a CRLF: the line ended at its CR.
        this.#afterCr = false;
      } else if (b === LF || b === CR) {
        this.#afterCr = b === CR;
        // A blank line: the event is complete, and the next one starts from nothing.
        if (this.#lineBytes === 0) this.#eventBytes = 0;
        this.#lineBytes = 0;
      } else {
        this.#afterCr = false;
        this.#lineBytes++;
      }
    }
    return false;
  }
}
