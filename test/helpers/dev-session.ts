/**
 * `caxton dev` run as an author runs it, for the tests of dev (test/integration/cli/dev.test.ts,
 * new-and-dev.test.ts): a real process (the CLI from source), its output read line by line, and a
 * request sent through the node's API with a reply awaited.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { until } from './until.js';
import { caxtonArgs } from './caxton-command.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface Dev {
  readonly child: ChildProcess;
  /** Everything printed so far (stdout), and stderr apart. */
  out(): string;
  err(): string;
  /** Waits for a line matching `re` that comes after `from` (an offset into out()). */
  waitFor(re: RegExp, from?: number, ms?: number): Promise<RegExpMatchArray>;
  readonly exited: Promise<number | null>;
}

/**
 * Runs `caxton dev <args>` as an author would: no CAXTON_* settings from the environment, and none of
 * an outer `npm test`'s npm_* variables or NODE_TEST_CONTEXT, which would reach the project's own
 * build (`npm run build`) and test commands.
 */
export function runDev(args: readonly string[], env: Record<string, string> = {}): Dev {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CAXTON_') && !k.toLowerCase().startsWith('npm_') && k !== 'NODE_TEST_CONTEXT'));
  // As bin/caxton.js runs `caxton dev` (docs/sandbox.md, "Capacity").
  const child = spawn(process.execPath, ['--disable-wasm-trap-handler', ...caxtonArgs, 'dev', ...args], { cwd: root, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    out: () => out,
    err: () => err,
    exited,
    waitFor: (re, from = 0, ms = 90_000) => until(`${re} in the output of caxton dev:\n${out}\n${err}`, () => out.slice(from).match(re) ?? (child.exitCode !== null ? Promise.reject(new Error(`caxton dev exited with ${child.exitCode}:\n${out}\n${err}`)) : undefined), ms, 50),
  };
}

export interface Reply {
  readonly performative?: string;
  readonly content?: unknown;
}

/** Sends `request` with `content` to agent `to` through the API and returns its reply. */
export async function request(apiUrl: string, key: string, to: string, content: unknown): Promise<Reply> {
  const r = await fetch(`${apiUrl}/api/v1/messages?wait_reply=true&timeout_ms=20000`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ receiver: to, performative: 'request', content }),
  });
  const body = (await r.json()) as { reply?: Reply; error?: unknown };
  assert.equal(r.status, 200, JSON.stringify(body));
  return body.reply ?? {};
}

/** Whether nothing listens on `port` of 127.0.0.1. */
export async function portFree(port: number): Promise<boolean> {
  const srv = createServer();
  return new Promise((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
