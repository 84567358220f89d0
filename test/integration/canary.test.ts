/**
 * Canary upgrades: the new version takes a growing share of the agent's messages, stage by stage, and
 * is promoted at the end, or rolled back automatically when it crashes, errs too often or is too slow.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentPool, PoolEvent } from '../../src/sandbox/index.js';
import { isCaxtonError } from '../../src/errors.js';
import { Client, agentWasm, fixtureWasm, spawnAgent, waitForEvent } from '../helpers/agents.js';
import { withPool } from '../helpers/pool.js';
import { wat } from '../helpers/wat.js';

const withOneWorker = (fn: (pool: AgentPool, events: PoolEvent[]) => Promise<void>) => withPool({}, (pool, { events }) => fn(pool, events));

/** Answers nothing and reports an error (non-zero) for every message. */
const failingAgent = () =>
  wat(`(module
    (memory (export "memory") 1)
    (func (export "caxton_abi_version") (result i32) i32.const 1)
    (func (export "caxton_alloc") (param i32) (result i32) i32.const 8192)
    (func (export "handle_message") (param i32 i32) (result i32) i32.const 1))`);

/** Succeeds after a busy loop of `iterations` (a few ms for a million). */
const slowAgent = (iterations: number) =>
  wat(`(module
    (memory (export "memory") 1)
    (func (export "caxton_abi_version") (result i32) i32.const 1)
    (func (export "caxton_alloc") (param i32) (result i32) i32.const 8192)
    (func (export "handle_message") (param i32 i32) (result i32) (local $i i32)
      (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $l (i32.lt_u (local.get $i) (i32.const ${iterations}))))
      i32.const 0))`);

/** Sends n requests in separate conversations and counts the replies by version (echo or counter). */
async function sendAndCount(c: Client, n: number): Promise<{ echo: number; counter: number }> {
  const sent = new Set<string>();
  for (let i = 0; i < n; i++) sent.add(c.send('x', 'request', { op: 'increment', by: 1 }));
  const mine = () => c.inbox.filter((m) => sent.has(m.in_reply_to ?? ''));
  await c.waitFor(() => mine().length >= n, 10_000, `${n} replies`);
  const replies = mine();
  const echo = replies.filter((m) => (m.content as { op?: string }).op === 'increment').length;
  return { echo, counter: replies.length - echo };
}

test('canary - the new version takes its share at each stage, then is promoted', async () => {
  await withOneWorker(async (pool, events) => {
    await spawnAgent(pool, 'counter', 'x');
    const echo = (await pool.admit(agentWasm('echo'))).hash;
    const c = new Client(pool);
    const upgraded = pool.upgrade('x', echo, {
      strategy: 'canary',
      canary: { stages: [{ percent: 10, durationMs: 60_000 }, { percent: 50, durationMs: 60_000 }], minSamples: 1000 },
    });
    await waitForEvent(events, (e) => e.type === 'canary_step' && e.percent === 10);
    assert.deepEqual(pool.agent('x')!.canary, { module: echo, percent: 10 });

    const at10 = await sendAndCount(c, 400);
    assert.ok(at10.echo > 400 * 0.04 && at10.echo < 400 * 0.2, `10 % stage: ${JSON.stringify(at10)}`);
    const [s] = await pool.stats();
    assert.equal(s!.canary?.module, echo);
    assert.equal(s!.canary?.messagesIn, at10.echo, 'the canary counts its own messages');
    assert.equal(s!.messagesIn, 400, 'the agent counts all of them');

    pool.promoteCanary('x'); // skip the rest of the 10 % stage and the 50 % stage by hand
    const info = await upgraded;
    assert.equal(info.module, echo);
    assert.equal(info.canary, undefined);
    assert.equal(info.state, 'running');
    const after = await sendAndCount(c, 20);
    assert.deepEqual(after, { echo: 20, counter: 0 });
    assert.ok(events.some((e) => e.type === 'agent_upgraded' && e.to === echo));
  });
});

