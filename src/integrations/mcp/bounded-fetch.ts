/**
 * fetch for the Streamable HTTP transport with a bound on each response body: a server that streams
 * without end (or answers one huge body) is cut at `maxBytes`, and `onFlood` hears why, as a stdio
 * server that writes a line past the bound is closed (./stdio-transport.ts).
 */
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';

export function boundedFetch(maxBytes: number, onFlood: (reason: string) => void): FetchLike {
  return async (url, init) => {
    const res = await fetch(url, init);
    if (res.body === null) return res;
    let seen = 0;
    const counted = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          seen += chunk.byteLength;
          if (seen > maxBytes) {
            const reason = `it sent a response of more than ${maxBytes} bytes`;
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
