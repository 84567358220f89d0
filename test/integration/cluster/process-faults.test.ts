/**
 * Faults of real server processes: kill -9 seen by a real serf as a failure within the bound
 * (plaintext, and with gossip encryption on both sides), and a node starved of CPU in short bursts
 * (SIGSTOP/SIGCONT) that Lifeguard keeps alive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, startServer, type RunningServer } from '../../helpers/server.js';
import { SERF_LOCAL_FAILURE_BOUND_MS, encryptionVariants, freePort, sleep, startSerf, waitForMember } from '../../unit/cluster/serf/serf-harness.js';
import { outsideTool } from '../../helpers/outside-tools.js';
import { until } from '../../helpers/until.js';

const serfTool = outsideTool('serf');
const local = ['--set', 'coordination.cluster.profile=local'];


// Plaintext, and with -encrypt on serf and the same key in the server's config (127.0.0.25).
for (const enc of encryptionVariants()) {
  const host = enc.key === undefined ? '127.0.0.24' : '127.0.0.25';
  const keyArgs = enc.key === undefined ? [] : ['--set', `security.cluster.gossip.keys=${JSON.stringify([enc.key.toString('base64')])}`];

  test(`cluster process - kill -9 of a Caxton server: serf marks it failed within the bound (${enc.label})`, { skip: serfTool.skip }, async (t) => {
    const serf = await startSerf(t, serfTool.path as string, ['-profile=local', ...enc.serfArgs]);
    const s = await startServer({ args: ['--join', `127.0.0.1:${serf.addr.port}`, '--bind-addr', `${host}:${serf.addr.port}`, '--node-id', 'killed', ...local, ...keyArgs] });
    try {
      assert.equal((await waitForMember(serf, 'killed', 'alive', 10_000))?.status, 'alive', s.logs().slice(-2000));
      const t0 = Date.now();
      await s.kill('SIGKILL');
      const seen = await waitForMember(serf, 'killed', 'failed', SERF_LOCAL_FAILURE_BOUND_MS + 6000);
      const polledMs = Date.now() - t0;
      assert.equal(seen?.status, 'failed');
      const failed = await until('serf logged the failure', () => serf.logLineAt(/EventMemberFailed: killed /), 5000);
      const ms = failed - t0;
      t.diagnostic(`failed ${ms} ms after kill -9 (bound ${SERF_LOCAL_FAILURE_BOUND_MS} ms); \`serf members\` showed it after ${polledMs} ms`);
      assert.ok(ms <= SERF_LOCAL_FAILURE_BOUND_MS, `failed after ${ms} ms, over the bound of ${SERF_LOCAL_FAILURE_BOUND_MS} ms`);
    } finally {
      await s.kill('SIGKILL').catch(() => undefined);
      s.cleanup();
    }
  });
}

test('cluster process - a node paused in short bursts (SIGSTOP/SIGCONT) is never declared failed', async (t) => {
  const port = await freePort('127.0.0.26');
  const servers: RunningServer[] = [];
  try {
    servers.push(await startServer({ args: ['--bootstrap', '--bind-addr', `127.0.0.26:${port}`, '--node-id', 'p0', ...local] }));
    for (let i = 1; i < 4; i++) servers.push(await startServer({ args: ['--join', `127.0.0.26:${port}`, '--bind-addr', `127.0.0.${26 + i}:${port}`, '--node-id', `p${i}`, ...local] }));
    const watcher = servers[0] as RunningServer;
    await until('4 alive', async () => (await api(watcher, 'GET', '/cluster/members')).body.members.filter((m: { status: string }) => m.status === 'alive').length === 4);
    const victim = servers[3] as RunningServer;
    // 300 ms stopped, 700 ms running, for 8 s: it answers within its suspicion timeout (≥ 3 s).
    const statuses = new Set<string>();
    const end = Date.now() + 8000;
    while (Date.now() < end) {
      process.kill(victim.pid, 'SIGSTOP');
      await sleep(300);
      process.kill(victim.pid, 'SIGCONT');
      for (let i = 0; i < 7; i++) {
        const m = (await api(watcher, 'GET', '/cluster/members')).body.members.find((x: { name: string }) => x.name === 'p3');
        statuses.add(m.status);
        await sleep(100);
      }
    }
    t.diagnostic(`statuses of the paused node seen: ${[...statuses].join(', ')}`);
    assert.ok(!statuses.has('failed'), 'never failed');
    await until('p3 alive again', async () => (await api(watcher, 'GET', '/cluster/members')).body.members.find((x: { name: string }) => x.name === 'p3').status === 'alive');
  } finally {
    for (const s of servers) {
      try {
        process.kill(s.pid, 'SIGCONT');
      } catch {
        // already gone
      }
      await s.stop().catch(() => 0);
      s.cleanup();
    }
  }
});
