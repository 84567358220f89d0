import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cascadeEvents, groupCascades, type CascadeEvent } from '../../../src/api/error-cascade.js';
import type { JournalEntry } from '../../../src/messaging/journal.js';

const ev = (time: number, kind: CascadeEvent['kind'], agent: string, peer?: string): CascadeEvent => ({ time, kind, agent, peer, detail: `${kind} ${agent}`, messageId: undefined, conversationId: undefined });

test('error cascade - a failure carried on by the agents that felt it is one cascade rooted at the first error', () => {
  const cascades = groupCascades([
    ev(0, 'fault', 'db'),
    ev(1, 'undeliverable', 'db', 'orders'),
    ev(2, 'undeliverable', 'db', 'billing'), // billing copes: affected, not failing
    ev(3, 'fault', 'orders'),
    ev(4, 'undeliverable', 'orders', 'frontend'),
    ev(5, 'log.error', 'frontend'),
    ev(6, 'fault', 'other'), // on its own
    ev(7, 'undeliverable', 'ghost', 'api'), // the API never fails: it links nothing
    ev(8, 'failure', '', 'api'), // a failure whose message the journal no longer knows
    ev(9, 'undeliverable', 'ghost2', 'api'),
  ]);
  assert.equal(cascades.length, 5);
  const [big, ...rest] = cascades;
  assert.equal(big?.root.agent, 'db');
  assert.equal(big?.root.kind, 'fault');
  assert.deepEqual(big?.agents.map((a) => [a.name, a.errors, a.causedBy]), [['db', 3, undefined], ['orders', 2, 'db'], ['frontend', 1, 'orders']]);
  assert.deepEqual(big?.affected, ['billing']);
  assert.deepEqual([big?.firstAt, big?.lastAt, big?.events.length], [0, 5, 6]);
  // The others, one error each, in time order.
  assert.deepEqual(rest.map((c) => [c.root.kind, c.root.agent, c.events.length, c.affected]), [['fault', 'other', 1, []], ['undeliverable', 'ghost', 1, ['api']], ['failure', '', 1, ['api']], ['undeliverable', 'ghost2', 1, ['api']]]);
});

test('error cascade - an agent that failed before it felt anything has no caused_by, even if it felt another\'s failure later; one cascade, rooted at the earliest error', () => {
  const cascades = groupCascades([ev(0, 'fault', 'a'), ev(1, 'fault', 'b'), ev(2, 'undeliverable', 'b', 'a')]);
  assert.equal(cascades.length, 1, 'linked by a feeling b\'s failure');
  const [c] = cascades;
  assert.equal(c?.root.agent, 'a');
  assert.deepEqual(c?.agents.map((x) => [x.name, x.causedBy]), [['a', undefined], ['b', undefined]]);
});

test('error cascade - journal entries and error log lines become errors with their subject and peer', () => {
  const j = (time: number, kind: JournalEntry['kind'], from: string, to: string, detail?: string, messageId?: string): JournalEntry => ({ time, kind, from, to, performative: undefined, messageId, conversationId: 'c1', detail });
  const events = cascadeEvents(
    [
      j(1, 'sent', 'api', 'calc', undefined, 'm-1'),
      j(2, 'fault', 'calc', 'calc', 'trap in message: unreachable'),
      j(3, 'failure', 'caxton', 'api', '{"error":"agent_crashed","reason":"calc crashed","message_id":"m-1"}'),
      j(4, 'undeliverable', 'front', 'calc', 'agent calc is failed'),
      j(5, 'undeliverable', '', 'nobody', 'no agent named nobody'),
      j(6, 'reply', 'calc', 'api'),
    ],
    [{ agent: 'front', time: 7, level: 'error', text: 'calc is down' }, { agent: 'front', time: 8, level: 'warn', text: 'retrying' }],
  );
  assert.deepEqual(
    events.map((e) => [e.time, e.kind, e.agent, e.peer]),
    [[2, 'fault', 'calc', undefined], [3, 'failure', 'calc', 'api'], [4, 'undeliverable', 'calc', 'front'], [5, 'undeliverable', 'nobody', undefined], [7, 'log.error', 'front', undefined]],
  );
  assert.equal(events[1]?.detail, 'agent_crashed: calc crashed');
  const [c] = groupCascades(events);
  assert.deepEqual(c?.agents.map((a) => [a.name, a.causedBy]), [['calc', undefined], ['front', 'calc']]);
});
