/**
 * Runs in a child process started without --disable-wasm-trap-handler: a pool whose process is then
 * given an address-space limit (RLIMIT_AS, set with prlimit) room for two more agents' memories (10
 * GiB each with the trap handler on), so that V8 fails the third with its real RangeError. Prints one
 * JSON line per step; test/integration/capacity.test.ts reads them.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentPool } from '../../src/sandbox/index.js';
import { isCaxtonError } from '../../src/errors.js';
import { agentWasm, Client } from './agents.js';
import { tempDir } from './tmp.js';

const GiB = 2 ** 30;
const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
const vmSize = () => Number(/VmSize:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) * 1024;
const outcome = async (p: Promise<unknown>) => {
  const t0 = performance.now();
  try {
    await p;
    return { ok: true, ms: performance.now() - t0 };
  } catch (e) {
    return { ok: false, ms: performance.now() - t0, code: isCaxtonError(e) ? e.code : String(e), message: (e as Error).message, details: isCaxtonError(e) ? e.details : undefined };
  }
};

const dir = tempDir();
const pool = await AgentPool.start({ databasePath: join(dir.path, 'caxton.db'), workers: 1 });
try {
  const m = await pool.admit(agentWasm('echo'));
  await pool.spawn({ name: 'first', module: m.hash });
  execFileSync('prlimit', [`--pid=${process.pid}`, `--as=${vmSize() + Math.round(2.5 * 10 * GiB)}`]);
  say({ step: 'fill', results: [await outcome(pool.spawn({ name: 'a-0', module: m.hash })), await outcome(pool.spawn({ name: 'a-1', module: m.hash }))] });
  // Twenty at once, all posted to the worker before the first fails: every one must be answered.
  say({ step: 'burst', results: await Promise.all(Array.from({ length: 20 }, (_, i) => outcome(pool.spawn({ name: `b-${i}`, module: m.hash })))) });
  say({ step: 'full', result: await outcome(pool.spawn({ name: 'a-2', module: m.hash })) });
  const client = new Client(pool);
  const rw = client.send('a-1', 'request', 'still there?');
  const reply = await client.waitFor((x) => x.in_reply_to === rw);
  say({ step: 'serving', content: reply.content });
  await pool.remove('a-0');
  say({ step: 'after_remove', result: await outcome(pool.spawn({ name: 'a-3', module: m.hash })) });
} finally {
  await pool.close();
  dir.cleanup();
}
