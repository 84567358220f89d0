#!/usr/bin/env node
// The installed entry point: runs the compiled CLI from dist/.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('caxton is not built yet: run `npm install` (it builds) or `npm run build` in the Caxton directory.\n');
  process.exit(1);
}

// A node that runs agents needs Node's --disable-wasm-trap-handler, or each agent's memory reserves
// 10 GiB of address space and one process holds about 13,000 of them (docs/sandbox.md, "Capacity").
// It is a process option fixed at start (v8.setFlagsFromString rejects it), so `server start`
// without it runs itself again with it. Other commands are API clients and run as they are.
const FLAG = '--disable-wasm-trap-handler';
const args = process.argv.slice(2);
const at = args.indexOf('server');
// `start` anywhere after `server`: options may come first and take values (`server --config x start`).
// With --releases this process is only the supervisor (src/cli/supervisor.ts); it starts the node
// with the flag itself, so it needs no second process to stand in for it.
const supervises = args.some((a) => a === '--releases' || a.startsWith('--releases='));
// `caxton dev` may start a node in its own process too (src/cli/dev-node.ts).
const runsAgents = ((at >= 0 && args.slice(at + 1).includes('start')) || commandWord(args) === 'dev') && !supervises;
const flagged = process.execArgv.includes(FLAG) || (process.env.NODE_OPTIONS ?? '').split(/\s+/).includes(FLAG);

// CAXTON_WASM_TRAP_HANDLER=on keeps V8's default (faster loads and stores, at most 12,000 agents).
if (runsAgents && !flagged && process.env.CAXTON_WASM_TRAP_HANDLER !== 'on') {
  await reexec();
} else {
  if (process.send !== undefined && process.env.CAXTON_REEXEC === '1') {
    // Started by reexec(): if that parent dies (kill -9), so does this process, as if it had been killed.
    process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
  }
  const { main } = await import(entry.href);
  await main(process.argv);
}

/** The first word that is not a global option or its value: the command (`caxton -o json dev` → dev). */
function commandWord(words) {
  const withValue = new Set(['--api-url', '--api-key', '--data-dir', '--ca-cert', '--client-cert', '--client-key', '-o', '--output']);
  for (let i = 0; i < words.length; i++) {
    if (withValue.has(words[i])) i++;
    else if (!words[i].startsWith('-')) return words[i];
  }
  return undefined;
}

/**
 * Runs this file again with the flag and stands in for it: signals are passed on, its exit code (or
 * signal) becomes ours. The child has its own process group, so a Ctrl-C reaches it once (from here),
 * as it would reach a single process, which then decides what a signal means (src/cli/server.ts).
 */
async function reexec() {
  const child = spawn(process.execPath, [FLAG, ...process.execArgv, fileURLToPath(import.meta.url), ...args], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    detached: true,
    env: { ...process.env, CAXTON_REEXEC: '1' },
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  const [code, signal] = await new Promise((resolve) => child.once('exit', (c, s) => resolve([c, s])));
  if (signal !== null) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
  process.exit(code ?? 1);
}
