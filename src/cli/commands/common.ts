/** Small helpers shared by the command files. */
import { readFileSync } from 'node:fs';
import { Option } from 'commander';
import type { Coverage } from '../api-types.js';
import { CliError } from '../errors.js';

export function agentPath(name: string, rest = ''): string {
  return `/agents/${encodeURIComponent(name)}${rest}`;
}

/** Reads a .wasm file for upload, as base64. */
export function readModule(file: string): { base64: string; bytes: number } {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message}`, {
      hint: 'Pass the path of a compiled WebAssembly module (.wasm), e.g. build/agents/echo.wasm.',
      code: 'CAXTON_CLI_FILE',
    });
  }
  return { base64: data.toString('base64'), bytes: data.length };
}

/** A success line for humans: `✓ text`. */
export function ok(text: string): string {
  return `✓ ${text}\n`;
}

/**
 * Waits `ms`, or less when `signal` aborts. Polling loops (profile, canary --wait) call it once a
 * tick with the same signal, so the abort listener is removed when the timer fires: left behind, one
 * listener per tick piled up on the signal (MaxListenersExceededWarning after 11 ticks).
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** An AbortController aborted by Ctrl-C (SIGINT) or SIGTERM; `dispose` removes the handlers. */
export function interruptible(): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Values from an object for a JSON column, compact: `{"a":1}`. */
export function compactJson(value: unknown, max = 60): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text === undefined) return '-';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** `--node <name>` of the cluster-wide views. */
export function nodeOption(): Option {
  return new Option('--node <name>', 'only this node (default: every node of the cluster)');
}

/** A view's `node` query: undefined leaves it out. */
export function nodeQuery(node: string | undefined): { node?: string } {
  return node === undefined ? {} : { node };
}

/** Whether a view came from the whole cluster (its rows carry `node`), not from a single node. */
export function clusterWide(c: Coverage): boolean {
  return c.nodes !== undefined;
}

/** One line per node that did not answer a cluster-wide view, for under its table. */
export function missingLines(c: Coverage): string {
  return (c.missing ?? []).map((m) => `warning: ${m.node} did not answer: ${m.reason}\n`).join('');
}

/**
 * A cluster-wide order or view that some nodes did not answer: the command fails (exit 1) naming
 * them, after its table has shown what the others did.
 */
export function failIfMissing(c: Coverage, what: string): void {
  const missing = c.missing ?? [];
  if (missing.length === 0) return;
  throw new CliError(`${missing.length === 1 ? '1 node' : `${missing.length} nodes`} did not ${what}: ${missing.map((m) => `${m.node} (${m.reason})`).join(', ')}`, {
    hint: 'Check them with `caxton cluster members` and `caxton cluster ping <node>`; run the command again when they are up (with --node <name> for one node).',
    code: 'CAXTON_CLI_NODES_MISSING',
  });
}
