// The event stream (GET /api/v1/events). EventSource cannot send an Authorization header, and the key
// must never go in the URL, so the stream is read with fetch() and a ReadableStream reader, parsed as
// Server-Sent Events here, and reopened after a drop with a backoff (1 s doubling to 15 s).

import { API, session } from './api.js';

const MAX_BACKOFF_MS = 15_000;

/**
 * Follows the stream until stop() is called: onEvent(event) for every event's parsed data,
 * onState('open' | 'reconnecting' | 'closed', detail) when the connection changes. `query`: the
 * stream's filter (`?types=agent.log&agent=x`), none by default.
 */
export function follow(onEvent, onState, query = '') {
  let stopped = false;
  let controller;
  let backoff = 1000;
  let timer;

  async function connect() {
    controller = new AbortController();
    try {
      const res = await fetch(`${API}/events${query}`, { headers: { authorization: `Bearer ${session.key}`, accept: 'text/event-stream' }, signal: controller.signal, cache: 'no-store' });
      if (!res.ok || res.body === null) throw new Error(`event stream: HTTP ${res.status}`);
      onState('open');
      backoff = 1000;
      await read(res.body.getReader(), onEvent);
      if (!stopped) onState('reconnecting', 'the stream ended');
    } catch (e) {
      if (stopped) return;
      onState('reconnecting', e instanceof Error ? e.message : String(e));
    }
    if (stopped) return;
    timer = setTimeout(connect, backoff);
    backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
  }

  void connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    controller?.abort();
    onState('closed');
  };
}

/** Reads `event:`/`data:` blocks separated by a blank line; comment lines (keep-alives) are skipped. */
async function read(reader, onEvent) {
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    // One pass over the chunk, cut once at the end: a chunk of hundreds of events (1,000 a second)
    // must not copy what is left of it after each one.
    let start = 0;
    let end;
    while ((end = buf.indexOf('\n\n', start)) >= 0) {
      const block = buf.slice(start, end);
      start = end + 2;
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(l.startsWith('data: ') ? 6 : 5))
        .join('\n');
      if (data === '') continue;
      try {
        onEvent(JSON.parse(data));
      } catch {
        // not JSON: not one of the node's events
      }
    }
    buf = buf.slice(start);
  }
}
