/**
 * The agent test harness (src/testing/): the node's admission, host functions and runtime on the
 * test's thread, with the test's clock and randomness. Agents and fixtures built by `npm run build`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgent, DEFAULT_TEST_NOW, MAX_CALLS_PER_STEP } from '../../../src/testing/index.js';
import { AdmissionWorker } from '../../../src/sandbox/admission.js';
import { DEFAULT_POLICY } from '../../../src/sandbox/policy.js';
import { isCaxtonError } from '../../../src/errors.js';
import { agentWasm, fixtureWasm } from '../../helpers/agents.js';

interface Reading {
  now_us: number;
  mono_us: number;
  random: string;
}

async function read(seed: number | undefined, n = 32): Promise<Reading> {
  const agent = await loadAgent(fixtureWasm('harness-probe'), seed === undefined ? {} : { seed });
  try {
    const r = await agent.send({ performative: 'request', content: { op: 'read', random: n } });
    assert.equal(r.outcome, 'ok', r.error);
    return r.sent[0]?.content as Reading;
  } finally {
    await agent.close();
  }
}

test('harness - the same seed gives the agent the same random bytes; another seed other bytes', async () => {
  const a = await read(42);
  const b = await read(42);
  const c = await read(43);
  assert.match(a.random, /^[0-9a-f]{64}$/);
  assert.equal(a.random, b.random);
  assert.notEqual(a.random, c.random);
  assert.equal((await read(undefined)).random, (await read(undefined)).random, 'without a seed too: the default seed');
  // Consecutive reads continue the sequence rather than repeat it.
  const agent = await loadAgent(fixtureWasm('harness-probe'), { seed: 42 });
  const first = (await agent.send({ performative: 'request', content: { op: 'read', random: 32 } })).sent[0]?.content as Reading;
  const second = (await agent.send({ performative: 'request', content: { op: 'read', random: 32 } })).sent[0]?.content as Reading;
  assert.equal(first.random, a.random);
  assert.notEqual(second.random, first.random);
  await agent.close();
});

test('harness - the agent\'s now is the given time (or the default), and only advance() moves it and the monotonic clock', async () => {
  assert.equal((await read(1)).now_us, DEFAULT_TEST_NOW * 1000);
  const agent = await loadAgent(fixtureWasm('harness-probe'), { now: Date.UTC(2030, 0, 1) });
  try {
    const ask = async (): Promise<Reading> => (await agent.send({ performative: 'request', content: { op: 'read' } })).sent[0]?.content as Reading;
    const t0 = await ask();
    assert.equal(t0.now_us, Date.UTC(2030, 0, 1) * 1000);
    assert.equal(t0.mono_us, 0);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await ask(), t0, 'real time passing changes nothing');
    await agent.advance(1500);
    const t1 = await ask();
    assert.equal(t1.now_us, (Date.UTC(2030, 0, 1) + 1500) * 1000);
    assert.equal(t1.mono_us, 1500 * 1000);
    assert.equal(agent.clock.now(), Date.UTC(2030, 0, 1) + 1500);
  } finally {
    await agent.close();
  }
});

test('harness - timers fire only in advance(), in due order, with the clock at their due time', async () => {
  const agent = await loadAgent(fixtureWasm('harness-probe'));
  try {
    const t = (delay: number, tag: string) => agent.send({ performative: 'request', content: { op: 'timer', delay_ms: delay, tag } });
    assert.equal((await t(3000, 'late')).outcome, 'ok');
    await t(1000, 'early');
    await t(1000, 'early-second');
    assert.equal(agent.pendingTimers, 3);
    const none = await agent.advance(999);
    assert.deepEqual(none.sent, []);
    assert.equal(none.calls, 0);
    const due = await agent.advance(1);
    assert.deepEqual(due.sent.map((m) => m.content), [
      { fired: 'early', now_us: (DEFAULT_TEST_NOW + 1000) * 1000 },
      { fired: 'early-second', now_us: (DEFAULT_TEST_NOW + 1000) * 1000 },
    ]);
    assert.equal(due.calls, 2);
    assert.ok(due.fuel > 0);
    assert.equal(due.sent[0]?.receiver, 'tester');
    // One advance past several due times fires each at its own time.
    await t(500, 'mid');
    const rest = await agent.advance(10_000);
    assert.deepEqual(rest.sent.map((m) => m.content), [
      { fired: 'mid', now_us: (DEFAULT_TEST_NOW + 1500) * 1000 },
      { fired: 'late', now_us: (DEFAULT_TEST_NOW + 3000) * 1000 },
    ]);
    assert.equal(agent.pendingTimers, 0);
    assert.equal(agent.clock.now(), DEFAULT_TEST_NOW + 11_000);
  } finally {
    await agent.close();
  }
});

test('harness - fuel and memory are reported per message; the same message in the same state costs the same fuel', async () => {
  const agent = await loadAgent(agentWasm('echo'));
  const twin = await loadAgent(agentWasm('echo'));
  try {
    const first = await agent.send({ performative: 'request', content: 'x' });
    assert.equal((await twin.send({ performative: 'request', content: 'x' })).fuel, first.fuel, 'another instance, same first message: same fuel');
    const small = await agent.send({ performative: 'request', content: 'x' });
    const again = await agent.send({ performative: 'request', content: 'x' });
    const big = await agent.send({ performative: 'request', content: { list: Array.from({ length: 2000 }, (_, i) => ({ i, s: `item ${i}` })) } });
    assert.ok(small.fuel > 1000, `echo used ${small.fuel} fuel`);
    assert.ok(first.fuel > small.fuel, `the first message pays the heap's first allocations: ${first.fuel} vs ${small.fuel}`);
    assert.equal(again.fuel, small.fuel, 'deterministic');
    assert.ok(big.fuel > small.fuel * 10, `a 2000-item content costs more: ${big.fuel} vs ${small.fuel}`);
    assert.equal(small.memoryBytes % 65536, 0);
    assert.ok(big.memoryBytes > small.memoryBytes, 'the large message grew the heap');
    assert.equal(agent.memoryBytes, big.memoryBytes);
  } finally {
    await agent.close();
    await twin.close();
  }
});

test('harness - a handler that runs out of fuel reports fuel_exhausted with the budget used, and the agent serves on', async () => {
  const agent = await loadAgent(fixtureWasm('infinite-loop'), { fuel: 50_000 });
  try {
    const r = await agent.send({ performative: 'request', content: {} });
    assert.equal(r.outcome, 'fuel_exhausted');
    assert.match(r.error ?? '', /fuel exhausted/);
    assert.ok(r.fuel >= 50_000 && r.fuel < 60_000, `fuel ${r.fuel}`);
    assert.deepEqual(r.sent, [], 'the node\'s failure to the sender is not the agent\'s message');
    const again = await agent.send({ performative: 'request', content: {} });
    assert.equal(again.outcome, 'fuel_exhausted', 're-instantiated, as on a node, and exhausted again');
  } finally {
    await agent.close();
  }
});

test('harness - a trap and a stack overflow are reported as such; memory stops at memoryLimitMb', async () => {
  const trap = await loadAgent(fixtureWasm('trap-handler'));
  const r = await trap.send({ performative: 'request', content: 1 });
  assert.equal(r.outcome, 'trap');
  assert.match(r.error ?? '', /unreachable/);
  await trap.close();
  const deep = await loadAgent(fixtureWasm('deep-recursion'));
  assert.equal((await deep.send({ performative: 'request', content: 1 })).outcome, 'stack_overflow');
  await deep.close();
  const bomb = await loadAgent(fixtureWasm('memory-bomb'), { memoryLimitMb: 2 });
  const b = await bomb.send({ performative: 'request', content: 1 });
  assert.equal(b.outcome, 'ok');
  assert.equal(b.memoryBytes, 2 * 1024 * 1024);
  assert.deepEqual(b.logs, [{ level: 'info', text: 'memory-bomb: reached 32 pages' }]);
  await bomb.close();
});

test('harness - an invalid or hostile module is refused with the same error as the node\'s admission', async () => {
  const node = new AdmissionWorker();
  try {
    for (const name of ['malformed', 'truncated', 'not-wasm', 'bad-import', 'bad-import-signature', 'huge-memory', 'threads', 'reserved-export']) {
      const bytes = fixtureWasm(name);
      const expected = await node.admit(bytes, DEFAULT_POLICY).then(
        () => assert.fail(`${name} was admitted by the node`),
        (e: unknown) => e,
      );
      assert.ok(isCaxtonError(expected), name);
      await assert.rejects(loadAgent(bytes), (e: unknown) => {
        assert.ok(isCaxtonError(e), `${name}: ${String(e)}`);
        assert.deepEqual(e.toJSON(), expected.toJSON(), name);
        return true;
      });
    }
  } finally {
    await node.close();
  }
  await assert.rejects(loadAgent(fixtureWasm('start-loop')), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_AGENT_START_FAILED') && /fuel_exhausted in start/.test(e.message));
  await assert.rejects(loadAgent(fixtureWasm('wrong-abi-version')), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_AGENT_START_FAILED') && /caxton_abi_version\(\) returned 2/.test(e.message));
});

test('harness - bad options and bad messages get errors naming what is wrong', async () => {
  await assert.rejects(loadAgent(agentWasm('echo'), { name: 'has space' }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_AGENT_NAME') && /"has space": names are 1 to 255 characters/.test(e.message));
  await assert.rejects(loadAgent(agentWasm('echo'), { fuel: 10 }), /fuel must be an integer of at least 1000/);
  await assert.rejects(loadAgent(agentWasm('echo'), { memoryLimitMb: 0 }), /memoryLimitMb must be/);
  await assert.rejects(loadAgent(agentWasm('echo'), { seed: 1.5 }), /seed must be an integer/);
  await assert.rejects(loadAgent('/nonexistent/agent.wasm'), /ENOENT/);
  await assert.rejects(loadAgent(agentWasm('echo'), { kv: { '': 'x' } }), /kv key "" must be 1 to 256 bytes/);
  await assert.rejects(loadAgent(agentWasm('echo'), { kv: { k: 5 as unknown as string } }), /kv\["k"\] must be a string or a Uint8Array, got number/);
  await assert.rejects(loadAgent(agentWasm('echo'), { kv: { k: new Uint8Array(1024 * 1024 + 1) } }), /at most 1048576 \(ABI value limit\)/);
  const agent = await loadAgent(agentWasm('echo'));
  try {
    await assert.rejects(agent.send({ performative: 'shout', content: 1 }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_MESSAGE_INVALID') && /performative/.test(e.message));
    await assert.rejects(agent.send({ performative: 'inform', content: null }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_MESSAGE_INVALID'));
    await assert.rejects(agent.advance(-1), /non-negative/);
    assert.equal((await agent.send({ performative: 'inform', content: 'still serving' })).outcome, 'ok');
  } finally {
    await agent.close();
  }
  await agent.close(); // idempotent
  await assert.rejects(agent.send({ performative: 'inform', content: 1 }), /is closed/);
});

test('harness - initial key-value state: text and bytes, read back as text, bytes, entries and an object', async () => {
  const agent = await loadAgent(agentWasm('echo'), { kv: { note: 'hé', blob: Uint8Array.from([0, 255, 7]) } });
  try {
    assert.equal(agent.kv.get('note'), 'hé');
    assert.deepEqual(agent.kv.getBytes('blob'), Uint8Array.from([0, 255, 7]));
    assert.equal(agent.kv.get('missing'), undefined);
    assert.equal(agent.kv.has('blob'), true);
    assert.deepEqual(agent.kv.entries().map(([k]) => k), ['blob', 'note'], 'in key order');
    assert.deepEqual(agent.kv.byteEntries()[0], ['blob', Uint8Array.from([0, 255, 7])]);
    assert.equal(agent.kv.toObject()['note'], 'hé');
  } finally {
    await agent.close();
  }
});

test('harness - history: agent.sent keeps every step\'s messages; capabilities registered in agent_init are listed', async () => {
  const agent = await loadAgent(agentWasm('calculator'), { name: 'calc' });
  try {
    assert.deepEqual(agent.capabilities, ['arithmetic'], 'registered in agent_init');
    await agent.send({ performative: 'query-ref', content: { op: 'add', args: [1, 2] } });
    await agent.send({ performative: 'query-ref', content: { op: 'add', args: [3, 4] } });
    assert.deepEqual(agent.sent.map((m) => m.content), [{ result: 3 }, { result: 7 }]);
    assert.ok(agent.sent.every((m) => m.sender === 'calc'));
  } finally {
    await agent.close();
  }
});

test('harness - a step that never runs out of work (a timer that re-arms itself at once) ends with an error, not a hang', async () => {
  const agent = await loadAgent(fixtureWasm('harness-probe'));
  assert.equal((await agent.send({ performative: 'request', content: { op: 'timer', delay_ms: 0, tag: 'again' } })).outcome, 'ok');
  await assert.rejects(agent.advance(0), new RegExp(`agent agent made ${MAX_CALLS_PER_STEP + 1} calls in one step .* it was closed`));
  await assert.rejects(agent.send({ performative: 'request', content: {} }), /is closed/);
  await agent.close();
});

test('harness - topics the agent subscribes to and leaves are listed as they are now', async () => {
  const agent = await loadAgent(fixtureWasm('harness-probe'));
  try {
    const topic = async (op: string, t: string): Promise<unknown> => (await agent.send({ performative: 'request', content: { op, topic: t } })).sent[0]?.content;
    assert.deepEqual(await topic('subscribe', 'prices.eu'), { rc: 0 });
    await topic('subscribe', 'news');
    assert.deepEqual(agent.topics, ['prices.eu', 'news']);
    await topic('unsubscribe', 'prices.eu');
    assert.deepEqual(agent.topics, ['news']);
    assert.deepEqual(await topic('subscribe', 'bad topic!'), { rc: -8 }, 'ERR_INVALID_ARGUMENT: the host\'s check, as on a node');
    assert.deepEqual(agent.topics, ['news']);
    assert.deepEqual(agent.capabilities, []);
  } finally {
    await agent.close();
  }
});

test('harness - publish() delivers to a subscribed agent as the node delivers a publication; not subscribed, nothing is delivered', async () => {
  const agent = await loadAgent(fixtureWasm('harness-probe'), { name: 'probe' });
  try {
    const op = (o: string, t: string) => agent.send({ performative: 'request', content: { op: o, topic: t } });
    const nothing = await agent.publish('news', { performative: 'inform', sender: 'press', content: { headline: 'rain' } });
    assert.equal(nothing.outcome, 'not_subscribed');
    assert.match(nothing.error ?? '', /agent probe is not subscribed to topic "news" \(it is subscribed to no topic\): nothing was delivered/);
    assert.deepEqual([nothing.calls, nothing.fuel, nothing.sent], [0, 0, []]);

    await op('subscribe', 'news');
    const r = await agent.publish('news', { performative: 'inform', sender: 'press', content: { headline: 'rain' }, conversation_id: 'c-9' });
    assert.equal(r.outcome, 'ok', r.error);
    assert.equal(r.calls, 1);
    assert.ok(r.fuel > 0);
    // The probe answers a publication with what it received: the topic it came by and its content.
    assert.deepEqual(r.sent.map((m) => [m.performative, m.receiver, m.conversation_id, m.content]), [['inform', 'press', 'c-9', { heard: 'news', content: { headline: 'rain' } }]]);
    assert.equal(r.sent[0]?.receiver, 'press');
    // Another topic than the one it subscribed to is not delivered.
    const other = await agent.publish('sport', { performative: 'inform', content: 1 });
    assert.equal(other.outcome, 'not_subscribed');
    assert.match(other.error ?? '', /\(it is subscribed to "news"\)/);

    await op('unsubscribe', 'news');
    const after = await agent.publish('news', { performative: 'inform', sender: 'press', content: { headline: 'sun' } });
    assert.equal(after.outcome, 'not_subscribed');
    assert.equal(after.calls, 0);
    assert.equal(agent.sent.filter((m) => (m.content as { heard?: string }).heard !== undefined).length, 1, 'one publication reached it in all');

    // Bad publications are refused as the node refuses them; the agent serves on.
    await op('subscribe', 'news');
    await assert.rejects(agent.publish('news', { performative: 'inform', receiver: 'probe', content: 1 }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_MESSAGE_INVALID') && /exactly one of receiver, capability or topic/.test(e.message));
    await assert.rejects(agent.publish('news', { performative: 'inform', topic: 'sport', content: 1 }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_MESSAGE_INVALID') && /\/topic: .* topic "sport"/.test(e.message));
    await assert.rejects(agent.publish('news', { performative: 'inform', sender: 'probe', content: 1 }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_MESSAGE_INVALID') && /\/sender: sender equals the agent \("probe"\): a node does not deliver an agent's own publication back to it/.test(e.message));
    assert.equal((await agent.publish('news', { performative: 'inform', content: 2 })).outcome, 'ok');
  } finally {
    await agent.close();
  }
});

test('harness - send() refuses a message whose sender is the agent itself, as the node does', async () => {
  const agent = await loadAgent(agentWasm('echo'), { name: 'echo' });
  try {
    await assert.rejects(agent.send({ performative: 'inform', sender: 'echo', content: 1 }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_MESSAGE_INVALID') && /sender equals receiver/.test(e.message));
  } finally {
    await agent.close();
  }
});

test('harness - a non-zero handler status is outcome error; after five in a row the node\'s circuit breaker refuses the next message', async () => {
  const agent = await loadAgent(fixtureWasm('harness-probe'));
  try {
    for (let i = 0; i < 5; i++) {
      const r = await agent.send({ performative: 'request', content: { op: 'fail', status: 7 } });
      assert.equal(r.outcome, 'error');
      assert.match(r.error ?? '', /handle_message returned a non-zero status/);
      assert.equal(r.calls, 1);
    }
    const refused = await agent.send({ performative: 'request', content: { op: 'read' } });
    assert.equal(refused.outcome, 'refused');
    assert.match(refused.error ?? '', /^circuit_open: the circuit breaker of agent is open after repeated failures/);
    assert.equal(refused.calls, 0);
  } finally {
    await agent.close();
  }
});
