/**
 * A node at capacity refuses a new agent at once with CAXTON_ERR_NODE_CAPACITY naming the limit, and never
 * leaves a spawn waiting: the pool's own limit (maxAgents), and a real address-space exhaustion (a
 * child process under RLIMIT_AS, where V8 throws its own RangeError for the agent's memory).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { outsideTool } from '../helpers/outside-tools.js';
import { fileURLToPath } from 'node:url';
import { withPool } from '../helpers/pool.js';
import { agentWasm, Client } from '../helpers/agents.js';
import { isCaxtonError } from '../../src/errors.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('capacity - a spawn beyond maxAgents fails at once with CAXTON_ERR_NODE_CAPACITY; remove() frees a place', async () => {
  await withPool({ maxAgents: 3 }, async (pool) => {
    const m = await pool.admit(agentWasm('echo'));
    for (let i = 0; i < 3; i++) await pool.spawn({ name: `a-${i}`, module: m.hash });
    await assert.rejects(pool.spawn({ name: 'a-3', module: m.hash }), (e: unknown) => {
      assert.ok(isCaxtonError(e, 'CAXTON_ERR_NODE_CAPACITY'), String(e));
      assert.match(e.message, /agent a-3 not started: this node is at capacity with 3 agents, the pool's limit of 3 agents \(maxAgents\)/);
      assert.deepEqual(e.details, { agent: 'a-3', agents: 3, limit: 'max_agents', capacity: 3 });
      assert.equal(e.status, 503);
      return true;
    });
    assert.equal(pool.agent('a-3'), undefined);
    // A stopped agent keeps its place (it can be restarted); a removed one frees it.
    await pool.stop('a-0');
    await assert.rejects(pool.spawn({ name: 'a-3', module: m.hash }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_NODE_CAPACITY'));
    await pool.remove('a-0');
    await pool.spawn({ name: 'a-3', module: m.hash });
    const c = new Client(pool);
    const rw = c.send('a-3', 'request', 'hi');
    assert.equal((await c.waitFor((x) => x.in_reply_to === rw)).content, 'hi');
  });
});

const prlimit = outsideTool('prlimit');

test('capacity - address space exhausted: the spawn fails with V8\'s own error as CAXTON_ERR_NODE_CAPACITY, later ones at once, the node keeps serving', { skip: prlimit.skip }, async () => {
  // Without --disable-wasm-trap-handler: each agent's memory reserves 10 GiB, so a limit on the
  // child's address space is reached after a known number of agents.
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/address-space-entry.ts'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    // Generous: the whole run takes about a second; this only catches a hang.
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  assert.equal(code, 0, `child exited with ${code}:\n${out}\n${err}`);
  const steps = new Map(out.trim().split('\n').map((l) => JSON.parse(l) as { step: string; [k: string]: any }).map((s) => [s.step, s]));
  assert.deepEqual(steps.get('fill')?.results.map((r: { ok: boolean }) => r.ok), [true, true]);
  const burst = steps.get('burst')?.results as { ok: boolean; code: string; message: string; details: { limit: string } }[];
  assert.equal(burst.length, 20);
  assert.ok(burst.every((r) => !r.ok && r.code === 'CAXTON_ERR_NODE_CAPACITY' && r.details.limit === 'memory'), JSON.stringify(burst));
  assert.match(burst[0]?.message ?? '', /^agent b-0 not started: this node is at capacity with \d+ agents, the host could not allocate another WebAssembly memory \(WebAssembly\.Instance\(\): Out of memory: Cannot allocate Wasm memory/);
  const full = steps.get('full')?.result;
  assert.equal(full.ok, false);
  assert.equal(full.code, 'CAXTON_ERR_NODE_CAPACITY', full.message);
  assert.match(full.message, /^agent a-2 not started: this node is at capacity with 3 agents, the host could not allocate another WebAssembly memory \(WebAssembly\.Instance\(\): Out of memory: Cannot allocate Wasm memory/);
  assert.deepEqual(full.details, { agent: 'a-2', agents: 3, limit: 'memory', capacity: 3 });
  assert.equal(steps.get('serving')?.content, 'still there?');
  assert.equal(steps.get('after_remove')?.result.ok, true, JSON.stringify(steps.get('after_remove')));
});
