/**
 * Five Caxton nodes in one process over real UDP/TCP sockets on 127.0.0.x, with faults injected by the
 * transport's drop hook: 10 % packet loss without false failures, and a {3}/{2} partition that heals
 * with no operator action.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from '../../../src/cluster/cluster.js';
import type { Address, DropHook } from '../../../src/cluster/transport/transport.js';
import { prng } from '../../helpers/prng.js';
import { freePort, sleep } from '../../unit/cluster/serf/serf-harness.js';
import { until } from '../../helpers/until.js';

const fast = { probeIntervalMs: 200, probeTimeoutMs: 100, gossipIntervalMs: 50, suspicionMult: 3, pushPullIntervalMs: 2000, reconnectIntervalMs: 500 } as const;


async function startFive(t: TestContext, base: number, hook: (self: number) => DropHook): Promise<Cluster[]> {
  const port = await freePort(`127.0.0.${base}`);
  const nodes: Cluster[] = [];
  for (let i = 0; i < 5; i++) {
    const c = await Cluster.start({ name: `f${i}`, bind: { host: `127.0.0.${base + i}`, port }, profile: 'local', timings: fast, dropHook: hook(i) });
    t.after(() => c.shutdown());
    nodes.push(c);
  }
  for (let i = 1; i < 5; i++) await (nodes[i] as Cluster).join([{ host: `127.0.0.${base}`, port }]);
  await until('5 alive everywhere', () => nodes.every((n) => n.members().filter((m) => m.status === 'alive').length === 5));
  return nodes;
}

test('cluster sockets - 10 % packet loss for 8 s: no live node is declared failed', async (t) => {
  const rand = prng(7);
  let lossy = false;
  const nodes = await startFive(t, 70, () => ({ dropPacket: () => lossy && rand() < 0.1 }));
  const failures: string[] = [];
  for (const n of nodes) n.onEvent((e) => e.type === 'failed' && failures.push(`${n.name} saw ${e.member.name} fail`));
  lossy = true;
  await sleep(8000);
  lossy = false;
  assert.deepEqual(failures, []);
  assert.ok(nodes.every((n) => n.members().every((m) => m.status === 'alive')));
});

test('cluster sockets - a {3}/{2} partition: each side fails the other, then it heals by itself', async (t) => {
  let cut = false;
  const side = (host: string) => (Number(host.split('.')[3]) - 80 < 3 ? 'a' : 'b');
  const hook = (self: number): DropHook => {
    const mine = self < 3 ? 'a' : 'b';
    const across = (peer: Address) => cut && side(peer.host) !== mine;
    return { dropPacket: (_dir, peer) => across(peer), dropStream: (_dir, peer) => across(peer) };
  };
  const nodes = await startFive(t, 80, hook);
  cut = true;
  const status = (n: Cluster, name: string) => n.members().find((m) => m.name === name)?.status;
  await until('each side sees the other failed', () => nodes.slice(0, 3).every((n) => status(n, 'f3') === 'failed' && status(n, 'f4') === 'failed') && nodes.slice(3).every((n) => status(n, 'f0') === 'failed'), 15_000);
  assert.ok(nodes.slice(0, 3).every((n) => status(n, 'f1') === 'alive'), 'no false failure inside a side');
  cut = false;
  const t0 = Date.now();
  await until('every node alive again everywhere', () => nodes.every((n) => n.members().filter((m) => m.status === 'alive').length === 5), 20_000);
  t.diagnostic(`healed ${Date.now() - t0} ms after the partition ended`);
});
