import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeState } from '../../../../src/cluster/wire/index.js';
import { Reconnector } from '../../../../src/cluster/membership/reconnect.js';
import { Counters } from '../../../../src/cluster/membership/stats.js';
import { fastConfig } from './helpers.js';
import { FakeClock } from './fake-clock.js';
import { silentLogger } from '../../../../src/cluster/membership/log.js';
import { skipForGossip } from '../../../../src/cluster/membership/gossip.js';
import type { Member } from '../../../../src/cluster/membership/delegate.js';
import type { Address } from '../../../../src/cluster/transport/transport.js';
import type { NodeRecord } from '../../../../src/cluster/membership/state.js';

const member = (name: string, host: string): Member => ({ name, host, port: 7946, meta: new Uint8Array(0), incarnation: 1, status: 'failed', since: 0, vsn: [] });

function setup(random: () => number, numAlive = 3) {
  const clock = new FakeClock();
  const counters = new Counters();
  const joins: Address[][] = [];
  let answer = 0;
  let active = true;
  const r = new Reconnector({
    config: fastConfig('self', { reconnectTimeoutMs: 10_000 }),
    clock,
    random,
    counters,
    log: silentLogger,
    numAlive: () => numAlive,
    join: (a) => {
      joins.push([...a]);
      return Promise.resolve(answer);
    },
    active: () => active,
  });
  return {
    r,
    clock,
    counters,
    joins,
    answer: (n: number) => (answer = n),
    stop: () => (active = false),
  };
}

test('Reconnector - retries failed members until they come back, gives up after reconnectTimeout', async () => {
  const s = setup(() => 0);
  s.r.observe({ type: 'failed', member: member('a', '10.0.0.1') });
  s.r.observe({ type: 'failed', member: member('self', '10.0.0.9') });
  s.r.observe({ type: 'left', member: member('b', '10.0.0.2') });
  assert.equal(s.r.pending, 1, 'not ourselves, not left members');
  await s.r.tick();
  assert.deepEqual(s.joins, [[{ host: '10.0.0.1', port: 7946 }]]);
  s.answer(1);
  await s.r.tick();
  assert.equal(s.counters.reconnectAttempts, 2);
  assert.equal(s.counters.reconnectSuccesses, 1);
  s.r.observe({ type: 'reaped', member: member('a', '10.0.0.1') });
  assert.equal(s.r.pending, 1, 'reaping does not stop the retries');
  s.r.observe({ type: 'join', member: member('a', '10.0.0.1') });
  assert.equal(s.r.pending, 0, 'back');

  s.r.observe({ type: 'failed', member: member('c', '10.0.0.3') });
  s.clock.advance(10_001);
  await s.r.tick();
  assert.equal(s.r.pending, 0, 'gave up');
  assert.equal(s.joins.length, 2);
});

test('Reconnector - throttled by failed/alive like Serf, and idle once we left', async () => {
  // 1 failed, 4 alive → tries when random() <= 0.25.
  const values = [0.5, 0.3, 0.2];
  const s = setup(() => values.shift() ?? 0, 4);
  s.r.observe({ type: 'failed', member: member('a', '10.0.0.1') });
  await s.r.tick();
  await s.r.tick();
  assert.equal(s.joins.length, 0);
  await s.r.tick();
  assert.equal(s.joins.length, 1);
  s.stop();
  await s.r.tick();
  assert.equal(s.joins.length, 1);
});

test('skipForGossip - alive and suspect yes, dead only within gossipToTheDead, left and self never', () => {
  const node = (name: string, state: number, stateChange: number): NodeRecord => ({
    name,
    addr: Uint8Array.of(10, 0, 0, 1),
    host: '10.0.0.1',
    port: 7946,
    meta: new Uint8Array(0),
    incarnation: 1,
    state: state as NodeRecord['state'],
    stateChange,
    changeSeq: 0,
    vsn: { pmin: 1, pmax: 5, pcur: 2, dmin: 0, dmax: 0, dcur: 0 },
  });
  const now = 100_000;
  const cases: [NodeRecord, boolean][] = [
    [node('self', NodeState.Alive, 0), true],
    [node('a', NodeState.Alive, 0), false],
    [node('s', NodeState.Suspect, 0), false],
    [node('d1', NodeState.Dead, now - 1_000), false],
    [node('d2', NodeState.Dead, now - 1_001), true],
    [node('l', NodeState.Left, now), true],
  ];
  for (const [n, skip] of cases) assert.equal(skipForGossip(n, 'self', now, 1_000), skip, n.name);
});
