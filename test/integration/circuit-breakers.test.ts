/** Per-agent circuit breakers through the pool: automatic opening and operator control (half-open recovery: unit tests). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentPool } from '../../src/sandbox/index.js';
import { Client, fixtureWasm, spawnAgent } from '../helpers/agents.js';
import { withPool } from '../helpers/pool.js';

// Restarts are immediate and unlimited: the breaker, not supervision, is under test.
const withBreakers = (fn: (pool: AgentPool) => Promise<void>) =>
  withPool({ restartPolicy: { baseDelayMs: 0, factor: 1, maxDelayMs: 0, maxRestarts: 1_000_000, windowMs: 1000 } }, (pool) => fn(pool));

test('circuit breaker - an agent that fails every call is cut off: senders get circuit_open at once', async () => {
  await withBreakers(async (pool) => {
    const m = await pool.admit(fixtureWasm('trap-handler'));
    await pool.spawn({ name: 't', module: m.hash });
    const c = new Client(pool);
    for (let i = 0; i < 5; i++) await c.request('t', 'request', i, 'failure'); // agent_crashed, one by one
    const f = await c.request('t', 'request', 'next', 'failure');
    assert.equal((f.content as { error: string }).error, 'circuit_open');
    const [s] = await pool.stats();
    assert.equal(s!.circuit, 'open');
    assert.equal(s!.faults, 5, 'the sixth message never reached the agent');
  });
});

test('circuit breaker - operators open every breaker and reset them gradually', async () => {
  await withBreakers(async (pool) => {
    await spawnAgent(pool, 'echo', 'a');
    await spawnAgent(pool, 'echo', 'b');
    const c = new Client(pool);
    pool.openCircuits();
    await new Promise((r) => setTimeout(r, 20));
    const f = await c.request('a', 'request', 1, 'failure');
    assert.equal((f.content as { error: string }).error, 'circuit_open');
    assert.deepEqual((await pool.stats()).map((s) => s.circuit), ['forced-open', 'forced-open']);
    pool.resetCircuits({ gradualMs: 2000 }); // two agents: a at once, b after 1 s
    await new Promise((r) => setTimeout(r, 20));
    const states = (await pool.stats()).map((s) => `${s.name}:${s.circuit}`).sort();
    assert.deepEqual(states, ['a:closed', 'b:forced-open'], 'the first is reset at once, the next later');
    await new Promise((r) => setTimeout(r, 1200));
    assert.deepEqual((await pool.stats()).map((s) => s.circuit), ['closed', 'closed']);
    const r = await c.request('b', 'request', 2);
    assert.equal(r.content, 2);
  });
});
