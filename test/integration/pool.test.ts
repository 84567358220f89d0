/**
 * The agent pool with real worker threads, a real SQLite file and the example agents built from
 * source (npm run build).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AgentPool, makePolicy } from '../../src/sandbox/index.js';
import { isCaxtonError } from '../../src/errors.js';
import { Client, fixtureWasm, recordEvents, spawnAgent, waitForEvent, agentWasm } from '../helpers/agents.js';
import { tempDir } from '../helpers/tmp.js';
import { outsideTool } from '../helpers/outside-tools.js';

// The C example agent exists only where clang and wasm-ld built it (scripts/build-agents.mjs).
const cBuild = outsideTool('clang').skip || outsideTool('wasm-ld').skip;
import { bigModule } from '../helpers/big-module.js';

async function withPool(opts: { workers?: number; fuelPerCall?: number; maxCallMs?: number }, fn: (pool: AgentPool, dbPath: string) => Promise<void>): Promise<void> {
  const dir = tempDir();
  const databasePath = join(dir.path, 'caxton.db');
  const policy = makePolicy({
    ...(opts.fuelPerCall === undefined ? {} : { fuelPerCall: opts.fuelPerCall }),
    ...(opts.maxCallMs === undefined ? {} : { maxCallMs: opts.maxCallMs }),
  });
  const pool = await AgentPool.start({ databasePath, workers: opts.workers ?? 2, policy });
  try {
    await fn(pool, databasePath);
  } finally {
    await pool.close();
    dir.cleanup();
  }
}

test('pool - echo answers inform with the same content, in the same conversation', async () => {
  await withPool({}, async (pool) => {
    await spawnAgent(pool, 'echo', 'echo-1');
    const c = new Client(pool);
    const rw = c.send('echo-1', 'request', { hello: ['world', 1, true, null] });
    const reply = await c.waitFor((m) => m.in_reply_to === rw);
    assert.equal(reply.performative, 'inform');
    assert.equal(reply.sender, 'echo-1');
    assert.equal(reply.receiver, 'client');
    assert.equal(reply.conversation_id, `conv-${rw}`);
    assert.deepEqual(reply.content, { hello: ['world', 1, true, null] });
  });
});

test('pool - the C agent follows the same ABI', { skip: cBuild }, async () => {
  await withPool({}, async (pool) => {
    await spawnAgent(pool, 'c-echo', 'c-echo');
    const c = new Client(pool);
    const reply = await c.request('c-echo', 'request', { n: 42, s: 'ünïcødé "quoted"' });
    assert.equal(reply.sender, 'c-echo');
    assert.deepEqual(reply.content, { n: 42, s: 'ünïcødé "quoted"' });
  });
});

// The example agents' answers one by one (the calculator's failure, refuse, not-understood and
// fipa-query; the counter's fipa-subscribe) are their own behaviour, tested in the agent test harness:
// test/unit/examples/*.test.ts.
test('pool - calculator speaks fipa-request through the pool: agree, then inform, in that order', async () => {
  await withPool({}, async (pool) => {
    await spawnAgent(pool, 'calculator', 'calc');
    const c = new Client(pool);
    const rw = c.send('calc', 'request', { op: 'mul', args: [6, 7] }, { protocol: 'fipa-request' });
    const inform = await c.waitFor((m) => m.in_reply_to === rw && m.performative === 'inform');
    const replies = c.inbox.filter((m) => m.in_reply_to === rw).map((m) => m.performative);
    assert.deepEqual(replies, ['agree', 'inform'], 'agree comes before inform');
    assert.deepEqual(inform.content, { result: 42 });
  });
});

test('pool - counter state lives in SQLite: it survives a new pool on the same database', async () => {
  const dir = tempDir();
  const databasePath = join(dir.path, 'caxton.db');
  try {
    const p1 = await AgentPool.start({ databasePath, workers: 1 });
    await spawnAgent(p1, 'counter', 'counter-1');
    const c1 = new Client(p1);
    for (let i = 1; i <= 5; i++) {
      const r = await c1.request('counter-1', 'request', { op: 'increment', by: 2 });
      assert.deepEqual(r.content, { count: i * 2 });
    }
    await p1.close();

    const p2 = await AgentPool.start({ databasePath, workers: 1 });
    await spawnAgent(p2, 'counter', 'counter-1');
    const c2 = new Client(p2);
    const r = await c2.request('counter-1', 'request', { op: 'get' });
    assert.deepEqual(r.content, { count: 10 });
    await p2.close();
  } finally {
    dir.cleanup();
  }
});

test('pool - contract-net round: cfp to bidders, lowest price wins, result reported', async () => {
  await withPool({ workers: 1 }, async (pool) => {
    await spawnAgent(pool, 'cn-manager', 'manager');
    await spawnAgent(pool, 'cn-bidder', 'b1', { price: 30 });
    await spawnAgent(pool, 'cn-bidder', 'b2', { price: 12 });
    await spawnAgent(pool, 'cn-bidder', 'b3', { price: 20 });
    await spawnAgent(pool, 'cn-bidder', 'b4', { refuse: true });
    const c = new Client(pool);
    const r = await c.request('manager', 'request', { task: 'paint', bidders: ['b1', 'b2', 'b3', 'b4'], deadline_ms: 2000 });
    const content = r.content as { winner: string; price: number; result: unknown };
    assert.equal(content.winner, 'b2');
    assert.equal(content.price, 12);
    assert.match(String(content.result), /paint/);
    // One worker: the whole round (cfp, propose, accept, inform) stayed inside it.
    assert.equal(pool.forwardedMessages, 0, 'no agent-to-agent message hopped through the main thread');
  });
});

test('pool - contract-net deadline: a bidder that never answers does not stall the round', async () => {
  await withPool({ workers: 2 }, async (pool) => {
    await spawnAgent(pool, 'cn-manager', 'manager');
    await spawnAgent(pool, 'cn-bidder', 'fast', { price: 50 });
    // A receiver that exists but never replies: the echo answers cfp with inform, which is not a bid.
    await spawnAgent(pool, 'echo', 'silent');
    const c = new Client(pool);
    const r = await c.request('manager', 'request', { task: 't', bidders: ['fast', 'silent'], deadline_ms: 200 });
    assert.equal((r.content as { winner: string }).winner, 'fast');
  });
});

test('pool - agents on different workers reach each other directly, worker to worker', async () => {
  await withPool({ workers: 2 }, async (pool) => {
    await spawnAgent(pool, 'cn-manager', 'manager');
    await spawnAgent(pool, 'cn-bidder', 'b1', { price: 5 });
    assert.notEqual(pool.agent('manager')!.worker, pool.agent('b1')!.worker, 'placement spreads agents');
    const c = new Client(pool);
    const r = await c.request('manager', 'request', { task: 'x', bidders: ['b1'], deadline_ms: 2000 });
    assert.equal((r.content as { winner: string }).winner, 'b1');
    assert.equal(pool.forwardedMessages, 0, 'cfp, propose, accept and inform went worker to worker, not through the main thread');
  });
});

test('pool - names are unique, unknown modules and receivers are reported', async () => {
  await withPool({}, async (pool) => {
    const events = recordEvents(pool);
    await spawnAgent(pool, 'echo', 'e');
    await assert.rejects(spawnAgent(pool, 'echo', 'e'), (err) => isCaxtonError(err, 'CAXTON_ERR_AGENT_EXISTS'));
    await assert.rejects(pool.spawn({ name: 'x', module: 'f'.repeat(64) }), (err) => isCaxtonError(err, 'CAXTON_ERR_AGENT_START_FAILED'));
    assert.equal(pool.deliver('nobody', '{}'), false);
    // The echo replies to a sender that is not an agent and that no endpoint listens for.
    pool.deliver('e', JSON.stringify({ performative: 'request', sender: 'ghost', receiver: 'e', content: 1 }));
    const u = await waitForEvent(events, (e) => e.type === 'undeliverable');
    assert.equal(u.type === 'undeliverable' && u.to, 'ghost');
  });
});

test('pool - a graceful stop drains the mailbox, then the agent is stopped; remove forgets it', async () => {
  await withPool({ workers: 1 }, async (pool) => {
    await spawnAgent(pool, 'counter', 'cnt');
    const c = new Client(pool);
    for (let i = 0; i < 20; i++) c.send('cnt', 'request', { op: 'increment', by: 1 });
    await pool.stop('cnt', { graceful: true });
    assert.equal(c.inbox.filter((m) => m.performative === 'inform').length, 20, 'every queued message was handled before the stop');
    assert.equal(pool.agent('cnt')!.state, 'stopped');
    assert.equal(pool.deliver('cnt', '{}'), false, 'a stopped agent takes no messages');
    await pool.remove('cnt');
    assert.equal(pool.agent('cnt'), undefined);
  });
});

test('pool - a trap re-instantiates the agent; its key-value state is intact', async () => {
  await withPool({ workers: 1 }, async (pool) => {
    const events = recordEvents(pool);
    await spawnAgent(pool, 'counter', 'cnt');
    const trap = await pool.admit(fixtureWasm('trap-handler'));
    await pool.spawn({ name: 'trapper', module: trap.hash });
    const c = new Client(pool);
    await c.request('cnt', 'request', { op: 'increment', by: 7 });
    c.send('trapper', 'request', 'boom');
    c.send('trapper', 'request', 'boom');
    // The second message waits in the mailbox while the agent is brought back after the first trap.
    await waitForEvent(events, (e) => e.type === 'agent_started' && e.name === 'trapper' && e.restarts === 2);
    const faults = events.filter((e) => e.type === 'agent_fault');
    assert.equal(faults.length, 2);
    assert.ok(faults.every((f) => f.type === 'agent_fault' && f.kind === 'trap' && f.recovered));
    assert.equal(pool.agent('trapper')!.lastFault?.kind, 'trap');
    const r = await c.request('cnt', 'request', { op: 'get' });
    assert.deepEqual(r.content, { count: 7 }, 'the neighbour is untouched');
  });
});

test('pool - watchdog: a call past the wall-clock limit kills its worker; every agent comes back with its state', async () => {
  // Fuel high enough that only the watchdog can stop the loop.
  await withPool({ workers: 1, fuelPerCall: 1e15, maxCallMs: 300 }, async (pool) => {
    const events = recordEvents(pool);
    await spawnAgent(pool, 'counter', 'cnt');
    const loop = await pool.admit(fixtureWasm('infinite-loop'));
    await pool.spawn({ name: 'spinner', module: loop.hash });
    const c = new Client(pool);
    await c.request('cnt', 'request', { op: 'increment', by: 3 });
    c.send('spinner', 'request', 'spin');
    const fault = await waitForEvent(events, (e) => e.type === 'agent_fault', 5000);
    assert.equal(fault.type === 'agent_fault' && fault.kind, 'timeout');
    assert.equal(fault.type === 'agent_fault' && fault.name, 'spinner', 'the watchdog names the agent whose call overran');
    const replaced = await waitForEvent(events, (e) => e.type === 'worker_replaced');
    assert.deepEqual(replaced.type === 'worker_replaced' && [...replaced.agents].sort(), ['cnt', 'spinner']);
    await waitForEvent(events, (e) => e.type === 'agent_started' && e.name === 'cnt' && e.restarts === 1);
    const r = await c.request('cnt', 'request', { op: 'increment', by: 1 });
    assert.deepEqual(r.content, { count: 4 }, 'state survived the worker being killed');
  });
});

test('pool - admission errors come back before anything runs', async () => {
  await withPool({}, async (pool) => {
    await assert.rejects(pool.admit(new Uint8Array([1, 2, 3, 4])), (e) => isCaxtonError(e, 'CAXTON_ERR_MODULE_MALFORMED'));
    const echo = agentWasm('echo');
    assert.ok((await pool.admit(echo)) === (await pool.admit(echo)), 'the second admission of the same bytes is a cache hit');
  });
});

test('pool - conversations are tracked across workers: participants, protocol, message count', async () => {
  await withPool({ workers: 2 }, async (pool) => {
    await spawnAgent(pool, 'cn-manager', 'manager');
    await spawnAgent(pool, 'cn-bidder', 'b1', { price: 5 });
    await spawnAgent(pool, 'cn-bidder', 'b2', { price: 9 });
    const c = new Client(pool);
    await c.request('manager', 'request', { task: 'x', bidders: ['b1', 'b2'], deadline_ms: 10_000 }); // the round ends when both have bid; the deadline only bounds it
    const convs = await pool.conversations();
    const cnet = convs.find((k) => k.protocol === 'fipa-contract-net');
    assert.ok(cnet, JSON.stringify(convs));
    assert.deepEqual([...cnet.participants].sort(), ['b1', 'b2', 'manager']);
    // cfp ×2, propose ×2, accept, reject, inform from the winner
    assert.equal(cnet.messages, 7);
    assert.equal(cnet.lastPerformative, 'inform');
    const withClient = convs.find((k) => k.participants.includes('client'));
    assert.ok(withClient, 'the manager\'s answer to the client is in the client\'s conversation');
  });
});

test('pool - a direct worker-to-worker message that finds its agent gone is routed again through the main thread', async () => {
  await withPool({ workers: 2 }, async (pool) => {
    await spawnAgent(pool, 'cn-manager', 'manager');
    await spawnAgent(pool, 'cn-bidder', 'b1', { price: 5 });
    const first = pool.agent('b1')!.worker;
    // Restart b1 until it lands on the other worker: the manager's worker still has the old placement
    // for a moment, or gets the new one; either way the round must complete.
    for (let i = 0; i < 4 && pool.agent('b1')!.worker === first; i++) {
      await pool.stop('b1', { graceful: false });
      await spawnAgent(pool, 'echo', `filler-${i}`);
      await pool.restart('b1');
    }
    const c = new Client(pool);
    const r = await c.request('manager', 'request', { task: 'x', bidders: ['b1'], deadline_ms: 2000 });
    assert.equal((r.content as { winner: string }).winner, 'b1');
  });
});

test('pool - admission runs off the main thread: the event loop keeps turning while a large module is admitted', async () => {
  await withPool({ workers: 1 }, async (pool) => {
    const big = bigModule(4 * 1024 * 1024);
    let turns = 0;
    let admitted = false;
    const tick = (): void => {
      turns++;
      if (!admitted) setImmediate(tick);
    };
    setImmediate(tick);
    const m = await pool.admit(big);
    admitted = true;
    // Validating and rewriting 4 MiB takes hundreds of ms; on the main thread not one turn would pass.
    assert.ok(turns > 1, `only ${turns} event-loop turns during the admission`);
    await pool.spawn({ name: 'big', module: m.hash });
    assert.equal(pool.agent('big')?.state, 'running');
  });
});
