/** Failure detection time for `cluster performance`: expected from the timings, observed from events. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FailureDetectionWatch } from '../../../src/cluster/failure-detection.js';
import { fastConfig, lanConfig } from '../../../src/cluster/membership/index.js';
import type { Member, MemberEvent } from '../../../src/cluster/membership/delegate.js';

const member = (name: string): Member => ({ name, host: '127.0.0.1', port: 7946, meta: new Uint8Array(), incarnation: 1, status: 'alive', since: 0, vsn: [] });

test('failure detection - expected: probe interval + probe timeout + the minimum suspicion for the member count', () => {
  const cases: [string, ReturnType<typeof lanConfig>, number, number][] = [
    // fast: 500 + 250 + 3 × max(1, log10 5) × 500 (the bench measured 2.6 s for 5 nodes)
    ['fast, 5 nodes', fastConfig('x'), 5, 2250],
    // lan: 1000 + 500 + 4 × 1 × 1000 (serf LAN measured 5.8 s)
    ['lan, 3 nodes', lanConfig('x'), 3, 5500],
    // fast, 100 nodes: log10 100 = 2 doubles the suspicion
    ['fast, 100 nodes', fastConfig('x'), 100, 3750],
  ];
  for (const [what, cfg, n, ms] of cases) {
    const w = new FailureDetectionWatch(cfg, () => n);
    assert.equal(w.expectedMs(n), ms, what);
    assert.deepEqual(w.reading(), { ms, source: 'expected' }, what);
  }
});

test('failure detection - observed: the suspicion seen here plus one probe, from the last failure; a refuted suspicion or a failure never suspected here does not count', () => {
  let now = 1_000_000;
  const w = new FailureDetectionWatch(fastConfig('x'), () => 3, () => now);
  const ev = (e: MemberEvent) => w.event(e);
  ev({ type: 'suspect', member: member('b'), from: 'c' });
  now += 400;
  ev({ type: 'alive', member: member('b') }); // refuted
  now += 5000;
  ev({ type: 'failed', member: member('b') }); // no suspicion on record any more
  assert.equal(w.reading().source, 'expected');

  ev({ type: 'suspect', member: member('c'), from: 'b' });
  now += 1200;
  ev({ type: 'suspect', member: member('c'), from: 'd' }); // a second accuser does not restart the clock
  now += 300;
  ev({ type: 'failed', member: member('c') });
  assert.deepEqual(w.reading(), { ms: 1500 + 500 + 250, source: 'observed', node: 'c', at: now });
});
