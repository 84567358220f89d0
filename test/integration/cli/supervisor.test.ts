/**
 * The supervisor of `caxton server start --releases DIR` (src/cli/supervisor.ts) on real processes
 * and a real releases directory built from this tree: a node that crashes is started again under the
 * same supervisor; a release that cannot start is left for the one before, and the upgrade's canary
 * gate sees it; without a supervisor an upgrade is refused with the fix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { api, startServer } from '../../helpers/server.js';
import { withNode } from '../../helpers/node.js';
import { freePort } from '../../unit/cluster/serf/serf-harness.js';
import { until } from '../../helpers/until.js';
import { tempDir } from '../../helpers/tmp.js';
import { installRelease, nextVersion } from '../../helpers/releases.js';
import { switchCurrent } from '../../../src/cluster/upgrade/releases.js';
import { VERSION } from '../../../src/version.js';
import { Supervisor } from '../../../src/cli/supervisor.js';
import { createLogger } from '../../../src/observability/logger.js';
import { Writable } from 'node:stream';

async function supervised(t: { after(fn: () => unknown): void }, releases: (dir: string) => void) {
  const rel = tempDir('caxton-releases-');
  t.after(() => rel.cleanup());
  releases(rel.path);
  switchCurrent(rel.path, VERSION);
  const port = await freePort('127.0.0.1');
  const s = await startServer({ args: ['--releases', rel.path, '--api-addr', `127.0.0.1:${port}`] });
  t.after(async () => {
    await s.stop();
    s.cleanup();
  });
  return { s, dir: rel.path };
}

test('supervisor - a node process that crashes is started again by the same supervisor, which exits with the node on SIGTERM', { timeout: 120_000 }, async (t) => {
  const { s } = await supervised(t, (d) => installRelease(d, { version: VERSION }));
  const first = (await api(s, 'GET', '/status')).body as { pid: number; version: string };
  assert.notEqual(first.pid, s.pid, 'the node runs in a child of the supervisor');
  assert.equal(first.version, VERSION);
  process.kill(first.pid, 'SIGKILL');
  const again = await until('the node runs again', async () => {
    const r = await api(s, 'GET', '/status').catch(() => undefined);
    return r?.status === 200 && r.body.pid !== first.pid ? (r.body as { pid: number }) : undefined;
  }, 60_000, 200);
  assert.match(s.logs(), /"msg":"supervisor: the node exited unexpectedly; starting it again"/);
  assert.equal(process.kill(s.pid, 0), true, 'the supervisor itself did not change');
  assert.equal(await s.stop(), 0);
  assert.throws(() => process.kill(again.pid, 0), /ESRCH/, 'the node stopped with it');
  assert.match(s.logs(), /"signal":"SIGTERM","msg":"shutting down: draining agents"/);
});

test('supervisor - a release that cannot start is left for the one that ran before, and the upgrade stops at its canary naming why', { timeout: 180_000 }, async (t) => {
  const next = nextVersion();
  const { s, dir } = await supervised(t, (d) => {
    installRelease(d, { version: VERSION });
    installRelease(d, { version: next, patch: [{ file: 'dist/cli/main.js', from: 'export async function main(', to: "throw new Error('this build is broken');\nexport async function main(" }] });
  });
  const r = await api(s, 'POST', '/cluster/upgrade', { version: next, canary_duration_ms: 1000 });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body.canary, 'test-node', 'alone: the node is its own canary');
  const end = await until('the upgrade ends', async () => {
    const st = await api(s, 'GET', '/cluster/upgrade').catch(() => undefined);
    return st?.status === 200 && st.body.phase !== 'canary' ? st.body : undefined;
  }, 120_000, 250);
  assert.equal(end.phase, 'canary_failed', JSON.stringify(end));
  assert.match(end.error, new RegExp(`^test-node: came back on ${VERSION.replace(/\./g, '\\.')}, not ${next.replace(/\./g, '\\.')}: its supervisor went back`));
  assert.match(end.status.canary, /^Failed: came back on/);
  assert.match(s.logs(), /this build is broken/);
  assert.match(s.logs(), new RegExp(`failed to start 3 times in a row; going back to ${VERSION.replace(/\./g, '\\.')}`));
  assert.equal(readlinkSync(join(dir, 'current')), VERSION);
  assert.equal((await api(s, 'GET', '/health')).body.version, VERSION);
});

test('supervisor - without one, an upgrade is refused naming the node and the fix, and the node keeps serving', async () => {
  await withNode({}, async (ctx) => {
    const r = await ctx.call('POST', '/cluster/upgrade', { version: '9.9.9' });
    assert.equal(r.status, 409);
    assert.equal(r.body.error.code, 'CAXTON_ERR_CLUSTER_UPGRADE_UNAVAILABLE');
    assert.match(r.body.error.message, /not every node runs under the supervisor \(`caxton server start --releases DIR`\), so these cannot change release: /);
    const bad = await ctx.call('POST', '/cluster/upgrade', { version: '../../etc' });
    assert.equal(bad.status, 400);
    const none = await ctx.call('POST', '/cluster/upgrade/rollback', {});
    assert.equal(none.status, 409);
    assert.equal(none.body.error.code, 'CAXTON_ERR_CLUSTER_UPGRADE_NONE');
    assert.equal((await ctx.call('GET', '/cluster/upgrade')).body.phase, 'none');
    assert.equal((await ctx.call('GET', '/status')).status, 200);
  });
});

test('supervisor - a releases directory without `current` stops the start with what to do, and no node is started', async () => {
  const rel = tempDir('caxton-releases-');
  try {
    installRelease(rel.path, { version: VERSION });
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }) });
    const code = await new Supervisor({ releasesDir: rel.path, args: [], logger }).run();
    assert.equal(code, 1);
    assert.match(lines.join(''), /cannot start the node: \S+\/current is not a symbolic link to an installed release; install a release there and point current at it/);
  } finally {
    rel.cleanup();
  }
});
