/**
 * `caxton cluster upgrade start|status|rollback` (issue 14, point 2; docs/operations.md, "Upgrading
 * Caxton") on real processes: three nodes started as `caxton server start --releases DIR` (the
 * supervisor, which runs the node from <releases>/current), two builds of the server installed side
 * by side (this tree, and a copy with the next version whose GET /health carries one more field),
 * while at-least-once increments cross the nodes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { api, runCli, type RunningServer } from '../../helpers/server.js';
import { startServerCluster } from '../../helpers/server-cluster.js';
import { freePort } from '../../unit/cluster/serf/serf-harness.js';
import { until } from '../../helpers/until.js';
import { tempDir } from '../../helpers/tmp.js';
import { installRelease, nextVersion } from '../../helpers/releases.js';
import { counterTraffic } from '../../helpers/counter-traffic.js';
import { VERSION } from '../../../src/version.js';
import { switchCurrent } from '../../../src/cluster/upgrade/releases.js';

const NEXT = nextVersion();
/** The new build's visible, wire-compatible change: one more field in GET /health. */
const NOTE = { file: 'dist/api/routes/health.js', from: "status: 'healthy',", to: "status: 'healthy', build_note: 'upgrade-test',"};

test('upgrade - a 3-node cluster moves to the next release (canary first, the coordinator last) and back with a rollback, while at-least-once increments are each counted once', { timeout: 600_000 }, async (t) => {
  const base = 232;
  const dirs = [0, 1, 2].map(() => tempDir('caxton-releases-'));
  t.after(() => dirs.forEach((d) => d.cleanup()));
  // Each node has its own releases directory, as each machine would.
  for (const d of dirs) {
    installRelease(d.path, { version: VERSION });
    installRelease(d.path, { version: NEXT, patch: [NOTE] });
    switchCurrent(d.path, VERSION);
  }
  // Fixed API ports: a node that changes release is a new process, and keeps its address.
  const ports = await Promise.all([0, 1, 2].map((i) => freePort(`127.0.0.${base + i + 1}`)));
  const c = await startServerCluster({
    size: 3,
    base,
    nodeArgs: (i) => ['--releases', (dirs[i] as { path: string }).path, '--api-addr', `127.0.0.${base + i + 1}:${ports[i]}`],
  });
  t.after(() => c.stop());
  const nodes = c.nodes as [RunningServer, RunningServer, RunningServer];
  const key = nodes[0].adminKey;
  await until('node-1 admin key works everywhere', async () => {
    for (const n of nodes) if ((await api(n, 'GET', '/status', undefined, key)).status !== 200) return false;
    return true;
  });
  const health = async (n: RunningServer) => (await api(n, 'GET', '/health', undefined, null)).body as { version: string; build_note?: string };
  for (const n of nodes) assert.deepEqual(await health(n).then((h) => [h.version, h.build_note]), [VERSION, undefined]);
  const cli = (args: string[], timeoutMs = 60_000) => runCli([...args, '--api-url', nodes[0].apiUrl, '--api-key', key], { timeoutMs });

  // Refused before anything restarts: a release that is not installed, naming every node.
  const missing = await cli(['cluster', 'upgrade', 'start', '--version', '9.9.9']);
  assert.equal(missing.code, 1, missing.stdout + missing.stderr);
  assert.match(missing.stderr, /release 9\.9\.9 is not installed on node-1 \(\S+\/9\.9\.9; installed: .*\), node-2 .*, node-3 /);
  assert.match(missing.stderr, /hint: Install the release on every node named/);
  const none = await cli(['cluster', 'upgrade', 'status', '-o', 'json']);
  assert.equal(JSON.parse(none.stdout).phase, 'none');

  const traffic = await counterTraffic(nodes, [0, 1, 2].map((i) => c.name(i)), key, { prefix: 'up' });
  traffic.start();
  const t0 = Date.now();
  const up = await cli(['cluster', 'upgrade', 'start', '--version', `v${NEXT}`, '--canary-duration', '5s', '--node-watch', '2s', '--wait', '--timeout', '300s'], 320_000);
  const upgradeMs = Date.now() - t0;
  t.diagnostic(up.stdout);
  if (up.code !== 0) await explain(t, nodes, key);
  assert.equal(up.code, 0, up.stdout + up.stderr);
  // The canary is another node than the one the CLI talks to; that one goes last.
  assert.match(up.stdout, /^node-2: .* -> .*, back and healthy/m);
  assert.ok(up.stdout.indexOf('node-1: ') > up.stdout.indexOf('node-3: '), 'the coordinator last');
  assert.match(up.stdout, /^PHASE:\s+Completed$/m);
  assert.match(up.stdout, /^PROGRESS:\s+3\/3 nodes upgraded$/m);
  assert.match(up.stdout, /^CANARY:\s+Passed: healthy for 5s \(node-2, /m);
  for (const [i, n] of nodes.entries()) {
    const h = await until(`${c.name(i)} answers`, () => health(n).catch(() => undefined));
    assert.deepEqual([h.version, h.build_note], [NEXT, 'upgrade-test'], `${c.name(i)} runs the new build`);
    assert.equal(readlinkSync(join((dirs[i] as { path: string }).path, 'current')), NEXT);
    assert.equal(readlinkSync(join((dirs[i] as { path: string }).path, 'previous')), VERSION);
  }
  // The supervisor stayed: the same process id for the service manager throughout.
  for (const n of nodes) assert.equal(process.kill(n.pid, 0), true);
  // Any node shows the plan.
  const st = await runCli(['cluster', 'upgrade', 'status', '-o', 'json', '--api-url', nodes[2].apiUrl, '--api-key', key]);
  const sj = JSON.parse(st.stdout) as { phase: string; coordinator: string; canary: string; steps: { node: string; state: string }[] };
  assert.deepEqual([sj.phase, sj.coordinator, sj.canary], ['completed', 'node-1', 'node-2']);
  assert.deepEqual(sj.steps.map((s) => `${s.node} ${s.state}`), ['node-2 done', 'node-3 done', 'node-1 done']);
  await traffic.stop();
  await traffic.verify((s) => t.diagnostic(s));
  t.diagnostic(`upgrade of 3 nodes: ${upgradeMs} ms; longest without an accepted increment per counter: ${traffic.longestGapMs.join(', ')} ms`);

  // Rollback: every node back on the release it ran, nothing lost.
  traffic.start();
  const rb = await cli(['cluster', 'upgrade', 'rollback', '--wait', '--timeout', '300s'], 320_000);
  t.diagnostic(rb.stdout);
  if (rb.code !== 0) await explain(t, nodes, key);
  assert.equal(rb.code, 0, rb.stdout + rb.stderr);
  assert.match(rb.stdout, /^PHASE:\s+Rolled back$/m);
  assert.match(rb.stdout, /^PROGRESS:\s+3\/3 nodes rolled back$/m);
  for (const [i, n] of nodes.entries()) {
    const h = await until(`${c.name(i)} answers`, () => health(n).catch(() => undefined));
    assert.deepEqual([h.version, h.build_note], [VERSION, undefined], `${c.name(i)} runs the old build again`);
    assert.equal(readlinkSync(join((dirs[i] as { path: string }).path, 'current')), VERSION);
  }
  await traffic.stop();
  await traffic.verify((s) => t.diagnostic(s));
  // A second rollback has nothing to do.
  const again = await cli(['cluster', 'upgrade', 'rollback']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /nothing to roll back/);

  // The runbook's case: issues seen while the canary is watched (for a day, here a minute): the
  // rollback stops the upgrade and puts the canary back; the other nodes were never touched.
  const long = await cli(['cluster', 'upgrade', 'start', '--version', NEXT, '--canary-duration', '60s', '--node-watch', '2s']);
  assert.equal(long.code, 0, long.stdout + long.stderr);
  assert.match(long.stdout, /^✓ upgrade upgrade-\S+ to \S+ started: canary node-2, then node-3, node-1$/m);
  const watching = await until('the canary is watched', async () => {
    const s = await runCli(['cluster', 'upgrade', 'status', '--api-url', nodes[1].apiUrl, '--api-key', key]);
    return /^CANARY:\s+Healthy for \d+s of 1m \(node-2, /m.test(s.stdout) ? s.stdout : undefined;
  }, 120_000, 1000);
  t.diagnostic(watching);
  assert.match(watching, /^PHASE:\s+Canary$/m);
  assert.match(watching, /^PROGRESS:\s+0\/3 nodes upgraded$/m);
  assert.match(watching, /^ETA:\s+\d+ (seconds|minutes?)$/m);
  const busy = await cli(['cluster', 'upgrade', 'start', '--version', NEXT]);
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, /is running \(coordinated by node-1, phase canary\)/);
  // Asked of another node than the coordinator: passed on to it.
  const stop = await runCli(['cluster', 'upgrade', 'rollback', '--wait', '--timeout', '200s', '--api-url', nodes[2].apiUrl, '--api-key', key], { timeoutMs: 220_000 });
  t.diagnostic(stop.stdout);
  if (stop.code !== 0) await explain(t, nodes, key);
  assert.equal(stop.code, 0, stop.stdout + stop.stderr);
  assert.match(stop.stdout, /^PROGRESS:\s+1\/1 nodes rolled back$/m);
  assert.match(stop.stdout, /^node-2\s+\S+\s+\S+\s+done/m);
  assert.match(nodes[0].logs(), /"msg":"rollback asked: stopping the upgrade once the node it is on is back"/, 'node-1, the coordinator, ran it');
  const audited = (await api(nodes[2], 'GET', '/audit?action=cluster.upgrade-rollback', undefined, key)).body.entries as { result: string }[];
  assert.deepEqual(audited.map((e) => e.result), ['ok'], 'audited where it was asked');
  for (const [i, n] of nodes.entries()) assert.equal((await health(n)).version, VERSION, `${c.name(i)} on the old build`);
  // The coordinator's audit log has both.
  const audit = await api(nodes[0], 'GET', '/audit', undefined, key);
  const actions = (audit.body.entries as { action: string; result: string }[]).filter((e) => e.action.startsWith('cluster.upgrade')).map((e) => `${e.action} ${e.result}`);
  assert.ok(actions.includes('cluster.upgrade ok') && actions.includes('cluster.upgrade-rollback ok'), actions.join(', '));
});

/** For whoever reads a failure: each node's plan, and what the nodes said about the upgrade. */
async function explain(t: { diagnostic(s: string): void }, nodes: readonly RunningServer[], key: string): Promise<void> {
  for (const [i, n] of nodes.entries()) {
    const p = await api(n, 'GET', '/cluster/upgrade', undefined, key).catch((e: unknown) => ({ body: String(e) }));
    t.diagnostic(`node-${i + 1} plan: ${JSON.stringify(p.body).slice(0, 3000)}`);
    t.diagnostic(`node-${i + 1} log:\n${n.logs().split('\n').filter((l) => /"component":"upgrade"|supervisor|"level":(40|50)/.test(l)).slice(-40).join('\n')}`);
  }
}
