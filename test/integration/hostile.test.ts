/**
 * Hostile modules (fixtures/hostile/*.wat, built by npm run build). Each test shows the attack is
 * contained: the node keeps serving and a well-behaved neighbour on the same worker still answers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AgentPool, HostError, makePolicy } from '../../src/sandbox/index.js';
import { isCaxtonError } from '../../src/errors.js';
import { Client, fixtureWasm, recordEvents, spawnAgent, waitForEvent } from '../helpers/agents.js';
import type { PoolEvent } from '../../src/sandbox/index.js';
import { tempDir } from '../helpers/tmp.js';

let dir: ReturnType<typeof tempDir>;
let pool: AgentPool;
let client: Client;
let events: PoolEvent[];

before(async () => {
  dir = tempDir();
  // One worker: every hostile agent shares its thread with the bystander.
  // A 1 MiB memory cap keeps the memory bomb quick.
  // Restarts are immediate and unlimited here: these tests are about containment; supervision
  // (back-off, giving up) has its own tests.
  pool = await AgentPool.start({
    databasePath: join(dir.path, 'caxton.db'),
    workers: 1,
    policy: makePolicy({ maxMemoryPages: 16 }),
    restartPolicy: { baseDelayMs: 0, factor: 1, maxDelayMs: 0, maxRestarts: 1_000_000, windowMs: 1000 },
  });
  events = recordEvents(pool);
  client = new Client(pool);
  await spawnAgent(pool, 'echo', 'bystander');
});

after(async () => {
  await pool.close();
  dir.cleanup();
});

async function bystanderAnswers(): Promise<void> {
  const r = await client.request('bystander', 'request', { still: 'here' });
  assert.deepEqual(r.content, { still: 'here' });
}

async function spawnFixture(name: string): Promise<void> {
  const m = await pool.admit(fixtureWasm(name));
  await pool.spawn({ name, module: m.hash });
}

function faultsOf(name: string): Extract<PoolEvent, { type: 'agent_fault' }>[] {
  return events.filter((e): e is Extract<PoolEvent, { type: 'agent_fault' }> => e.type === 'agent_fault' && e.name === name);
}

test('hostile - infinite loop in the handler: fuel stops every call; the neighbour keeps answering between them', async () => {
  await spawnFixture('infinite-loop');
  const SPINS = 10;
  // One sender per spin: a sender whose messages crash an agent 3 times is cut off by its circuit,
  // and this test is about every call being stopped by fuel.
  for (let i = 0; i < SPINS; i++) client.send('infinite-loop', 'request', i, { sender: `spinner-${i}` });
  // While the spinner's backlog is being burnt through, ping the bystander.
  const latencies: number[] = [];
  let answeredWhileSpinning = 0;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await bystanderAnswers();
    latencies.push(performance.now() - t0);
    if (faultsOf('infinite-loop').length < SPINS) answeredWhileSpinning++;
  }
  await waitForEvent(events, (e) => e.type === 'agent_fault' && faultsOf('infinite-loop').length === SPINS, 30_000);
  const faults = faultsOf('infinite-loop');
  assert.ok(faults.every((f) => f.kind === 'fuel_exhausted' && f.recovered), JSON.stringify(faults[0]));
  assert.equal(faults[0]!.message, 'fuel exhausted (CPU limit reached)');
  // Fairness, not speed: the bystander was served before the spinner's backlog was gone.
  assert.ok(answeredWhileSpinning >= 1, `bystander answered ${answeredWhileSpinning} times while the spinner still had work`);
  // Bounded: one fuel-limited call (~10M operators) is milliseconds; a generous ceiling for noisy CI.
  assert.ok(Math.max(...latencies) < 2000, `bystander latencies ${latencies.map((l) => l.toFixed(1)).join(', ')} ms`);
  await bystanderAnswers();
});

test('hostile - infinite loop in the start function: the agent does not start, nothing else notices', async () => {
  await assert.rejects(spawnFixture('start-loop'), (e) => isCaxtonError(e, 'CAXTON_ERR_AGENT_START_FAILED') && /fuel exhausted/.test(e.message));
  assert.equal(pool.agent('start-loop'), undefined);
  await bystanderAnswers();
});

test('hostile - memory bomb: memory.grow is refused at the cap', async () => {
  await spawnFixture('memory-bomb');
  client.send('memory-bomb', 'request', 'grow');
  const log = await waitForEvent(events, (e) => e.type === 'agent_log' && e.name === 'memory-bomb');
  assert.equal(log.type === 'agent_log' && /\b16\b/.test(log.text), true, `the bomb reached the 16-page cap: ${JSON.stringify(log)}`);
  const stats = await pool.stats();
  const bomb = stats.find((s) => s.name === 'memory-bomb')!;
  assert.equal(bomb.memoryBytes, 16 * 65536, 'memory stayed at the cap');
  await bystanderAnswers();
});

test('hostile - deep recursion: stack overflow is a contained fault and the agent is brought back', async () => {
  await spawnFixture('deep-recursion');
  client.send('deep-recursion', 'request', 'recurse');
  await waitForEvent(events, (e) => e.type === 'agent_fault' && e.name === 'deep-recursion');
  const [f] = faultsOf('deep-recursion');
  assert.equal(f!.kind, 'stack_overflow');
  assert.equal(f!.message, 'stack exhausted (recursion too deep)');
  assert.equal(f!.recovered, true);
  await bystanderAnswers();
});

test('hostile - a 4 GiB minimum memory is refused at admission', async () => {
  await assert.rejects(pool.admit(fixtureWasm('huge-memory')), (e) => isCaxtonError(e, 'CAXTON_ERR_MODULE_LIMIT') && /65536 pages/.test(e.message));
  await bystanderAnswers();
});

test('hostile - malformed and truncated binaries are refused with the reason', async () => {
  await assert.rejects(pool.admit(fixtureWasm('malformed')), (e) => isCaxtonError(e, 'CAXTON_ERR_MODULE_MALFORMED'));
  await assert.rejects(pool.admit(fixtureWasm('truncated')), (e) => isCaxtonError(e, 'CAXTON_ERR_MODULE_MALFORMED') && /truncat|end of|offset/i.test(e.message));
  await bystanderAnswers();
});

test('hostile - an import outside the ABI is refused and named', async () => {
  await assert.rejects(pool.admit(fixtureWasm('bad-import')), (e) => isCaxtonError(e, 'CAXTON_ERR_MODULE_IMPORT') && /env\./.test(e.message));
  await bystanderAnswers();
});

test('hostile - a trapping handler is re-instantiated after every trap', async () => {
  await spawnFixture('trap-handler');
  client.send('trap-handler', 'request', 1);
  client.send('trap-handler', 'request', 2);
  await waitForEvent(events, (e) => e.type === 'agent_started' && e.name === 'trap-handler' && e.restarts === 2);
  assert.ok(faultsOf('trap-handler').every((f) => f.kind === 'trap' && /unreachable/.test(f.message) && f.recovered));
  assert.equal(faultsOf('trap-handler').length, 2);
  assert.equal(pool.agent('trap-handler')!.state, 'running');
  await bystanderAnswers();
});

test('hostile - out-of-bounds pointers to every host function get ERR_BOUNDS, never a host crash', async () => {
  await spawnFixture('oob-pointers');
  client.send('oob-pointers', 'request', 'probe');
  const r = await client.waitFor((m) => m.sender === 'oob-pointers');
  const codes = r.content as Record<string, number>;
  const probes = Object.entries(codes).filter(([k]) => k !== 'log'); // log returns nothing; it only must not trap
  assert.ok(probes.length >= 15, JSON.stringify(codes));
  for (const [probe, code] of probes) assert.equal(code, HostError.BOUNDS, `${probe} returned ERR_BOUNDS`);
  for (const fn of ['send', 'kv_set', 'kv_get', 'kv_delete', 'random_fill', 'timer_set']) {
    assert.ok(probes.some(([k]) => k.startsWith(fn)), `${fn} was probed`);
  }
  assert.equal(faultsOf('oob-pointers').length, 0, 'the host did not trap the agent on its behalf');
  await bystanderAnswers();
});
