/**
 * Contract net at scale: the example manager and 100 bidders (AssemblyScript, built from source) in a
 * real pool, at the default sandbox policy, so every call into an agent has the default fuel budget.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_POLICY } from '../../src/sandbox/index.js';
import { Client, spawnAgent } from '../helpers/agents.js';
import { withPool } from '../helpers/pool.js';

/** The cn-bidder's price without config: 10 + (FNV-1a-32 of the UTF-8 name) % 90. */
function price(name: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(name, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return 10 + (h % 90);
}

test('contract net - a round with 100 bidders fits the default fuel budget and reports the lowest bid', async () => {
  await withPool({}, async (pool, ctx) => {
    assert.equal(pool.policy.fuelPerCall, DEFAULT_POLICY.fuelPerCall, 'the default budget per call');
    await spawnAgent(pool, 'cn-manager', 'manager');
    const bidders = Array.from({ length: 100 }, (_, i) => `bidder-${i}`);
    for (const name of bidders) await spawnAgent(pool, 'cn-bidder', name);
    // Lowest price; ties go to the earliest in the list.
    const winner = bidders.reduce((best, b) => (price(b) < price(best) ? b : best));
    const c = new Client(pool);
    for (const task of ['paint the fence', 'mow the lawn']) {
      // deadline_ms is long so that only the bids decide (the wait below only guards against a hang).
      const rw = c.send('manager', 'request', { task, bidders, deadline_ms: 60_000 }, { protocol: 'fipa-contract-net' });
      const reply = await c.waitFor((m) => m.in_reply_to === rw, 30_000, `the manager's answer to ${rw}`);
      assert.equal(reply.performative, 'inform', JSON.stringify(reply));
      assert.deepEqual(reply.content, { winner, price: price(winner), result: `done: ${task}` });
      assert.equal(reply.protocol, 'fipa-contract-net');
    }
    const faults = ctx.events.filter((e) => e.type === 'agent_fault');
    assert.deepEqual(faults, [], 'no agent ran out of fuel or trapped');
  });
});
