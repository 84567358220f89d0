/** Agent lifecycle and supervision in the pool: states, suspend/resume, stops, restarts, crash loops, stats. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentPool, type PoolEvent } from '../../src/sandbox/index.js';
import type { RestartPolicy } from '../../src/agents/index.js';
import { isCaxtonError } from '../../src/errors.js';
import { Client, fixtureWasm, spawnAgent, waitForEvent } from '../helpers/agents.js';
import { withPool } from '../helpers/pool.js';
import { brittleAgent } from '../helpers/wat-agents.js';
import { SqliteAgentStateStore } from '../../src/storage/index.js';

const withPolicy = (restartPolicy: RestartPolicy | undefined, fn: (pool: AgentPool, events: PoolEvent[]) => Promise<void>) =>
  withPool(restartPolicy ? { restartPolicy } : {}, (pool, { events }) => fn(pool, events));

const transitions = (events: PoolEvent[], name: string) =>
  events.flatMap((e) => (e.type === 'agent_state' && e.name === name ? [`${e.from}→${e.to}`] : []));

test('lifecycle - spawn goes loaded → ready → running, and each transition is an event', async () => {
  await withPolicy(undefined, async (pool, events) => {
    await spawnAgent(pool, 'echo', 'e');
    assert.deepEqual(transitions(events, 'e'), ['loaded→ready', 'ready→running']);
    assert.equal(pool.agent('e')!.state, 'running');
  });
});

test('lifecycle - an agent started with start:false holds its messages until start()', async () => {
  await withPolicy(undefined, async (pool) => {
    const m = await pool.admit((await import('../helpers/agents.js')).agentWasm('echo'));
    await pool.spawn({ name: 'e', module: m.hash, start: false });
    assert.equal(pool.agent('e')!.state, 'ready');
    const c = new Client(pool);
    c.send('e', 'request', 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.inbox.length, 0, 'a ready agent is not called');
    pool.start('e');
    await c.waitFor((m2) => m2.content === 1);
    assert.equal(pool.agent('e')!.state, 'running');
  });
});

test('lifecycle - suspend holds messages, resume delivers them in order', async () => {
  await withPolicy(undefined, async (pool) => {
    await spawnAgent(pool, 'echo', 'e');
    const c = new Client(pool);
    pool.suspend('e');
    assert.equal(pool.agent('e')!.state, 'suspended');
    for (let i = 0; i < 10; i++) c.send('e', 'request', i);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.inbox.length, 0, 'nothing handled while suspended');
    const [stats] = await pool.stats();
    assert.equal(stats!.queued, 10, 'the messages wait in the mailbox');
    pool.resume('e');
    await c.waitFor(() => c.inbox.length === 10);
    assert.deepEqual(c.inbox.map((m) => m.content), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

test('lifecycle - illegal transitions are refused with the current state named', async () => {
  await withPolicy(undefined, async (pool) => {
    await spawnAgent(pool, 'echo', 'e');
    assert.throws(() => pool.resume('e'), (e) => isCaxtonError(e, 'CAXTON_ERR_AGENT_STATE') && /it is running/.test(e.message));
    assert.throws(() => pool.start('e'), (e) => isCaxtonError(e, 'CAXTON_ERR_AGENT_STATE'));
    await pool.stop('e');
    assert.throws(() => pool.suspend('e'), (e) => isCaxtonError(e, 'CAXTON_ERR_AGENT_STATE') && /it is stopped/.test(e.message));
    await assert.rejects(pool.stop('e'), (e) => isCaxtonError(e, 'CAXTON_ERR_AGENT_STATE'));
    assert.throws(() => pool.suspend('nobody'), (e) => isCaxtonError(e, 'CAXTON_ERR_AGENT_NOT_FOUND'));
  });
});

test('lifecycle - a graceful stop of a suspended agent still drains; an immediate stop drops and counts', async () => {
  await withPolicy(undefined, async (pool, events) => {
    await spawnAgent(pool, 'counter', 'a');
    await spawnAgent(pool, 'counter', 'b');
    const c = new Client(pool);
    pool.suspend('a');
    pool.suspend('b');
    for (let i = 0; i < 5; i++) {
      c.send('a', 'request', { op: 'increment' });
      c.send('b', 'request', { op: 'increment' });
    }
    await pool.stop('a', { graceful: true });
    await pool.stop('b', { graceful: false });
    const stopped = (n: string) => events.find((e): e is Extract<PoolEvent, { type: 'agent_stopped' }> => e.type === 'agent_stopped' && e.name === n)!;
    assert.equal(stopped('a').dropped, 0);
    assert.equal(c.inbox.filter((m) => m.sender === 'a').length, 5, 'a handled its queue before stopping');
    assert.equal(stopped('b').dropped, 5, 'b dropped its queue and said so');
    assert.deepEqual(transitions(events, 'a').slice(-2), ['suspended→draining', 'draining→stopped']);
  });
});

test('lifecycle - restart of a stopped agent keeps its key-value state', async () => {
  await withPolicy(undefined, async (pool) => {
    await spawnAgent(pool, 'counter', 'cnt');
    const c = new Client(pool);
    await c.request('cnt', 'request', { op: 'increment', by: 5 });
    await pool.stop('cnt');
    const info = await pool.restart('cnt');
    assert.equal(info.state, 'running');
    assert.equal(info.restarts, 1);
    const r = await c.request('cnt', 'request', { op: 'get' });
    assert.deepEqual(r.content, { count: 5 });
  });
});

test('lifecycle - crashes no message explains are restarted with exponential back-off; a crash loop ends in failed, visibly', async () => {
  const policy: RestartPolicy = { baseDelayMs: 20, factor: 2, maxDelayMs: 1000, maxRestarts: 3, windowMs: 60_000 };
  await withPool({ restartPolicy: policy }, async (pool, { events, databasePath }) => {
    const faultAt: number[] = [];
    pool.onEvent((e) => {
      if (e.type === 'agent_fault' && e.name === 't') faultAt.push(performance.now());
    });
    const m = await pool.admit(await brittleAgent());
    await pool.spawn({ name: 't', module: m.hash });
    const c = new Client(pool);
    // Poison that also breaks agent_init: from here on every instantiation fails, whatever the messages.
    c.send('t', 'request', 'break');
    await waitForEvent(events, (e) => e.type === 'agent_state' && e.name === 't' && e.to === 'failed', 10_000);
    assert.equal(events.filter((e) => e.type === 'message_poisoned' && e.name === 't').length, 1, 'the message itself is poison, once');
    const started = events.filter((e) => e.type === 'agent_started' && e.name === 't').map((e) => (e.type === 'agent_started' ? e.restarts : -1));
    assert.deepEqual(started, [0], 'no instantiation after the first succeeded');
    const faults = events.filter((e): e is Extract<PoolEvent, { type: 'agent_fault' }> => e.type === 'agent_fault' && e.name === 't');
    assert.deepEqual(
      faults.map((f) => `${f.phase}:${f.recovered}`),
      ['message:true', 'init:true', 'init:true', 'init:true', 'init:false'],
      'the trap in the message (not counted), then the failed re-instantiation and three failed restarts: four crashes, more than max_restarts',
    );
    const info = pool.agent('t')!;
    assert.equal(info.state, 'failed');
    assert.match(info.lastFault!.message, /crashed 4 times within 60 s; last: trap: unreachable/);
    assert.equal(pool.deliver('t', '{}'), false, 'a failed agent takes no messages');
    // Back-off: each restart came at least the nominal delay (20, 40, 80 ms) after the crash before it.
    for (let i = 0; i < 3; i++) {
      const waited = faultAt[i + 2]! - faultAt[i + 1]!;
      assert.ok(waited >= 20 * 2 ** i - 2, `restart ${i + 1} came ${waited.toFixed(1)} ms after crash ${i + 1}`);
    }
    // An operator can bring it back once the cause is gone; the crash history starts over.
    const store = new SqliteAgentStateStore(databasePath);
    store.delete('t', new TextEncoder().encode('broken'));
    store.close();
    const again = await pool.restart('t');
    assert.equal(again.state, 'running');
    const r = await c.request('t', 'request', 'hello');
    assert.deepEqual(r.content, { ok: true });
  });
});

test('lifecycle - messages that crash the agent never make it failed: each is poison, and the agent is re-instantiated at once', async () => {
  // The same tight intensity as above: 3 crashes a minute at most.
  const policy: RestartPolicy = { baseDelayMs: 20, factor: 2, maxDelayMs: 1000, maxRestarts: 3, windowMs: 60_000 };
  await withPolicy(policy, async (pool, events) => {
    const m = await pool.admit(fixtureWasm('trap-handler'));
    await pool.spawn({ name: 't', module: m.hash });
    // Ten senders (each sender's own circuit would cut it off after 3), ten traps.
    const clients = Array.from({ length: 10 }, (_, i) => new Client(pool, `sender-${i}`));
    const failures = await Promise.all(clients.map((c, i) => c.request('t', 'request', i, 'failure')));
    assert.ok(failures.every((f) => (f.content as { error: string }).error === 'agent_crashed'), JSON.stringify(failures[0]));
    assert.equal(events.filter((e) => e.type === 'message_poisoned' && e.name === 't').length, 10);
    const info = pool.agent('t')!;
    assert.equal(info.state, 'running');
    assert.equal(info.restarts, 10, 'every re-instantiation counts as a restart');
    assert.ok(!events.some((e) => e.type === 'agent_state' && e.name === 't' && (e.to === 'loaded' || e.to === 'failed')), 'never out of running');
  });
});

test('lifecycle - per-agent statistics: messages, errors, fuel, memory, latency histogram', async () => {
  await withPolicy(undefined, async (pool) => {
    await spawnAgent(pool, 'calculator', 'calc');
    const c = new Client(pool);
    for (let i = 0; i < 20; i++) await c.request('calc', 'request', { op: 'add', args: [i, 1] });
    const [s] = await pool.stats();
    assert.equal(s!.name, 'calc');
    assert.equal(s!.state, 'running');
    assert.equal(s!.messagesIn, 20);
    assert.equal(s!.messagesOut, 40, 'agree and inform for each request');
    assert.equal(s!.errors, 0);
    assert.ok(s!.fuelUsed > 0);
    assert.ok(s!.memoryBytes >= 65536);
    assert.equal(s!.latency.reduce((a, b) => a + b, 0), 20, 'one latency sample per message');
  });
});
