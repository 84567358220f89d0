/**
 * Regressions from the sandbox review: what a worker replacement must not undo, and what must not
 * hang. A spinner (infinite loop, fuel too high to stop it) forces the watchdog to kill its worker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentPool, makePolicy, type PoolEvent } from '../../src/sandbox/index.js';
import { fixtureWasm, spawnAgent, waitForEvent } from '../helpers/agents.js';
import { withPool } from '../helpers/pool.js';

const withSpinnerPool = (fn: (pool: AgentPool, events: PoolEvent[]) => Promise<void>) =>
  withPool(
    {
      policy: makePolicy({ fuelPerCall: 1e15, maxCallMs: 200 }),
      restartPolicy: { baseDelayMs: 10, factor: 1, maxDelayMs: 10, maxRestarts: 1, windowMs: 60_000 },
    },
    (pool, { events }) => fn(pool, events),
  );

const poke = (to: string) => JSON.stringify({ performative: 'request', sender: 'client', receiver: to, content: 'spin' });
const replacements = (events: PoolEvent[]) => events.filter((e) => e.type === 'worker_replaced').length;

test('recovery - an agent given up on stays failed when its worker is replaced later', async () => {
  await withSpinnerPool(async (pool, events) => {
    const m = await pool.admit(fixtureWasm('infinite-loop'));
    await pool.spawn({ name: 'h1', module: m.hash });
    await pool.spawn({ name: 'h2', module: m.hash });
    for (let i = 0; i < 20 && pool.agent('h1')!.state !== 'failed'; i++) {
      pool.deliver('h1', poke('h1'));
      await waitForEvent(events, () => replacements(events) > i, 5000);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(pool.agent('h1')!.state, 'failed');
    const before = replacements(events);
    pool.deliver('h2', poke('h2')); // h2 overruns: the worker is replaced once more
    await waitForEvent(events, () => replacements(events) > before, 5000);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(pool.agent('h1')!.state, 'failed', 'not brought back by the replacement');
    assert.equal(pool.deliver('h1', poke('h1')), false);
  });
});

test('recovery - stop and remove asked for during a stuck call are carried out, not undone', async () => {
  await withSpinnerPool(async (pool) => {
    await spawnAgent(pool, 'echo', 'victim');
    const m = await pool.admit(fixtureWasm('infinite-loop'));
    await pool.spawn({ name: 'hog', module: m.hash });
    pool.deliver('hog', poke('hog'));
    await new Promise((r) => setTimeout(r, 50)); // the hog is now stuck in its call
    const stopped = pool.stop('victim', { graceful: false });
    const removed = pool.remove('hog');
    await Promise.all([stopped, removed]);
    assert.equal(pool.agent('victim')!.state, 'stopped');
    assert.equal(pool.agent('hog'), undefined);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(pool.agent('victim')!.state, 'stopped', 'still stopped after the worker came back');
  });
});

test('recovery - stats() during a stuck call settles with what it has', async () => {
  await withSpinnerPool(async (pool) => {
    const m = await pool.admit(fixtureWasm('infinite-loop'));
    await pool.spawn({ name: 'hog', module: m.hash });
    pool.deliver('hog', poke('hog'));
    await new Promise((r) => setTimeout(r, 50));
    const stats = await pool.stats();
    assert.ok(Array.isArray(stats));
  });
});

test('recovery - messages queued in a killed worker are counted as lost', async () => {
  await withSpinnerPool(async (pool, events) => {
    const m = await pool.admit(fixtureWasm('infinite-loop'));
    await pool.spawn({ name: 'hog', module: m.hash });
    for (let i = 0; i < 4; i++) pool.deliver('hog', poke('hog')); // one batch: one runs, three wait
    const e = await waitForEvent(events, (x) => x.type === 'worker_replaced', 5000);
    assert.equal(e.type === 'worker_replaced' && e.lostMessages, 3);
  });
});
