/**
 * Polling commands back off on a 429 (src/cli/poll.ts): a real HTTP server on loopback answers 429
 * a few times, then 200; the waits the helper asked for are recorded instead of slept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient } from '../../../src/cli/client.js';
import { politely } from '../../../src/cli/poll.js';
import { CliError } from '../../../src/cli/errors.js';

/** A server whose answers to GET /api/v1/status are taken from `answers` in turn (the last one repeats). */
async function serve(answers: readonly { status: number; retryAfter?: string; body?: unknown }[]): Promise<{ client: ApiClient; hits: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server: Server = createServer((req, res) => {
    const a = answers[Math.min(n++, answers.length - 1)] as (typeof answers)[number];
    res.writeHead(a.status, { 'content-type': 'application/json', ...(a.retryAfter === undefined ? {} : { 'retry-after': a.retryAfter }) });
    res.end(JSON.stringify(a.body ?? (a.status === 429 ? { error: { code: 'CAXTON_ERR_API_RATE_LIMITED', message: 'too many requests for this key' } } : { ok: true, path: req.url })));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const client = new ApiClient({ apiUrl: `http://127.0.0.1:${port}`, urlSource: 'flag', apiKey: 'k', keySource: { kind: 'flag' } });
  return { client, hits: () => n, close: () => new Promise((r) => server.close(() => r())) };
}

test('poll - a 429 is asked again after the Retry-After the node sent, and the answer that follows is returned', async (t) => {
  const s = await serve([{ status: 429, retryAfter: '2' }, { status: 429, retryAfter: '1' }, { status: 200 }]);
  t.after(() => s.close());
  const waits: number[] = [];
  const r = await politely(() => s.client.get<{ ok: boolean }>('/status'), Date.now() + 60_000, async (ms) => void waits.push(ms));
  assert.deepEqual(r, { ok: true, path: '/api/v1/status' });
  assert.deepEqual(waits, [2000, 1000]);
  assert.equal(s.hits(), 3);
});

test('poll - without a Retry-After the waits double from 1 s; a wait past the deadline gives up with the 429', async (t) => {
  const s = await serve([{ status: 429 }]);
  t.after(() => s.close());
  const waits: number[] = [];
  const e = await politely(() => s.client.get('/status'), Date.now() + 7_500, async (ms) => void waits.push(ms)).catch((x: unknown) => x);
  assert.ok(e instanceof CliError && e.status === 429, String(e));
  assert.deepEqual(waits, [1000, 2000, 4000], 'the next wait (8 s) would end after the deadline');
});

test('poll - other errors are not retried', async (t) => {
  const s = await serve([{ status: 404, body: { error: { code: 'CAXTON_ERR_CLUSTER_UNKNOWN_NODE', message: 'no Caxton node named x' } } }, { status: 200 }]);
  t.after(() => s.close());
  const e = await politely(() => s.client.get('/status'), Date.now() + 60_000, async () => assert.fail('no wait for a 404')).catch((x: unknown) => x);
  assert.ok(e instanceof CliError && e.code === 'CAXTON_ERR_CLUSTER_UNKNOWN_NODE', String(e));
  assert.equal(s.hits(), 1);
});
