import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizePerformative, PERFORMATIVES } from '../../../src/messaging/performatives.js';

test('performatives - the 14 of DESIGN.md, canonical forms accepted as they are', () => {
  assert.equal(PERFORMATIVES.length, 14);
  for (const p of PERFORMATIVES) assert.equal(normalizePerformative(p), p);
});

test('performatives - variants fold to the canonical form', () => {
  assert.equal(normalizePerformative('not_understood'), 'not-understood');
  assert.equal(normalizePerformative('NOT-UNDERSTOOD'), 'not-understood');
  assert.equal(normalizePerformative('NotUnderstood'), 'not-understood');
  assert.equal(normalizePerformative('QUERY_IF'), 'query-if');
  assert.equal(normalizePerformative('AcceptProposal'), 'accept-proposal');
});

test('performatives - anything else is not a performative', () => {
  for (const v of ['', 'shout', 'requests', 'inform ', 42, null, undefined, {}]) {
    assert.equal(normalizePerformative(v), undefined, String(v));
  }
});
