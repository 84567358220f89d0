/**
 * The node-to-node link over real sockets: several Clusters in one process on 127.0.7.x, each with
 * its link on the gossip port. Posts, calls, errors, simultaneous dials, timeouts and the circuit, bad
 * frames from a raw socket, and the handshake's authentication with gossip keys.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { Cluster } from '../../../src/cluster/cluster.js';
import { CaxtonError, isCaxtonError } from '../../../src/errors.js';
import { FrameType, LINK_MAGIC, LINK_VERSION, controlFrame, encodeHello, writeU32 } from '../../../src/cluster/link/frame.js';
import { registerLinkMetrics } from '../../../src/cluster/link/metrics.js';
import { Link } from '../../../src/cluster/link/link.js';
import { Registry } from 'prom-client';
import { until } from '../../helpers/until.js';

const fast = { probeIntervalMs: 200, probeTimeoutMs: 100, gossipIntervalMs: 50, suspicionMult: 3, pushPullIntervalMs: 2000, reconnectIntervalMs: 500 } as const;
let nextHost = 10;

async function start(t: TestContext, name: string, extra: Partial<Parameters<typeof Cluster.start>[0]> = {}): Promise<Cluster> {
  const c = await Cluster.start({ name, bind: { host: `127.0.7.${nextHost++}`, port: 0 }, profile: 'local', timings: fast, tags: { role: 'caxton' }, ...extra });
  t.after(() => c.shutdown());
  return c;
}

async function cluster(t: TestContext, names: string[], extra: Partial<Parameters<typeof Cluster.start>[0]> = {}): Promise<Cluster[]> {
  const cs: Cluster[] = [];
  for (const n of names) cs.push(await start(t, n, extra));
  for (const c of cs.slice(1)) assert.equal(await c.join([(cs[0] as Cluster).transport.local]), 1);
  await until('every node sees every other alive', () => cs.every((c) => c.members().filter((m) => m.status === 'alive').length === cs.length));
  return cs;
}

const closedCount = (c: Cluster, reason: string): number => c.peers.stats().closed.filter((x) => x.reason === reason).reduce((a, x) => a + x.count, 0);

test('link - posts and calls between three nodes, JSON and raw bytes, errors with their code', async (t) => {
  const [a, b, c] = (await cluster(t, ['n1', 'n2', 'n3'])) as [Cluster, Cluster, Cluster];
  const got: [string, unknown][] = [];
  for (const x of [b, c]) {
    x.peers.onPost('note', (from, body) => got.push([`${from}->${x.name}`, body]));
    x.peers.onCall('echo', (from, body) => ({ from, at: x.name, body }));
    x.peers.onCall('len', (_from, body) => (body as Uint8Array).length);
    x.peers.onCall('slow-echo', async (_from, body) => {
      await new Promise((r) => setTimeout(r, 10));
      return body;
    });
    x.peers.onCall('fail', () => {
      throw new CaxtonError('CAXTON_ERR_AGENT_NOT_FOUND', 'no agent named zed');
    });
  }
  assert.equal(a.peers.post('n2', 'note', { i: 1 }), true);
  assert.equal(a.peers.post('n3', 'note', [1, 'two']), true);
  assert.equal(a.peers.post('n3', 'note', undefined), true);
  assert.deepEqual(await a.peers.call('n2', 'echo', { x: 'é' }), { from: 'n1', at: 'n2', body: { x: 'é' } });
  assert.deepEqual(await a.peers.call('n3', 'slow-echo', 'hi'), 'hi');
  const blob = new Uint8Array(randomBytes(200_000));
  assert.equal(await a.peers.call('n3', 'len', blob), 200_000);
  assert.equal(await b.peers.call('n3', 'len', blob.subarray(5, 10)), 5);
  await assert.rejects(a.peers.call('n2', 'fail', null), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_AGENT_NOT_FOUND') && e.message === 'no agent named zed');
  await assert.rejects(a.peers.call('n2', 'nobody', null), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE') && /does not answer nobody/.test(e.message));
  await assert.rejects(a.peers.call('n9', 'echo', null), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE'));
  assert.equal(a.peers.post('n9', 'note', 1), false);
  // A body JSON cannot encode is the caller's bug: call rejects with it, post throws it; nothing is sent.
  await assert.rejects(a.peers.call('n2', 'echo', { n: 1n }), TypeError);
  assert.throws(() => a.peers.post('n2', 'note', { n: 1n }), TypeError);
  await until('posts delivered', () => got.length === 3);
  assert.deepEqual(
    got.sort((x, y) => x[0].localeCompare(y[0])),
    [
      ['n1->n2', { i: 1 }],
      ['n1->n3', [1, 'two']],
      ['n1->n3', undefined],
    ],
  );
  // Raw bytes arrive as bytes, not base64 or JSON.
  let bytes: unknown;
  c.peers.onPost('raw', (_f, body) => (bytes = body));
  a.peers.post('n3', 'raw', new Uint8Array([0, 1, 2, 255]));
  await until('raw post', () => bytes !== undefined);
  assert.ok(bytes instanceof Uint8Array);
  assert.deepEqual([...(bytes as Uint8Array)], [0, 1, 2, 255]);
  // One connection per pair: n1 dialed n2 and n3, and n2 dialed n3.
  const s = a.peers.stats();
  assert.deepEqual(s.peers.map((p) => [p.peer, p.connected]).sort(), [['n2', true], ['n3', true]]);
  assert.equal(b.transport.stats().streamsOpen, 2);
});

test('link - many posts in order, batched into few frames', async (t) => {
  const [a, b] = (await cluster(t, ['o1', 'o2'])) as [Cluster, Cluster];
  const seen: number[] = [];
  b.peers.onPost('seq', (_f, body) => seen.push(body as number));
  const N = 20_000;
  let sent = 0;
  while (sent < N) {
    if (a.peers.post('o2', 'seq', sent)) sent++;
    else await new Promise((r) => setImmediate(r));
    if (sent % 1000 === 0) await new Promise((r) => setImmediate(r));
  }
  await until('every post', () => seen.length === N);
  assert.deepEqual(seen, Array.from({ length: N }, (_, i) => i));
  const out = a.peers.stats().peers.find((p) => p.peer === 'o2');
  assert.ok(out !== undefined && out.framesOut < N / 10, `batched: ${out?.framesOut} frames for ${N} posts`);
});

test('link - simultaneous dials leave one connection per pair, kept by the smaller name', async (t) => {
  const [a, b] = (await cluster(t, ['p1', 'p2'])) as [Cluster, Cluster];
  const got = { a: 0, b: 0 };
  a.peers.onPost('x', () => got.a++);
  b.peers.onPost('x', () => got.b++);
  for (let i = 0; i < 5; i++) {
    // Both sides queue before either connection exists: both dial.
    assert.equal(a.peers.post('p2', 'x', i), true);
    assert.equal(b.peers.post('p1', 'x', i), true);
  }
  await until('both received', () => got.a === 5 && got.b === 5);
  assert.deepEqual(await a.peers.call('p2', 'nothing-here', null).catch((e: CaxtonError) => e.code), 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE');
  await until('one stream each', () => a.transport.stats().streamsOpen === 1 && b.transport.stats().streamsOpen === 1);
  assert.equal(closedCount(a, 'duplicate') + closedCount(b, 'duplicate') >= 1, true, 'a duplicate was closed');
  // p1 < p2: p1 keeps the connection it dialed (it never closes it as a duplicate); p2 gives its own up.
  assert.ok(!a.peers.stats().closed.some((x) => x.peer === 'p2' && x.reason === 'duplicate'), JSON.stringify(a.peers.stats().closed));
  assert.ok(b.peers.stats().closed.some((x) => x.peer === 'p1' && x.reason === 'duplicate'), JSON.stringify(b.peers.stats().closed));
});

test('link - a call that is not answered in time times out; repeated timeouts open the circuit, which recovers', async (t) => {
  const [a, b] = (await cluster(t, ['q1', 'q2'], { link: { circuit: { failureThreshold: 3, openMs: 300 } } })) as [Cluster, Cluster];
  let answer = false;
  b.peers.onCall('maybe', () => (answer ? 'yes' : new Promise(() => undefined)));
  for (let i = 0; i < 3; i++) {
    await assert.rejects(a.peers.call('q2', 'maybe', null, { timeoutMs: 50 }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_TIMEOUT') && /q2 did not answer maybe within 50 ms/.test(e.message));
  }
  const p = a.peers.stats().peers.find((x) => x.peer === 'q2');
  assert.equal(p?.circuit, 'open');
  assert.equal(a.peers.post('q2', 'any', 1), false);
  await assert.rejects(a.peers.call('q2', 'maybe', null), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE') && /circuit/.test(e.message));
  answer = true;
  await new Promise((r) => setTimeout(r, 350));
  assert.equal(a.peers.stats().peers.find((x) => x.peer === 'q2')?.circuit, 'half-open');
  assert.equal(await a.peers.call('q2', 'maybe', null), 'yes');
  assert.equal(a.peers.stats().peers.find((x) => x.peer === 'q2')?.circuit, 'closed');
});

/** A raw TCP connection to a node's gossip port; resolves with what it read and why it ended. */
function rawSession(port: number, host: string, bytes: Uint8Array): Promise<{ read: Buffer; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port }, () => s.end(bytes)); // ending our side lets a cut frame show as truncated
    const chunks: Buffer[] = [];
    s.on('data', (d) => chunks.push(d));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ read: Buffer.concat(chunks), closed: true });
    });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('the node did not close a connection that sent a bad frame within 5 s'));
    }, 5000);
  });
}

