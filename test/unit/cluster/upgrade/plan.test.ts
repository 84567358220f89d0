import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { currentStep, etaText, humanDuration, isActive, planRollback, planUpgrade, remainingMs, statusLines, stepBack, stepDone, stepFailed, stepRestarting, type UpgradePlan } from '../../../../src/cluster/upgrade/plan.js';
import { DEFAULT_GATE, gateProblem, type ProbeAnswer } from '../../../../src/cluster/upgrade/coordinator.js';
import { UpgradeStore } from '../../../../src/cluster/upgrade/store.js';
import { isCaxtonError } from '../../../../src/errors.js';

const T0 = new Date('2026-12-07T08:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const members = [
  { node: 'node-1', version: '0.3.0' },
  { node: 'node-3', version: '0.3.0' },
  { node: 'node-2', version: '0.3.0' },
];
const plan = (over: Partial<Parameters<typeof planUpgrade>[0]> = {}) =>
  planUpgrade({ id: 'upgrade-1', version: '0.4.0', coordinator: 'node-1', members, canaryDurationMs: 3600_000, nodeWatchMs: 60_000, agents: ['b', 'a'], now: T0, ...over });
const zero = { crashes: 0, messages: 0, errors: 0 };

test('upgrade plan - the canary is the first other node by name, the coordinator goes last, nodes already on the version are left out', () => {
  const p = plan();
  assert.equal(p.canary, 'node-2');
  assert.deepEqual(p.steps.map((s) => `${s.node} ${s.from}->${s.to} ${s.state}`), ['node-2 0.3.0->0.4.0 pending', 'node-3 0.3.0->0.4.0 pending', 'node-1 0.3.0->0.4.0 pending']);
  assert.deepEqual(p.agents, ['a', 'b']);
  assert.equal(p.phase, 'canary');
  const partly = plan({ members: [{ node: 'node-1', version: '0.3.0' }, { node: 'node-2', version: '0.4.0' }] });
  assert.deepEqual(partly.steps.map((s) => s.node), ['node-1']);
  assert.equal(partly.canary, 'node-1', 'alone: the coordinator is its own canary');
  assert.throws(() => plan({ members: [{ node: 'node-1', version: '0.4.0' }] }), (e) => isCaxtonError(e, 'CAXTON_ERR_API_INVALID_REQUEST') && /already runs 0\.4\.0/.test(e.message));
});

test('upgrade plan - each node goes restarting, watching, done; the canary passing moves to rolling, the last node to completed', () => {
  const p = plan();
  const seq = p.seq;
  const canary = currentStep(p)!;
  stepRestarting(p, canary, '2026-12-07T07:00:00.000Z', zero, at(1));
  assert.equal(canary.state, 'restarting');
  assert.ok(p.seq > seq, 'every change bumps seq');
  stepBack(p, canary, at(21));
  assert.equal(canary.watch_until, at(21 + 3600).toISOString(), 'the canary is watched for the canary duration');
  assert.equal(statusLines(p, at(21 + 3600 - 60)).canary, 'Healthy for 59m of 1h (node-2, 0.4.0)');
  stepDone(p, canary, at(21 + 3600));
  assert.equal(p.phase, 'rolling');
  const n3 = currentStep(p)!;
  assert.equal(n3.node, 'node-3');
  stepRestarting(p, n3, 'x', zero, at(4000));
  stepBack(p, n3, at(4010));
  assert.equal(n3.watch_until, at(4070).toISOString(), 'later nodes are watched for node_watch_ms');
  const s = statusLines(p, at(4010));
  // node-3's 60 s of watch left, then node-1: the mean measured restart (20 s, 10 s) and its watch.
  assert.equal(remainingMs(p, at(4010)), 60_000 + 15_000 + 60_000);
  assert.deepEqual(s, { phase: 'Rolling upgrade', progress: '1/3 nodes upgraded', canary: 'Passed: healthy for 1h (node-2, 0.4.0)', eta: '2 minutes' });
  stepDone(p, n3, at(4070));
  const n1 = currentStep(p)!;
  stepRestarting(p, n1, 'x', zero, at(4100));
  stepBack(p, n1, at(4130));
  stepDone(p, n1, at(4190));
  assert.equal(p.phase, 'completed');
  assert.equal(isActive(p), false);
  assert.equal(statusLines(p, at(5000)).progress, '3/3 nodes upgraded');
  assert.equal(remainingMs(p, at(5000)), null);
});