test('canary - the stages advance on their own and end with promotion', async () => {
  await withOneWorker(async (pool, events) => {
    await spawnAgent(pool, 'counter', 'x');
    const echo = (await pool.admit(agentWasm('echo'))).hash;
    const c = new Client(pool);
    const upgraded = pool.upgrade('x', echo, {
      strategy: 'canary',
      canary: { stages: [{ percent: 5, durationMs: 150 }, { percent: 25, durationMs: 150 }, { percent: 100, durationMs: 150 }] },
    });
    const traffic = (async () => {
      while (pool.agent('x')!.module !== echo) {
        c.send('x', 'request', { op: 'increment', by: 1 });
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const info = await upgraded;
    await traffic;
    assert.equal(info.module, echo);
    const steps = events.filter((e) => e.type === 'canary_step').map((e) => e.type === 'canary_step' && e.percent);
    assert.deepEqual(steps, [5, 25, 100]);
    await c.waitFor(() => c.inbox.length > 0);
    assert.ok(c.inbox.some((m) => (m.content as { op?: string }).op === 'increment'), 'the canary answered some');
    assert.ok(c.inbox.some((m) => (m.content as { count?: number }).count !== undefined), 'the old version answered some');
  });
});

test('canary - an error rate above the limit rolls it back, and the old version keeps answering', async () => {
  await withOneWorker(async (pool, events) => {
    await spawnAgent(pool, 'counter', 'x');
    const before = pool.agent('x')!.module;
    const bad = (await pool.admit(await failingAgent())).hash;
    const c = new Client(pool);
    const upgraded = pool.upgrade('x', bad, { strategy: 'canary', canary: { stages: [{ percent: 50, durationMs: 60_000 }], maxErrorRate: 0.1, minSamples: 10 } });
    await waitForEvent(events, (e) => e.type === 'canary_step');
    for (let i = 0; i < 20; i++) c.send('x', 'request', { op: 'increment', by: 1 });
    await assert.rejects(upgraded, (e) => isCaxtonError(e, 'CAXTON_ERR_UPGRADE_ROLLED_BACK') && /error rate .* is above 10\.0%/.test(e.message));
    const rolled = events.find((e) => e.type === 'canary_rolled_back');
    assert.ok(rolled !== undefined && rolled.type === 'canary_rolled_back' && rolled.module === bad);
    const info = pool.agent('x')!;
    assert.equal(info.module, before);
    assert.equal(info.canary, undefined);
    assert.equal(info.state, 'running');
    assert.equal(info.restarts, 0, 'a canary that errs is not a crash of the agent');
    const after = await sendAndCount(c, 10);
    assert.equal(after.counter, 10, 'every message goes to the old version again');
  });
});

test('canary - a crash of the new version rolls it back at once; the sender hears of it', async () => {
  await withOneWorker(async (pool, events) => {
    await spawnAgent(pool, 'counter', 'x');
    const bad = (await pool.admit(fixtureWasm('trap-handler'))).hash;
    const c = new Client(pool);
    const upgraded = pool.upgrade('x', bad, { strategy: 'canary', canary: { stages: [{ percent: 100, durationMs: 60_000 }] } });
    await waitForEvent(events, (e) => e.type === 'canary_step');
    const rw = c.send('x', 'request', { op: 'increment', by: 1 });
    await assert.rejects(upgraded, (e) => isCaxtonError(e, 'CAXTON_ERR_UPGRADE_ROLLED_BACK') && /the canary crashed: trap/.test(e.message));
    const failure = await c.waitFor((m) => m.in_reply_to === rw);
    assert.equal(failure.performative, 'failure');
    assert.equal(pool.agent('x')!.state, 'running');
    assert.ok(!events.some((e) => e.type === 'agent_fault'), 'the agent itself did not fault');
    const r = await c.request('x', 'request', { op: 'increment', by: 1 });
    assert.deepEqual(r.content, { count: 1 });
  });
});

test('canary - a P99 above the limit rolls it back', async () => {
  await withOneWorker(async (pool) => {
    await spawnAgent(pool, 'echo', 'x');
    const slow = (await pool.admit(await slowAgent(200_000))).hash;
    const c = new Client(pool);
    const upgraded = pool.upgrade('x', slow, { strategy: 'canary', canary: { stages: [{ percent: 50, durationMs: 60_000 }], maxP99Ms: 0.05, minSamples: 16 } });
    const traffic = (async () => {
      for (let i = 0; i < 500 && pool.agent('x')!.canary === undefined; i++) await new Promise((r) => setTimeout(r, 1));
      for (let i = 0; i < 200 && pool.agent('x')!.canary !== undefined; i++) c.send('x', 'request', { i });
    })();
    await assert.rejects(upgraded, (e) => isCaxtonError(e, 'CAXTON_ERR_UPGRADE_ROLLED_BACK') && /P99 handling time [\d.]+ ms is above 0\.05 ms/.test(e.message));
    await traffic;
  });
});

test('canary - the operator can roll back; stopping the agent ends the canary too', async () => {
  await withOneWorker(async (pool, events) => {
    await spawnAgent(pool, 'counter', 'x');
    const echo = (await pool.admit(agentWasm('echo'))).hash;
    const first = pool.upgrade('x', echo, { strategy: 'canary' });
    await waitForEvent(events, (e) => e.type === 'canary_step');
    await assert.rejects(pool.upgrade('x', echo, { strategy: 'immediate' }), (e) => isCaxtonError(e, 'CAXTON_ERR_AGENT_STATE'));
    pool.rollbackCanary('x', 'looks wrong');
    await assert.rejects(first, (e) => isCaxtonError(e, 'CAXTON_ERR_UPGRADE_ROLLED_BACK') && /looks wrong/.test(e.message));
    assert.throws(() => pool.rollbackCanary('x'), (e) => isCaxtonError(e, 'CAXTON_ERR_AGENT_STATE') && /no canary upgrade in progress/.test(e.message));

    const second = pool.upgrade('x', echo, { strategy: 'canary' });
    await waitForEvent(events, (e) => e.type === 'canary_step' && events.filter((x) => x.type === 'canary_step').length === 2);
    const ended = assert.rejects(second, (e) => isCaxtonError(e, 'CAXTON_ERR_UPGRADE_ROLLED_BACK') && /the agent stopped/.test(e.message));
    await pool.stop('x');
    await ended;
  });
});

test('canary - an invalid plan is refused before anything starts', async () => {
  await withOneWorker(async (pool) => {
    await spawnAgent(pool, 'counter', 'x');
    const echo = (await pool.admit(agentWasm('echo'))).hash;
    await assert.rejects(pool.upgrade('x', echo, { strategy: 'canary', canary: { stages: [{ percent: 50, durationMs: 1 }, { percent: 5, durationMs: 1 }] } }), (e) => isCaxtonError(e, 'CAXTON_ERR_UPGRADE_PLAN'));
    assert.equal(pool.agent('x')!.canary, undefined);
    const info = await pool.upgrade('x', echo, { strategy: 'immediate' });
    assert.equal(info.module, echo, 'no upgrade was left pending');
  });
});
