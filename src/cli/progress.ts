/** A spinner on stderr for slow operations, shown only when stderr is a terminal. */
import type { Ora } from 'ora';

export interface Progress {
  update(text: string): void;
  stop(): void;
}

const silent: Progress = { update() {}, stop() {} };

export function interactive(): boolean {
  // A terminal that reports no width (some pseudo-terminals) would make the spinner's line
  // arithmetic divide by zero; no spinner there.
  const columns = process.stderr.columns ?? 0;
  return process.stderr.isTTY === true && columns > 0 && process.env['CI'] === undefined && process.env['TERM'] !== 'dumb';
}

/**
 * Starts a spinner with `text`. Without a terminal it does nothing at all, so stderr stays clean for
 * scripts; the command prints its result on stdout either way. ora is loaded only when a spinner is
 * shown, which keeps it out of the start-up of every other command.
 */
export function spinner(text: string): Progress {
  if (!interactive()) return silent;
  let s: Ora | undefined;
  let current = text;
  let stopped = false;
  void import('ora').then(({ default: ora }) => {
    if (!stopped) s = ora({ text: current, stream: process.stderr, discardStdin: false }).start();
  });
  return {
    update: (t) => {
      current = t;
      if (s !== undefined) s.text = t;
    },
    stop: () => {
      stopped = true;
      s?.stop();
    },
  };
}

/** Runs `work` with a spinner that stops (or is marked failed) when it settles. */
export async function withSpinner<T>(text: string, work: (p: Progress) => Promise<T>): Promise<T> {
  const p = spinner(text);
  try {
    const result = await work(p);
    p.stop();
    return result;
  } catch (e) {
    p.stop();
    throw e;
  }
}

/** A text progress bar, `[#######.............] 35%`. */
export function bar(fraction: number, width = 20): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${Math.floor(f * 100)}%`;
}