test('upgrade plan - a failed canary ends the plan as canary_failed, a later node as halted, a rollback as rollback_failed', () => {
  const a = plan();
  stepFailed(a, currentStep(a)!, 'its agents crashed 4 times', at(10));
  assert.equal(a.phase, 'canary_failed');
  assert.equal(a.error, 'node-2: its agents crashed 4 times');
  assert.match(statusLines(a, at(11)).canary, /^Failed: its agents crashed 4 times \(node-2\)$/);
  const b = plan();
  stepRestarting(b, b.steps[0]!, 'x', zero, at(1));
  stepBack(b, b.steps[0]!, at(2));
  stepDone(b, b.steps[0]!, at(3));
  stepFailed(b, currentStep(b)!, 'it is failed', at(4));
  assert.equal(b.phase, 'halted');
  const r = planRollback({ id: 'rollback-1', coordinator: 'node-1', last: b, members: [{ node: 'node-1', version: '0.3.0' }, { node: 'node-2', version: '0.4.0' }, { node: 'node-3', version: '0.3.0' }], agents: [], now: at(5) });
  stepFailed(r, currentStep(r)!, 'x', at(6));
  assert.equal(r.phase, 'rollback_failed');
});

test('upgrade plan - a rollback moves back only the nodes on another version than before, the coordinator last; nothing to move back is refused', () => {
  const last = plan();
  const now = [{ node: 'node-1', version: '0.4.0' }, { node: 'node-2', version: '0.4.0' }, { node: 'node-3', version: '0.3.0' }, { node: 'node-4', version: '0.9.0' }];
  const r = planRollback({ id: 'rollback-1', coordinator: 'node-1', last, members: now, agents: ['a'], now: at(1) });
  assert.equal(r.kind, 'rollback');
  assert.equal(r.canary, null);
  assert.equal(r.phase, 'rolling_back');
  assert.deepEqual(r.steps.map((s) => `${s.node} ${s.from}->${s.to}`), ['node-2 0.4.0->0.3.0', 'node-1 0.4.0->0.3.0'], 'node-4 was not part of the upgrade');
  assert.equal(statusLines(r, at(1)).canary, 'none (rollback)');
  assert.throws(() => planRollback({ id: 'r2', coordinator: 'node-1', last, members, agents: [], now: at(1) }), (e) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_UPGRADE_NONE'));
  assert.throws(() => planRollback({ id: 'r3', coordinator: 'node-1', last: r, members: now, agents: [], now: at(1) }), (e) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_UPGRADE_NONE'));
});

test('upgrade plan - the ETA counts the canary watch left, then per node to go the restarts measured so far and its watch', () => {
  const p = plan();
  // Nothing measured: 60 s per restart. Canary 1 h + 60 s, two more nodes 2 × (60 s + 60 s).
  assert.equal(remainingMs(p, T0), 3600_000 + 60_000 + 2 * 120_000);
  stepRestarting(p, p.steps[0]!, 'x', zero, at(0));
  stepBack(p, p.steps[0]!, at(20));
  // Watching: 1 h from t=20 s; the others: 20 s measured restart + 60 s watch each.
  assert.equal(remainingMs(p, at(20)), 3600_000 + 2 * 80_000);
  assert.equal(statusLines(p, at(20)).eta, '1h 2m');
});

test('upgrade plan - durations as the runbook writes them', () => {
  for (const [ms, h] of [[0, '0s'], [12_000, '12s'], [250_000, '4m 10s'], [85_500_000, '23h 45m'], [90_000_000, '1d 1h'], [3600_000, '1h']] as const) assert.equal(humanDuration(ms), h);
  for (const [ms, e] of [[2700_000, '45 minutes'], [60_000, '1 minute'], [50_000, '50 seconds'], [7_800_000, '2h 10m']] as const) assert.equal(etaText(ms), e);
});

test('upgrade gate - alive, same version, same process, crashes and the error rate against the baseline', () => {
  const step = { node: 'node-2', from: '0.3.0', to: '0.4.0', state: 'watching' as const, baseline: { crashes: 9, messages: 1000, errors: 10 } };
  const ref: ProbeAnswer = { node: 'node-2', version: '0.4.0', started_at: 'S', releases_dir: '/r', installed: [], health: { crashes: 1, messages: 100, errors: 0 } };
  const probe = (h: Partial<ProbeAnswer['health']>, o: Partial<ProbeAnswer> = {}): ProbeAnswer => ({ ...ref, ...o, health: { ...ref.health, ...h } });
  const g = DEFAULT_GATE;
  assert.equal(gateProblem(g, step, ref, probe({}), 'alive'), undefined);
  assert.match(gateProblem(g, step, ref, probe({}), 'suspect')!, /it is suspect/);
  assert.match(gateProblem(g, step, ref, probe({}), undefined)!, /no longer a member/);
  assert.match(gateProblem(g, step, ref, probe({}, { version: '0.3.0' }), 'alive')!, /runs 0\.3\.0, not 0\.4\.0/);
  assert.match(gateProblem(g, step, ref, probe({}, { started_at: 'T' }), 'alive')!, /process started again/);
  assert.equal(gateProblem(g, step, ref, probe({ crashes: 1 + 3 }), 'alive'), undefined, 'at the limit');
  assert.match(gateProblem(g, step, ref, probe({ crashes: 1 + 4 }), 'alive')!, /crashed 4 times during the watch \(limit 3\)/);
  // Baseline 1 %: up to 6 % passes, above fails; fewer than 20 messages are not judged.
  assert.equal(gateProblem(g, step, ref, probe({ messages: 200, errors: 6 }), 'alive'), undefined);
  assert.match(gateProblem(g, step, ref, probe({ messages: 200, errors: 7 }), 'alive')!, /error rate is 7\.0 % during the watch, against 1\.0 % before/);
  assert.equal(gateProblem(g, step, ref, probe({ messages: 119, errors: 19 }), 'alive'), undefined, '19 messages: not judged yet');
});

test('upgrade store - the plan survives on disk; a peer\'s copy replaces it only when later', () => {
  const dir = mkdtempSync(join(tmpdir(), 'caxton-upgrade-store-'));
  try {
    const s = new UpgradeStore(dir);
    assert.equal(s.load(), undefined);
    const p = plan();
    s.save(p);
    assert.deepEqual(s.load(), p);
    const older: UpgradePlan = { ...p, seq: p.seq - 1 };
    assert.equal(s.accept(older, s.load()), false);
    const later: UpgradePlan = { ...p, seq: p.seq + 1, phase: 'rolling' };
    assert.equal(s.accept(later, s.load()), true);
    assert.equal(s.load()?.phase, 'rolling');
    const next = plan({ id: 'upgrade-2', now: at(60) });
    assert.equal(s.accept(next, s.load()), true, 'a later plan replaces whatever seq the old one had');
    assert.equal(s.load()?.id, 'upgrade-2');
    // A rollback started after the upgrade replaces it, whatever their ids (rollback-... < upgrade-...).
    const back = planRollback({ id: 'rollback-20261207T080200Z', coordinator: 'node-1', last: next, members: [{ node: 'node-1', version: '0.4.0' }], agents: [], now: at(120) });
    assert.equal(s.accept(back, s.load()), true);
    assert.equal(s.load()?.id, 'rollback-20261207T080200Z');
    assert.equal(s.accept(next, s.load()), false, 'and the upgrade, heard again late, does not come back');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
