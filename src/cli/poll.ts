/**
 * Polling requests of long commands (`cluster rolling-restart`, `cluster start`, `security
 * rotate-certs`): a 429 (the API's rate limit, shared with whatever else uses the key) is no failure
 * of the operation but a request to come back later. The request goes again after the
 * Retry-After the node sent (or, without one, after a back-off doubling from 1 s up to 30 s), as long
 * as the wait ends before the command's own deadline; past it, the 429 is the error.
 */
import { CliError } from './errors.js';
import { sleep } from './commands/common.js';

const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

/** The wait a 429 asked for, ms: its Retry-After (seconds), as the client recorded it in the error's details. */
export function retryAfterMs(e: CliError): number | undefined {
  const s = e.details?.['retryAfter'];
  const n = typeof s === 'number' ? s : typeof s === 'string' ? Number(s) : Number.NaN;
  return Number.isFinite(n) && n >= 0 ? Math.ceil(n * 1000) : undefined;
}

/** Runs `request`, again after each 429 as the node asks, until `deadline` (epoch ms). */
export async function politely<T>(request: () => Promise<T>, deadline: number, wait: (ms: number) => Promise<void> = sleep): Promise<T> {
  let backoff = FIRST_BACKOFF_MS;
  for (;;) {
    try {
      return await request();
    } catch (e) {
      if (!(e instanceof CliError) || e.status !== 429) throw e;
      const ms = retryAfterMs(e) ?? backoff;
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      if (Date.now() + ms > deadline) throw e;
      await wait(ms);
    }
  }
}