function frame(type: number, payload: Uint8Array, claimedLength?: number): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  writeU32(out, 0, claimedLength ?? 1 + payload.length);
  out[4] = type;
  out.set(payload, 5);
  return out;
}

const hello = (name: string): Uint8Array => encodeHello({ version: LINK_VERSION, proof: false, nonce: new Uint8Array(16), name });
const withMagic = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat([Buffer.from([LINK_MAGIC]), ...parts]));

test('link - bad frames close only their connection, with a logged reason and a counted metric; the node keeps serving', async (t) => {
  const warnings: string[] = [];
  const logger = { debug: () => undefined, warn: (_o: object, msg?: string) => warnings.push(msg ?? ''), info: () => undefined, error: () => undefined };
  const [a, b] = (await cluster(t, ['r1', 'r2'], { logger, link: { maxFrameBytes: 64 * 1024 } })) as [Cluster, Cluster];
  b.peers.onCall('echo', (_f, body) => body);
  assert.equal(await a.peers.call('r2', 'echo', 1), 1);
  const { host, port } = b.transport.local;
  const cases: [string, Uint8Array][] = [
    ['frame-too-large', withMagic(frame(FrameType.Hello, new Uint8Array(0), 64 * 1024 + 1))],
    ['frame-empty', withMagic(frame(FrameType.Hello, new Uint8Array(0), 0))],
    ['frame-unknown-type', withMagic(frame(99, new Uint8Array(3)))],
    ['handshake', withMagic(frame(FrameType.Hello, new Uint8Array(randomBytes(40))))],
    ['handshake', withMagic(frame(FrameType.Batch, new Uint8Array(10)))],
    ['frame-malformed', withMagic(hello('stranger'), frame(FrameType.Credit, new Uint8Array(4)), frame(FrameType.Batch, new Uint8Array([1, 200, 0])))],
    ['frame-truncated', withMagic(hello('stranger2'), frame(FrameType.Batch, new Uint8Array(10), 500))],
  ];
  for (const [reason, bytes] of cases) {
    const before = closedCount(b, reason);
    const r = await rawSession(port, host, bytes);
    assert.ok(r.closed, reason);
    await until(`${reason} counted`, () => closedCount(b, reason) === before + 1);
    // The link between the real nodes is untouched.
    assert.equal(await a.peers.call('r2', 'echo', reason), reason);
  }
  assert.ok(warnings.some((w) => /frame-too-large.*over the link's frame limit of 65536/.test(w)), warnings.join('\n'));
  assert.ok(warnings.some((w) => /frame-truncated/.test(w)));
  // A body over the limit is refused at the sender, and nothing is sent.
  assert.equal(a.peers.post('r2', 'x', new Uint8Array(70_000)), false);
  await assert.rejects(a.peers.call('r2', 'echo', new Uint8Array(70_000)), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_FRAME'));
  // Membership still works on the same port.
  assert.equal(b.members().filter((m) => m.status === 'alive').length, 2);
  assert.equal(await a.peers.call('r2', 'echo', 'still'), 'still');
});

test('link - with gossip keys the handshake is authenticated: members link, a stranger without the key is refused', async (t) => {
  const key = new Uint8Array(randomBytes(32));
  const [a, b] = (await cluster(t, ['s1', 's2'], { keys: [key] })) as [Cluster, Cluster];
  b.peers.onCall('echo', (_f, body) => body);
  b.peers.onPost('p', () => assert.fail('a stranger injected a post'));
  assert.equal(await a.peers.call('s2', 'echo', 'ok'), 'ok');
  const { host, port } = b.transport.local;
  // Without keys: refused at the hello.
  const before = closedCount(b, 'auth');
  await rawSession(port, host, withMagic(hello('s9')));
  await until('auth failure counted', () => closedCount(b, 'auth') === before + 1);
  // Claims a key but sends a forged proof.
  const forged = encodeHello({ version: LINK_VERSION, proof: true, nonce: new Uint8Array(16), name: 's9' });
  const post = frame(FrameType.Batch, new Uint8Array([1, 1, 112, 0, 0, 0, 0, 0]));
  await rawSession(port, host, withMagic(forged, controlFrame(FrameType.Proof, new Uint8Array(32)), post));
  await until('forged proof counted', () => closedCount(b, 'auth') === before + 2);
  // An unauthenticated name is only a claim: it never becomes a metric label.
  assert.ok(!b.peers.stats().closed.some((x) => x.peer === 's9'), JSON.stringify(b.peers.stats().closed));
  // A real link with another key is refused too, whichever side checks first.
  const otherKey = new Uint8Array(randomBytes(32));
  const outsider = await start(t, 's3', { keys: [otherKey] });
  const rogue = new Link({ self: 's3', transport: { dial: (to, ms) => outsider.transport.dial(to, ms), onStream: () => undefined }, addressOf: () => b.transport.local, keys: () => [otherKey] });
  t.after(() => rogue.close());
  await assert.rejects(rogue.call('s2', 'echo', 'let me in', { timeoutMs: 500 }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_TIMEOUT') || isCaxtonError(e, 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE'));
  assert.ok(rogue.stats().closed.some((x) => x.reason === 'auth' || x.reason === 'remote-closed'), JSON.stringify(rogue.stats().closed));
  assert.equal(await a.peers.call('s2', 'echo', 'still'), 'still');
});

test('link - during a key rotation (another primary, the same ring) nodes still link', async (t) => {
  const k1 = new Uint8Array(randomBytes(32));
  const k2 = new Uint8Array(randomBytes(16));
  const a = await start(t, 'u1', { keys: [k1, k2] });
  const b = await start(t, 'u2', { keys: [k2, k1] });
  assert.equal(await b.join([a.transport.local]), 1);
  await until('u2 alive at u1', () => a.members().some((m) => m.name === 'u2' && m.status === 'alive'));
  b.peers.onCall('echo', (_f, body) => body);
  a.peers.onCall('echo', (_f, body) => body);
  assert.equal(await a.peers.call('u2', 'echo', 'a→b'), 'a→b');
  assert.equal(await b.peers.call('u1', 'echo', 'b→a'), 'b→a');
});

test('link - per-peer metrics: traffic, call latency, circuit and closed connections by reason', async (t) => {
  const [a, b] = (await cluster(t, ['m1', 'm2'])) as [Cluster, Cluster];
  const registry = new Registry();
  registerLinkMetrics(registry, () => a.peers.stats());
  b.peers.onCall('echo', (_f, body) => body);
  b.peers.onPost('p', () => undefined);
  for (let i = 0; i < 10; i++) await a.peers.call('m2', 'echo', i);
  a.peers.post('m2', 'p', 'x');
  await until('post sent', () => a.peers.stats().peers[0]?.framesOut === 11);
  await rawSession(a.transport.local.port, a.transport.local.host, withMagic(frame(42, new Uint8Array(1))));
  const text = await registry.metrics();
  assert.match(text, /caxton_cluster_link_calls_total\{peer="m2"\} 10/);
  assert.match(text, /caxton_cluster_link_call_latency_seconds_count\{peer="m2"\} 10/);
  assert.match(text, /caxton_cluster_link_posts_total\{peer="m2",direction="out"\} 1/);
  assert.match(text, /caxton_cluster_link_frames_total\{peer="m2",direction="out"\} 11/);
  assert.match(text, /caxton_cluster_link_bytes_total\{peer="m2",direction="in"\} [1-9]/);
  assert.match(text, /caxton_cluster_link_connected\{peer="m2"\} 1/);
  assert.match(text, /caxton_cluster_link_circuit_state\{peer="m2"\} 0/);
  assert.match(text, /caxton_cluster_link_queue_bytes\{peer="m2"\} 0/);
  assert.match(text, /caxton_cluster_link_connections_closed_total\{peer="",reason="frame-unknown-type"\} 1/);
});

test('link - the heartbeat keeps an idle link open and closes a silent one; a stalled handshake times out', async (t) => {
  const [a, b] = (await cluster(t, ['h1', 'h2'], { link: { heartbeatMs: 50, deadAfterMs: 300, handshakeTimeoutMs: 300 } })) as [Cluster, Cluster];
  b.peers.onCall('echo', (_f, body) => body);
  assert.equal(await a.peers.call('h2', 'echo', 1), 1);
  // Idle for several dead intervals: pings and pongs keep it open.
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(closedCount(a, 'heartbeat') + closedCount(b, 'heartbeat'), 0);
  assert.equal(a.peers.stats().peers[0]?.connected, true);
  // A peer that completes the hello and then never answers a ping is closed for silence.
  const { host, port } = b.transport.local;
  const ghost = net.connect({ host, port }, () => ghost.write(withMagic(hello('ghost'))));
  ghost.on('error', () => undefined);
  t.after(() => ghost.destroy());
  await until('the silent peer closed', () => closedCount(b, 'heartbeat') === 1, 5000);
  // One that never finishes its handshake is closed when the handshake time is up.
  const mute = net.connect({ host, port }, () => mute.write(Uint8Array.of(LINK_MAGIC)));
  mute.on('error', () => undefined);
  t.after(() => mute.destroy());
  await until('the stalled handshake closed', () => closedCount(b, 'handshake-timeout') === 1, 5000);
  assert.equal(await a.peers.call('h2', 'echo', 2), 2);
});

test('link - a peer that grants much credit and then stops reading meets backpressure, not a failed stream', async (t) => {
  const [b] = (await cluster(t, ['g1'], { link: { maxQueueBytes: 4 * 1024 * 1024 } })) as [Cluster];
  const { host, port } = b.transport.local;
  const ghost = net.connect({ host, port }, () => ghost.write(withMagic(hello('greedy'))));
  ghost.on('error', () => undefined);
  t.after(() => ghost.destroy());
  // Once the node has answered (hello + credit), grant it 256 MiB and stop reading.
  await new Promise<void>((resolve) => ghost.once('data', () => resolve()));
  const credit = new Uint8Array(4);
  writeU32(credit, 0, 256 * 1024 * 1024);
  ghost.write(controlFrame(FrameType.Credit, credit));
  ghost.pause();
  await until('greedy admitted', () => b.peers.stats().peers.some((p) => p.peer === 'greedy' && p.connected));
  const body = new Uint8Array(60 * 1024);
  let refused = false;
  for (let i = 0; i < 2000 && !refused; i++) {
    refused = !b.peers.post('greedy', 'x', body);
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(refused, 'the queue filled up and refused');
  assert.equal(closedCount(b, 'stream-failed'), 0, JSON.stringify(b.peers.stats().closed));
  assert.equal(b.peers.stats().peers.find((p) => p.peer === 'greedy')?.connected, true);
});
