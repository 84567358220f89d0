/**
 * The link against a node in another process: a peer that stops reading (SIGSTOP) fills only its own
 * queue, and a peer killed with -9 and restarted is reconnected to.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Cluster } from '../../../src/cluster/cluster.js';
import { isCaxtonError } from '../../../src/errors.js';
import type { Address } from '../../../src/cluster/transport/transport.js';
import { until } from '../../helpers/until.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const entry = fileURLToPath(new URL('../../helpers/link-node-entry.ts', import.meta.url));
const fast = { probeIntervalMs: 200, probeTimeoutMs: 100, gossipIntervalMs: 50, suspicionMult: 3, pushPullIntervalMs: 2000, reconnectIntervalMs: 200 } as const;

async function child(t: TestContext, name: string, host: string, port: number, seed: Address): Promise<{ proc: ChildProcess; addr: Address }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', entry, name, host, String(port), `${seed.host}:${seed.port}`], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGCONT');
      proc.kill('SIGKILL');
    }
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const addr = await until(`${name} started`, () => (out.includes('\n') ? (JSON.parse(out.slice(0, out.indexOf('\n'))) as Address) : proc.exitCode !== null ? assert.fail(`${name} exited ${proc.exitCode}`) : undefined), 30_000);
  return { proc, addr };
}

async function start(t: TestContext, name: string, host: string, link: Parameters<typeof Cluster.start>[0]['link'] = {}): Promise<Cluster> {
  const c = await Cluster.start({ name, bind: { host, port: 0 }, profile: 'local', timings: fast, tags: { role: 'caxton' }, link });
  t.after(() => c.shutdown());
  return c;
}

test('link - a peer that stops reading (SIGSTOP) fills only its own bounded queue; the others never stall; nothing is lost', async (t) => {
  const maxQueueBytes = 512 * 1024;
  const a = await start(t, 'w1', '127.0.7.100', { maxQueueBytes, windowBytes: 128 * 1024 });
  const c = await start(t, 'w3', '127.0.7.102');
  assert.equal(await c.join([a.transport.local]), 1);
  const { proc: b } = await child(t, 'w2', '127.0.7.101', 0, a.transport.local);
  await until('three alive', () => a.members().filter((m) => m.status === 'alive').length === 3);
  let toC = 0;
  c.peers.onPost('sink', () => toC++);
  c.peers.onCall('echo', (_f, body) => body);
  assert.equal(await a.peers.call('w2', 'echo', 'up'), 'up');

  b.kill('SIGSTOP');
  const body = { pad: 'x'.repeat(1000) };
  let acceptedB = 0;
  let refusedB = 0;
  let sentC = 0;
  // Post to both until w2's queue refuses; w3 must keep receiving meanwhile.
  const deadline = Date.now() + 10_000;
  while (refusedB === 0 && Date.now() < deadline) {
    for (let i = 0; i < 50; i++) {
      if (a.peers.post('w2', 'sink', body)) acceptedB++;
      else refusedB++;
      if (a.peers.post('w3', 'sink', body)) sentC++;
    }
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(refusedB > 0, 'posts to the stopped peer are refused once its queue is full');
  const q = a.peers.stats().peers.find((p) => p.peer === 'w2');
  assert.ok(q !== undefined && q.queueBytes <= maxQueueBytes + 2048, `queue bounded: ${q?.queueBytes}`);
  assert.equal(q?.connected, true);
  // The other peer is unaffected: everything posted to it arrives, and calls are answered.
  await until('w3 got every post', () => toC === sentC, 10_000);
  assert.equal(await a.peers.call('w3', 'echo', 'fine', { timeoutMs: 2000 }), 'fine');

  b.kill('SIGCONT');
  // Every post w2's queue accepted arrives once it reads again (a call is refused while the queue is full).
  await until('w2 drained', async () => (await a.peers.call<number>('w2', 'count', null).catch(() => -1)) === acceptedB, 15_000);
  assert.equal(a.peers.stats().peers.find((p) => p.peer === 'w2')?.queueBytes, 0);
  assert.equal(a.peers.post('w2', 'sink', body), true);
});

test('link - a peer killed with -9 fails its calls; restarted on the same address, it is reconnected to', async (t) => {
  const a = await start(t, 'k1', '127.0.7.110');
  const { proc, addr } = await child(t, 'k2', '127.0.7.111', 0, a.transport.local);
  await until('k2 alive', () => a.members().some((m) => m.name === 'k2' && m.status === 'alive'));
  assert.equal(await a.peers.call('k2', 'echo', 1), 1);
  proc.kill('SIGKILL');
  await once(proc, 'exit');
  await assert.rejects(a.peers.call('k2', 'echo', 2, { timeoutMs: 1000 }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE') || isCaxtonError(e, 'CAXTON_ERR_CLUSTER_TIMEOUT'));
  await until('k2 failed', () => a.members().some((m) => m.name === 'k2' && m.status === 'failed'));
  assert.equal(a.peers.post('k2', 'sink', 1), false, 'a failed member takes no posts');
  await child(t, 'k2', addr.host, addr.port, a.transport.local);
  await until('k2 alive again', () => a.members().some((m) => m.name === 'k2' && m.status === 'alive'));
  assert.equal(await until('k2 answers again', () => a.peers.call('k2', 'echo', 3).catch(() => undefined)), 3);
  const closed = a.peers.stats().closed.filter((c) => c.peer === 'k2').map((c) => c.reason);
  assert.ok(closed.length > 0, 'the dead connection was counted as closed');
});
