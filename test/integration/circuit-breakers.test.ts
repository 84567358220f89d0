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
    // Five senders, one message each: the agent fails for everyone. (One sender's repeated poison is
    // cut off by its own circuit first, after 3: see the per-sender tests.)
    for (let i = 0; i < 5; i++) await new Client(pool, `c${i}`).request('t', 'request', i, 'failure'); // agent_crashed, one by one
    const c = new Client(pool);
    const f = await c.request('t', 'request', 'next', 'failure');
    assert.equal((f.content as { error: string }).error, 'circuit_open');
    const [s] = await pool.stats();
    assert.equal(s!.circuit, 'open');
    assert.equal(s!.faults, 5, 'the sixth message never reached the agent');
  });
});

test('circuit breaker - operators open every breaker; a gradual reset lets a rising share of traffic back in', async () => {
  await withBreakers(async (pool) => {
    await spawnAgent(pool, 'echo', 'a');
    await spawnAgent(pool, 'echo', 'b');
    const c = new Client(pool);
    pool.openCircuits();
    await new Promise((r) => setTimeout(r, 20));
    const f = await c.request('a', 'request', 1, 'failure');
    assert.equal((f.content as { error: string }).error, 'circuit_open');
    assert.deepEqual((await pool.stats()).map((s) => s.circuit), ['forced-open', 'forced-open']);
    const RAMP_MS = 2000;
    pool.resetCircuits({ gradualMs: RAMP_MS });
    const t0 = performance.now();
    assert.deepEqual((await pool.stats()).map((s) => s.circuit), ['recovering', 'recovering'], 'both ramp at once, none is reset ahead of the other');
    // Rounds of 20 messages to a, each answered (inform: admitted; failure circuit_open: refused),
    // grouped by when in the ramp they were sent. The shares are checked with wide margins: the
    // schedule is wall-clock, the split within it deterministic (unit tests hold it to the message).
    const windows = [0, 0, 0, 0].map(() => ({ sent: 0, admitted: 0 }));
    let refusal = '';
    while (performance.now() - t0 < RAMP_MS - 50) {
      const at = performance.now() - t0;
      const sent = Array.from({ length: 20 }, (_, i) => c.send('a', 'request', i));
      const replies = await Promise.all(sent.map((rw) => c.waitFor((m) => m.in_reply_to === rw, 5000)));
      const w = windows[Math.min(3, Math.floor(at / (RAMP_MS / 4)))]!;
      w.sent += replies.length;
      w.admitted += replies.filter((m) => m.performative === 'inform').length;
      refusal ||= (replies.find((m) => m.performative === 'failure')?.content as { reason?: string } | undefined)?.reason ?? '';
      await new Promise((r) => setTimeout(r, 25));
    }
    const shares = windows.map((w) => (w.sent === 0 ? NaN : w.admitted / w.sent));
    const shown = shares.map((x) => x.toFixed(2)).join(', ');
    assert.ok(windows.every((w) => w.sent >= 20), `every quarter of the ramp was sampled: ${JSON.stringify(windows)}`);
    assert.ok(shares[0]! < 0.45, `first quarter (expected about 12 %): ${shown}`);
    assert.ok(shares[3]! > 0.55, `last quarter (expected about 87 %): ${shown}`);
    assert.ok(shares[0]! < shares[1]! && shares[1]! < shares[3]! && shares[2]! < shares[3]!, `rising: ${shown}`);
    assert.match(refusal, /circuit breaker of a is recovering after a reset: \d+% of messages are let through/);
    await new Promise((r) => setTimeout(r, Math.max(0, RAMP_MS + 100 - (performance.now() - t0))));
    assert.deepEqual((await pool.stats()).map((s) => s.circuit), ['closed', 'closed']);
    const r = await c.request('b', 'request', 2);
    assert.equal(r.content, 2);
  });
});
