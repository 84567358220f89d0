/**
 * Commands run in an agent project as its author runs them (npm install, its build, npm test), for
 * the tests of `caxton new` and `caxton dev` on generated projects.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

/** A generous bound per command, to catch a hang (not a timing assertion). */
export const COMMAND_TIMEOUT_MS = 5 * 60_000;

/**
 * The environment of the commands: without the npm_* variables of an outer `npm test`, and without
 * NODE_TEST_CONTEXT, with which the project's `node --test` would take itself for a child of this
 * test runner and skip its files ("run() is being called recursively").
 */
export const PROJECT_ENV: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_') && k !== 'NODE_TEST_CONTEXT'));

/** Runs `argv` in `cwd` (no shell) and collects its stdout and stderr together. */
export function runIn(argv: readonly string[], cwd: string, env: NodeJS.ProcessEnv = PROJECT_ENV): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
    child.on('error', (e) => (out += e.message));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** runIn, asserting exit code 0; returns the output. */
export async function okIn(argv: readonly string[], cwd: string, env: NodeJS.ProcessEnv = PROJECT_ENV): Promise<string> {
  const r = await runIn(argv, cwd, env);
  assert.equal(r.code, 0, `${argv.join(' ')} in ${cwd} failed:\n${r.out}`);
  return r.out;
}

/** The project's own `npm install`, offline from npm's cache (docs/first-agent.md). */
export function npmInstall(dir: string): Promise<string> {
  return okIn(['npm', 'install', '--prefer-offline', '--no-audit', '--no-fund'], dir);
}
