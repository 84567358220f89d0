import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentTotals, type AgentCounters } from '../../../src/observability/agent-totals.js';
import { LATENCY_BUCKET_COUNT } from '../../../src/observability/latency.js';

function reading(name: string, n: number, key = 1): AgentCounters {
  const latency = new Array<number>(LATENCY_BUCKET_COUNT).fill(0);
  latency[3] = n;
  return { name, key, messagesIn: n, messagesOut: 2 * n, errors: Math.floor(n / 10), fuelUsed: 100 * n, latency };
}

const known = (...names: string[]): Set<string> => new Set(names);

test('agent totals - each scrape adds what grew', () => {
  const t = new AgentTotals();
  const steps: { readings: AgentCounters[]; known: Set<string>; grewIn: number; totalIn: number; what: string }[] = [
    { what: 'first sight counts in full', readings: [reading('a', 5), reading('b', 3)], known: known('a', 'b'), grewIn: 8, totalIn: 8 },
    { what: 'growth', readings: [reading('a', 7), reading('b', 3)], known: known('a', 'b'), grewIn: 2, totalIn: 10 },
    { what: 'a worker did not answer: b missing but known, nothing lost', readings: [reading('a', 7)], known: known('a', 'b'), grewIn: 0, totalIn: 10 },
    { what: 'b answers again: not counted twice', readings: [reading('a', 7), reading('b', 4)], known: known('a', 'b'), grewIn: 1, totalIn: 11 },
    { what: 'a went down: reset, count the new reading in full', readings: [reading('a', 2), reading('b', 4)], known: known('a', 'b'), grewIn: 2, totalIn: 13 },
    { what: 'b removed and a new b deployed (other key): new b counts in full', readings: [reading('a', 2), reading('b', 9, 2)], known: known('a', 'b'), grewIn: 9, totalIn: 22 },
  ];
  for (const s of steps) {
    const grew = t.update(s.readings, s.known);
    assert.equal(grew.messagesIn, s.grewIn, s.what);
    assert.equal(t.total.messagesIn, s.totalIn, s.what);
    assert.equal(t.total.messagesOut, 2 * s.totalIn, s.what);
    assert.equal(t.total.fuelUsed, 100 * s.totalIn, s.what);
    assert.equal(t.total.latency[3], s.totalIn, s.what);
  }
});

test('agent totals - markReset catches a replaced worker whose agent is already past its old numbers', () => {
  const t = new AgentTotals();
  t.update([reading('a', 5)], known('a'));
  t.markReset(['a']);
  // The new worker's counters started at 0 and reached 8: all 8 are new, not 3.
  assert.equal(t.update([reading('a', 8)], known('a')).messagesIn, 8);
  assert.equal(t.update([reading('a', 9)], known('a')).messagesIn, 1, 'the mark is used once');
});

test('agent totals - a removed agent is forgotten; deployed again under its name, it counts from zero', () => {
  const t = new AgentTotals();
  t.update([reading('a', 5)], known('a'));
  t.update([], known());
  assert.equal(t.update([reading('a', 6)], known('a')).messagesIn, 6);
  assert.equal(t.total.messagesIn, 11, 'totals never go down');
});
