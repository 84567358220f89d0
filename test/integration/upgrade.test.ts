/** Module upgrades: immediate and graceful, keeping name, mailbox and key-value state. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentPool, PoolEvent } from '../../src/sandbox/index.js';
import { isCaxtonError } from '../../src/errors.js';
import { Client, agentWasm, fixtureWasm, spawnAgent } from '../helpers/agents.js';
import { withPool } from '../helpers/pool.js';

const withOneWorker = (fn: (pool: AgentPool, events: PoolEvent[]) => Promise<void>) => withPool({}, (pool, { events }) => fn(pool, events));

test('upgrade - immediate: the new version answers next, with the same key-value state', async () => {
  await withOneWorker(async (pool, events) => {
    await spawnAgent(pool, 'counter', 'x');
    const counter = pool.agent('x')!.module;
    const echo = (await pool.admit(agentWasm('echo'))).hash;
    const c = new Client(pool);
    await c.request('x', 'request', { op: 'increment', by: 3 });
    const info = await pool.upgrade('x', echo, { strategy: 'immediate' });
    assert.equal(info.module, echo);
    assert.equal(info.state, 'running');
    const r = await c.request('x', 'request', { op: 'get' });
    assert.deepEqual(r.content, { op: 'get' }, 'the echo answers now');
    await pool.upgrade('x', counter, { strategy: 'immediate' });
    const back = await c.request('x', 'request', { op: 'get' });
    assert.deepEqual(back.content, { count: 3 }, 'the state survived two upgrades');
    assert.deepEqual(events.filter((e) => e.type === 'agent_upgraded').map((e) => e.type === 'agent_upgraded' && e.to), [echo, counter]);
  });
});

test('upgrade - graceful: the messages queued at the upgrade go to the old version, later ones to the new', async () => {
  await withOneWorker(async (pool) => {
    await spawnAgent(pool, 'counter', 'x');
    const echo = (await pool.admit(agentWasm('echo'))).hash;
    const c = new Client(pool);
    pool.suspend('x');
    for (let i = 0; i < 5; i++) c.send('x', 'request', { op: 'increment', by: 1 });
    const upgraded = pool.upgrade('x', echo, { strategy: 'graceful' });
    pool.resume('x');
    await upgraded;
    c.send('x', 'request', { op: 'increment', by: 1 });
    await c.waitFor(() => c.inbox.length === 6);
    assert.deepEqual(
      c.inbox.map((m) => m.content),
      [{ count: 1 }, { count: 2 }, { count: 3 }, { count: 4 }, { count: 5 }, { op: 'increment', by: 1 }],
    );
  });
});

test('upgrade - a new version that fails to start leaves the old one running', async () => {
  await withOneWorker(async (pool) => {
    await spawnAgent(pool, 'counter', 'x');
    const before = pool.agent('x')!.module;
    const bad = (await pool.admit(fixtureWasm('start-loop'))).hash;
    await assert.rejects(pool.upgrade('x', bad, { strategy: 'immediate' }), (e) => isCaxtonError(e, 'CAXTON_ERR_AGENT_START_FAILED') && /previous version keeps running/.test(e.message));
    assert.equal(pool.agent('x')!.module, before);
    const c = new Client(pool);
    const r = await c.request('x', 'request', { op: 'increment', by: 1 });
    assert.deepEqual(r.content, { count: 1 });
  });
});

test('upgrade - only live agents, only admitted modules', async () => {
  await withOneWorker(async (pool) => {
    await spawnAgent(pool, 'counter', 'x');
    const echo = (await pool.admit(agentWasm('echo'))).hash;
    await assert.rejects(pool.upgrade('x', 'f'.repeat(64)), (e) => isCaxtonError(e, 'CAXTON_ERR_AGENT_START_FAILED'));
    await assert.rejects(pool.upgrade('nobody', echo), (e) => isCaxtonError(e, 'CAXTON_ERR_AGENT_NOT_FOUND'));
    await pool.stop('x');
    await assert.rejects(pool.upgrade('x', echo), (e) => isCaxtonError(e, 'CAXTON_ERR_AGENT_STATE'));
  });
});
