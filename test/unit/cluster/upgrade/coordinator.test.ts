import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UpgradeCoordinator, type ProbeAnswer } from '../../../../src/cluster/upgrade/coordinator.js';
import { UpgradeStore } from '../../../../src/cluster/upgrade/store.js';
import { planUpgrade } from '../../../../src/cluster/upgrade/plan.js';
import { NodeRestart } from '../../../../src/cluster/node-restart.js';
import { createLogger } from '../../../../src/observability/logger.js';
import type { ViewMember } from '../../../../src/api/cluster-views.js';
import { isCaxtonError } from '../../../../src/errors.js';
import { until } from '../../../helpers/until.js';

const logger = createLogger({ level: 'silent' });

/** One node, no peers: what it can decide alone (a cluster's calls are the integration test's). */
function single(o: { version?: string; releasesDir?: string | null; installed?: string[]; members?: ViewMember[] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'caxton-upgrade-coord-'));
  const store = new UpgradeStore(dir);
  const probe = async (): Promise<ProbeAnswer> => ({ node: 'node-1', version: o.version ?? '0.3.0', started_at: '2026-12-07T08:00:00.000Z', releases_dir: o.releasesDir === undefined ? '/opt/caxton/releases' : o.releasesDir, installed: o.installed ?? ['0.3.0'], health: { crashes: 0, messages: 0, errors: 0 } });
  const members = () => o.members ?? [{ name: 'node-1', status: 'alive' as const, tags: { role: 'caxton', version: o.version ?? '0.3.0' } }];
  // A node that cannot restart itself (no `caxton server start` around it): every restart is refused.
  const restart = new NodeRestart({ self: 'node-1', startedAt: 0, logger, peers: undefined, members: () => [], handOver: undefined, restart: undefined });
  const c = new UpgradeCoordinator({ self: 'node-1', peers: undefined, members, restart, store, probe, agents: async () => ({ agents: [], missing: [] }), logger, timings: { pollMs: 10, restartTimeoutMs: 1000 } });
  return { c, store, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('upgrade coordinator - refuses before any restart: no supervisor, a release not installed, a member not alive', async () => {
  const a = single({ releasesDir: null });
  try {
    await assert.rejects(a.c.start({ version: '0.4.0' }), (e) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_UPGRADE_UNAVAILABLE') && /cannot change release: node-1$/.test(e.message));
    assert.equal(a.store.load(), undefined, 'no plan was written');
  } finally {
    a.cleanup();
  }
  const b = single();
  try {
    await assert.rejects(b.c.start({ version: 'v0.4.0' }), (e) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_UPGRADE_RELEASE_MISSING') && e.message === 'release 0.4.0 is not installed on node-1 (/opt/caxton/releases/0.4.0; installed: 0.3.0)');
  } finally {
    b.cleanup();
  }
  const c = single({ members: [{ name: 'node-1', status: 'alive', tags: { role: 'caxton' } }, { name: 'node-2', status: 'suspect', tags: { role: 'caxton' } }] });
  try {
    await assert.rejects(c.c.start({ version: '0.4.0' }), (e) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE') && /not every node is alive: node-2 \(suspect\)/.test(e.message));
  } finally {
    c.cleanup();
  }
});

test('upgrade coordinator - a step whose restart is refused fails the canary, and the plan says why', async () => {
  const s = single({ installed: ['0.3.0', '0.4.0'] });
  try {
    const v = await s.c.start({ version: '0.4.0', canaryDurationMs: 1000 });
    assert.equal(v.canary, 'node-1');
    const end = await until('the plan ends', () => {
      const p = s.store.load();
      return p !== undefined && p.phase !== 'canary' ? p : undefined;
    }, 10_000, 20);
    assert.equal(end.phase, 'canary_failed');
    assert.match(end.error ?? '', /^node-1: node node-1 cannot restart itself/);
    await assert.rejects(s.c.rollback(), (e) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_UPGRADE_NONE'), 'the canary never moved: nothing to roll back');
  } finally {
    s.cleanup();
  }
});

test('upgrade coordinator - a plan whose coordinator is gone is taken over by a rollback asked elsewhere, and refuses a new upgrade meanwhile', async () => {
  const members: ViewMember[] = [{ name: 'node-1', status: 'alive', tags: { role: 'caxton', version: '0.4.0' } }, { name: 'ghost', status: 'left', tags: { role: 'caxton', version: '0.4.0' } }];
  const s = single({ version: '0.4.0', installed: ['0.3.0', '0.4.0'], members });
  try {
    const old = planUpgrade({ id: 'upgrade-20261207T070000Z', version: '0.4.0', coordinator: 'ghost', members: [{ node: 'node-1', version: '0.3.0' }, { node: 'ghost', version: '0.3.0' }], canaryDurationMs: 1000, nodeWatchMs: 1000, agents: [], now: new Date(Date.now() - 3600_000) });
    s.store.save(old);
    await assert.rejects(s.c.start({ version: '0.5.0' }), (e) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_UPGRADE_IN_PROGRESS') && /its coordinator is gone: `caxton cluster upgrade rollback` here takes it over/.test(e.message));
    const r = await s.c.rollback('ops');
    assert.equal(r.kind, 'rollback');
    assert.equal(r.coordinator, 'node-1');
    assert.deepEqual(r.steps.map((x) => `${x.node} ${x.from}->${x.to}`), ['node-1 0.4.0->0.3.0'], 'the member that left is not asked');
  } finally {
    s.cleanup();
  }
});
