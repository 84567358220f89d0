import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { HostError } from '../../../src/sandbox/abi.js';
import { FrameKind, FrameReader, FrameWriter, type FrameKindCode } from '../../../src/sandbox/worker/direct-frames.js';
import { COUNTER_RECEIVED, COUNTER_ROUTES, COUNTER_SENT, DirectLink, FENCE_TIMEOUT_MS } from '../../../src/sandbox/worker/direct-link.js';
import type { PriorityLevel } from '../../../src/sandbox/worker/mailbox.js';
import { FakeHost, type Fence } from '../../helpers/direct-host.js';
import { until } from '../../helpers/until.js';

const WAIT_MS = 3000;

interface Pair {
  readonly a: DirectLink;
  readonly b: DirectLink;
  readonly ha: FakeHost;
  readonly hb: FakeHost;
  /** What node-a's main thread does with A's fence when it reaches node-b: B's worker answers it. */
  readonly answerA: (f: Fence) => void;
  readonly answerB: (f: Fence) => void;
}

const cfg = (node: string) => ({ node, bindHost: '127.0.0.1', port: 0, advertiseHost: '127.0.0.1', maxFrameBytes: 1024 * 1024 });

/**
 * Two direct paths, node-a's and node-b's, in this process. With `autoFence`, a fence asked for is
 * handed to the other side's worker on the next turn (as the main threads would over the cluster link).
 */
async function pair(t: TestContext, autoFence: boolean): Promise<Pair> {
  const ha = new FakeHost();
  const hb = new FakeHost();
  const a = await DirectLink.start(ha, cfg('node-a'));
  t.after(() => a.close());
  const b = await DirectLink.start(hb, cfg('node-b'));
  t.after(() => b.close());
  assert.ok(a.port > 0 && b.port > 0 && a.port !== b.port);
  const answerA = (f: Fence): void => b.fenceArrived(f.name, f.token, f.host, f.port, 'node-a');
  const answerB = (f: Fence): void => a.fenceArrived(f.name, f.token, f.host, f.port, 'node-b');
  if (autoFence) {
    ha.onFence = (f) => setImmediate(() => answerA(f));
    hb.onFence = (f) => setImmediate(() => answerB(f));
  }
  return { a, b, ha, hb, answerA, answerB };
}

/** A grants a route to `name` on node-b (B hosting it) and waits until it is open. */
async function openRoute(p: Pair, name: string): Promise<void> {
  p.hb.hosted.add(name);
  const before = p.ha.counters[COUNTER_ROUTES] as number;
  const fences = p.ha.fences.length;
  p.a.grant(name, 'node-b');
  assert.equal(p.ha.fences.length, fences + 1, `a fence was asked for ${name}`);
  if (p.ha.onFence === undefined) p.answerA(p.ha.fences[fences] as Fence);
  await until(`the route to ${name} to open`, () => p.ha.counters[COUNTER_ROUTES] === before + 1, WAIT_MS, 5);
}

function msgs(from: string, to: string, jsons: readonly string[], priority: PriorityLevel): (string | number)[] {
  return jsons.flatMap((j) => [from, to, j, priority]);
}

type WireFrame = { readonly t: 'message'; readonly to: string; readonly json: string; readonly priority: PriorityLevel } | { readonly t: 'control'; readonly kind: FrameKindCode; readonly body: unknown };

interface Raw {
  readonly socket: net.Socket;
  /** The frames the direct path wrote to this socket, decoded. */
  readonly frames: WireFrame[];
  readonly closed: Promise<void>;
  /** Writes frames as one write. */
  readonly write: (fill: (w: FrameWriter) => void) => void;
}

/** A socket playing the other side of the protocol by hand; it decodes what it is sent. */
function rawOf(t: TestContext, socket: net.Socket): Raw {
  t.after(() => socket.destroy());
  socket.on('error', () => {});
  const frames: WireFrame[] = [];
  const reader = new FrameReader(1 << 20);
  socket.on('data', (chunk: Buffer) =>
    reader.push(chunk, {
      message: (to, json, priority) => frames.push({ t: 'message', to, json, priority }),
      control: (kind, body) => frames.push({ t: 'control', kind, body }),
    }),
  );
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const write = (fill: (w: FrameWriter) => void): void => {
    const w = new FrameWriter();
    fill(w);
    const b = w.take();
    if (b !== undefined) socket.write(b);
  };
  return { socket, frames, closed, write };
}

/** A raw TCP client of a direct path's port. */
async function rawClient(t: TestContext, port: number): Promise<Raw> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const raw = rawOf(t, socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return raw;
}

/** A raw listener: the direct path of a fake peer worker, which the link under test dials. */
async function rawServer(t: TestContext): Promise<{ readonly port: number; readonly accepted: Promise<Raw> }> {
  const server = net.createServer();
  let resolveAccepted: (r: Raw) => void = () => {};
  const accepted = new Promise<Raw>((resolve) => {
    resolveAccepted = resolve;
  });
  server.on('connection', (s) => resolveAccepted(rawOf(t, s)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  return { port: (server.address() as net.AddressInfo).port, accepted };
}

const controls = (frames: readonly WireFrame[], kind: FrameKindCode): unknown[] => frames.flatMap((f) => (f.t === 'control' && f.kind === kind ? [f.body] : []));

function within<T>(what: string, p: Promise<T>, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Shifts Date.now() by `ms` while `fn` runs (the cool-downs compare against it). */
function later<T>(ms: number, fn: () => T): T {
  const real = Date.now;
  Date.now = () => real.call(Date) + ms;
  try {
    return fn();
  } finally {
    Date.now = real;
  }
}

test('direct link - messages sent while the route is pending queue, then arrive in order once B answers the fence', async (t) => {
  const p = await pair(t, false);
  const { a, b, ha, hb } = p;
  hb.hosted.add('bob');
  a.grant('bob', 'node-b');
  assert.equal(ha.fences.length, 1);
  const f = ha.fences[0] as Fence;
  assert.equal(f.name, 'bob');
  assert.equal(f.node, 'node-b');
  assert.match(f.token, /^[0-9a-f]{24}$/);
  assert.equal(f.host, '127.0.0.1');
  assert.equal(f.port, a.port);

  // a second grant while one is pending does not fence again
  a.grant('bob', 'node-b');
  assert.equal(ha.fences.length, 1);

  assert.equal(a.send('alice', 'bob', '{"n":1}', 0, false), HostError.OK);
  assert.equal(a.send('alice', 'bob', '{"n":2}', 3, false), HostError.OK);
  assert.equal(a.send('carl', 'bob', '{"n":"é🙂"}', 1, false), HostError.OK);
  a.flush();
  assert.deepEqual([...ha.counters], [0, 0, 0], 'nothing sent while pending');

  // node-b's worker receives the fence: it dials A, HELLO + FENCE_OK; A writes its queue
  b.fenceArrived('bob', f.token, f.host, f.port, 'node-a');
  await until('the queued messages at B', () => hb.delivered.length === 3, WAIT_MS, 5);
  assert.deepEqual(hb.delivered, [
    { to: 'bob', json: '{"n":1}', priority: 0, origin: 'node-a' },
    { to: 'bob', json: '{"n":2}', priority: 3, origin: 'node-a' },
    { to: 'bob', json: '{"n":"é🙂"}', priority: 1, origin: 'node-a' },
  ]);
  assert.equal(ha.counters[COUNTER_SENT], 3);
  assert.equal(ha.counters[COUNTER_ROUTES], 1);
  assert.equal(hb.counters[COUNTER_RECEIVED], 3);
  assert.ok(hb.drains > 0, 'B ran what the deliveries queued');

  // from now on, sends go straight over the connection, in order
  for (let i = 4; i <= 50; i++) assert.equal(a.send('alice', 'bob', `{"n":${i}}`, (i % 4) as PriorityLevel, false), HostError.OK);
  a.flush();
  await until('the later messages at B', () => hb.delivered.length === 50, WAIT_MS, 5);
  assert.deepEqual(hb.delivered.slice(3).map((d) => JSON.parse(d.json) as unknown), Array.from({ length: 47 }, (_, i) => ({ n: i + 4 })));
  assert.ok(hb.delivered.every((d) => d.origin === 'node-a' && d.to === 'bob'));
  assert.equal(ha.counters[COUNTER_SENT], 50);
  assert.equal(hb.counters[COUNTER_RECEIVED], 50);
  assert.equal(ha.counters[COUNTER_ROUTES], 1);
  assert.deepEqual([ha.viaMainBatches, hb.viaMainBatches], [[], []]);
  assert.deepEqual([ha.warnings, hb.warnings], [[], []]);
  assert.deepEqual(hb.counters[COUNTER_SENT], 0);
  assert.deepEqual(hb.notHosted, []);
});

test('direct link - send() is undefined for a name without a route', async (t) => {
  const { a, ha } = await pair(t, true);
  assert.equal(a.send('alice', 'nobody', '{}', 1, false), undefined);
  assert.equal(a.send('alice', 'nobody', '{}', 1, true), undefined);
  a.flush();
  assert.deepEqual(ha.fences, []);
  assert.deepEqual(ha.viaMainBatches, []);
  assert.deepEqual([...ha.counters], [0, 0, 0]);
  // a route to another name does not make one for this name
  a.grant('bob', 'node-b');
  assert.equal(a.send('alice', 'nobody', '{}', 1, false), undefined);
  assert.equal(a.send('alice', 'bob', '{}', 1, false), HostError.OK);
});

test('direct link - both directions: B opens a route to A over the connection it dialed', async (t) => {
  const p = await pair(t, true);
  const { a, b, ha, hb } = p;
  await openRoute(p, 'bob');
  ha.hosted.add('alice');
  b.grant('alice', 'node-a');
  await until('the route B → alice to open', () => hb.counters[COUNTER_ROUTES] === 1, WAIT_MS, 5);
  assert.equal(b.send('bob', 'alice', '{"reply":true}', 2, false), HostError.OK);
  assert.equal(a.send('alice', 'bob', '{"again":true}', 1, false), HostError.OK);
  b.flush();
  a.flush();
  await until('both messages', () => ha.delivered.length === 1 && hb.delivered.length === 1, WAIT_MS, 5);
  assert.deepEqual(ha.delivered, [{ to: 'alice', json: '{"reply":true}', priority: 2, origin: 'node-b' }]);
  assert.deepEqual(hb.delivered, [{ to: 'bob', json: '{"again":true}', priority: 1, origin: 'node-a' }]);
  assert.deepEqual([ha.warnings, hb.warnings], [[], []]);
});

test('direct link - an at-least-once send on an open route: CLOSE, then the queue goes the main way after CLOSED', async (t) => {
  const p = await pair(t, true);
  const { a, ha, hb } = p;
  await openRoute(p, 'bob');
  assert.equal(a.send('alice', 'bob', '"m1"', 1, false), HostError.OK);
  a.flush();
  assert.equal(a.send('alice', 'bob', '"m2"', 2, true), HostError.OK); // reliable: the route closes
  assert.equal(ha.counters[COUNTER_ROUTES], 0, 'no longer an open route');
  assert.equal(a.send('alice', 'bob', '"m3"', 0, false), HostError.OK); // queued behind it
  assert.equal(a.send('carl', 'bob', '"m4"', 3, true), HostError.OK);
  a.grant('bob', 'node-b'); // a grant while closing does nothing
  const fences = ha.fences.length;
  a.flush();
  await until('the queue via main', () => ha.viaMainBatches.length === 1, WAIT_MS, 5);
  assert.deepEqual(ha.viaMainBatches[0], [...msgs('alice', 'bob', ['"m2"'], 2), ...msgs('alice', 'bob', ['"m3"'], 0), ...msgs('carl', 'bob', ['"m4"'], 3)]);
  // m1 went before CLOSE, so B had it by the time it answered CLOSED; nothing after CLOSE went direct
  assert.deepEqual(hb.delivered.map((d) => d.json), ['"m1"']);
  assert.equal(ha.counters[COUNTER_SENT], 1);
  assert.equal(hb.counters[COUNTER_RECEIVED], 1);

  // the route is gone...
  assert.equal(a.send('alice', 'bob', '"m5"', 1, false), undefined);
  // ...and the name cools down for 10 s: a grant is ignored now, and still 9 s later, but not 11 s later
  a.grant('bob', 'node-b');
  later(9_000, () => a.grant('bob', 'node-b'));
  assert.equal(ha.fences.length, fences);
  assert.equal(a.send('alice', 'bob', '"m5"', 1, false), undefined);
  later(11_000, () => a.grant('bob', 'node-b'));
  assert.equal(ha.fences.length, fences + 1);
  await until('the route to reopen', () => ha.counters[COUNTER_ROUTES] === 1, WAIT_MS, 5);
  assert.equal(a.send('alice', 'bob', '"m6"', 1, false), HostError.OK);
  a.flush();
  await until('m6', () => hb.delivered.length === 2, WAIT_MS, 5);
  assert.equal(hb.delivered[1]?.json, '"m6"');
  assert.equal(ha.viaMainBatches.length, 1);
  assert.deepEqual([ha.warnings, hb.warnings], [[], []]);
});

test('direct link - an at-least-once send while pending: after FENCE_OK the queue goes the main way, no route opens', async (t) => {
  const p = await pair(t, false);
  const { a, ha, hb } = p;
  hb.hosted.add('bob');
  a.grant('bob', 'node-b');
  const f = ha.fences[0] as Fence;
  assert.equal(a.send('alice', 'bob', '"m1"', 1, false), HostError.OK);
  assert.equal(a.send('alice', 'bob', '"m2"', 3, true), HostError.OK);
  assert.equal(a.send('alice', 'bob', '"m3"', 0, false), HostError.OK);
  a.flush();
  assert.deepEqual(ha.viaMainBatches, [], 'held until the fence is answered');
  p.answerA(f);
  await until('the queue via main', () => ha.viaMainBatches.length === 1, WAIT_MS, 5);
  assert.deepEqual(ha.viaMainBatches[0], [...msgs('alice', 'bob', ['"m1"'], 1), ...msgs('alice', 'bob', ['"m2"'], 3), ...msgs('alice', 'bob', ['"m3"'], 0)]);
  assert.deepEqual([...ha.counters], [0, 0, 0]);
  assert.deepEqual(hb.delivered, []);
  assert.equal(a.send('alice', 'bob', '"m4"', 1, false), undefined);
  a.grant('bob', 'node-b');
  assert.equal(ha.fences.length, 1, 'the name cools down');
  // node-b did answer, so it is not cooled down as a node: another name gets a fence at once
  a.grant('dora', 'node-b');
  assert.equal(ha.fences.length, 2);
  assert.deepEqual([ha.warnings, hb.warnings], [[], []]);
});

test('direct link - REVOKE: B does not host the name any more, so A drops the route', async (t) => {
  const p = await pair(t, true);
  const { a, ha, hb } = p;
  await openRoute(p, 'bob');
  hb.hosted.delete('bob'); // the agent moved away after the fence
  for (let i = 1; i <= 3; i++) assert.equal(a.send('alice', 'bob', `"m${i}"`, 1, false), HostError.OK);
  a.flush();
  await until('the route to drop', () => ha.counters[COUNTER_ROUTES] === 0, WAIT_MS, 5);
  assert.equal(a.send('alice', 'bob', '"m4"', 1, false), undefined);
  // B handed all three to its own main thread (deliver answered false), counted them as received
  assert.deepEqual(hb.notHosted.map((d) => [d.to, d.json, d.origin]), [['bob', '"m1"', 'node-a'], ['bob', '"m2"', 'node-a'], ['bob', '"m3"', 'node-a']]);
  assert.equal(hb.counters[COUNTER_RECEIVED], 3);
  assert.deepEqual(hb.delivered, []);
  assert.deepEqual(ha.viaMainBatches, [], 'nothing of A goes via main: those messages went on at B');
  // a short cool-down (1 s) after REVOKE: ignored now, granted again 1.5 s later
  const fences = ha.fences.length;
  ha.onFence = undefined; // (this fence is left unanswered)
  a.grant('bob', 'node-b');
  assert.equal(ha.fences.length, fences);
  later(1_500, () => a.grant('bob', 'node-b'));
  assert.equal(ha.fences.length, fences + 1);
  // the connection stayed up: another route over it works
  await openRoute(p, 'bea');
  assert.equal(a.send('alice', 'bea', '"hi"', 1, false), HostError.OK);
  a.flush();
  await until('the message to bea', () => hb.delivered.length === 1, WAIT_MS, 5);
  assert.deepEqual([ha.warnings, hb.warnings], [[], []]);
});

test('direct link - refused() while pending hands the queue to the main path at once', async (t) => {
  const p = await pair(t, false);
  const { a, ha } = p;
  a.grant('bob', 'node-b');
  assert.equal(a.send('alice', 'bob', '"m1"', 1, false), HostError.OK);
  assert.equal(a.send('alice', 'bob', '"m2"', 2, true), HostError.OK);
  a.refused('bob');
  assert.deepEqual(ha.viaMainBatches, [[...msgs('alice', 'bob', ['"m1"'], 1), ...msgs('alice', 'bob', ['"m2"'], 2)]]);
  assert.equal(a.send('alice', 'bob', '"m3"', 1, false), undefined);
  a.grant('bob', 'node-b');
  assert.equal(ha.fences.length, 1, 'the name cools down after a refusal');
  // a refusal of a name without a route, or of an empty pending route, hands nothing on
  a.refused('nobody');
  a.grant('erin', 'node-b');
  a.refused('erin');
  assert.equal(ha.viaMainBatches.length, 1);
  assert.equal(a.send('alice', 'erin', '"x"', 1, false), undefined);
  // a late answer to the refused fence: its token is void, so A closes the connection
  p.answerA(ha.fences[0] as Fence);
  await until('the warning', () => ha.warnings.length === 1, WAIT_MS, 5);
  assert.match(ha.warnings[0] as string, /HELLO without a token/);
  assert.deepEqual([...ha.counters], [0, 0, 0]);
});

test('direct link - refused() on an open route leaves it open', async (t) => {
  const p = await pair(t, true);
  const { a, ha, hb } = p;
  await openRoute(p, 'bob');
  a.refused('bob');
  assert.equal(ha.counters[COUNTER_ROUTES], 1);
  assert.equal(a.send('alice', 'bob', '"m"', 1, false), HostError.OK);
  a.flush();
  await until('the message', () => hb.delivered.length === 1, WAIT_MS, 5);
  assert.deepEqual(ha.viaMainBatches, []);
});

test('direct link - a fence that is never answered times out: the queue goes the main way; silent connections are closed', async (t) => {
  const p = await pair(t, false);
  const { a, ha } = p;
  // node-b answers one fence (so it is known to speak the direct path)...
  p.hb.hosted.add('bob');
  a.grant('bob', 'node-b');
  p.answerA(ha.fences[0] as Fence);
  await until('the route to bob', () => ha.counters[COUNTER_ROUTES] === 1, WAIT_MS, 5);
  // ...and not the next; node-c never answers any
  const started = Date.now();
  a.grant('dora', 'node-b');
  a.grant('zed', 'node-c');
  const late = ha.fences[1] as Fence;
  assert.equal(late.name, 'dora');
  assert.equal(a.send('alice', 'dora', '"d1"', 1, false), HostError.OK);
  assert.equal(a.send('alice', 'dora', '"d2"', 2, false), HostError.OK);
  assert.equal(a.send('alice', 'zed', '"z1"', 3, false), HostError.OK);
  // a connection that never says HELLO is closed after the same 2 s
  const silent = await rawClient(t, a.port);
  // and a peer that never answers CLOSE: the closing route gives up after the same 2 s
  a.grant('rex', 'node-r');
  const rexFence = ha.fences[3] as Fence;
  assert.equal(rexFence.name, 'rex');
  const rex = await rawClient(t, a.port);
  rex.write((w) => {
    w.control(FrameKind.HELLO, { token: rexFence.token, node: 'node-r', host: '127.0.0.1', port: 1 });
    w.control(FrameKind.FENCE_OK, { token: rexFence.token, name: 'rex' });
  });
  await until('the route to rex', () => ha.counters[COUNTER_ROUTES] === 2, WAIT_MS, 5);
  assert.equal(a.send('alice', 'rex', '"r1"', 1, true), HostError.OK);
  assert.equal(a.send('alice', 'rex', '"r2"', 1, false), HostError.OK);
  a.flush();
  await until('CLOSE at the peer', () => controls(rex.frames, FrameKind.CLOSE).length === 1, WAIT_MS, 5);

  await until('the timed-out queues', () => ha.viaMainBatches.length === 3, FENCE_TIMEOUT_MS + 2000, 20);
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= FENCE_TIMEOUT_MS - 50, `timed out after ${elapsed} ms`);
  const batchFor = (name: string): (string | number)[] | undefined => ha.viaMainBatches.find((b) => b[1] === name);
  assert.deepEqual(batchFor('dora'), [...msgs('alice', 'dora', ['"d1"'], 1), ...msgs('alice', 'dora', ['"d2"'], 2)]);
  assert.deepEqual(batchFor('zed'), msgs('alice', 'zed', ['"z1"'], 3));
  assert.deepEqual(batchFor('rex'), msgs('alice', 'rex', ['"r1"', '"r2"'], 1));
  assert.equal(a.send('alice', 'rex', '"r3"', 1, false), undefined);
  // the stuck peer's connection is closed: what it had not taken is lost, not taken late behind the
  // queue that went the main way
  await within('the stuck connection to close', rex.closed);
  assert.ok(ha.warnings.some((w) => /no CLOSED for rex within 2000 ms/.test(w)), JSON.stringify(ha.warnings));
  assert.equal(ha.viaMainBatches.length, 3);
  assert.equal(ha.counters[COUNTER_ROUTES], 1);
  assert.equal(a.send('alice', 'dora', '"d3"', 1, false), undefined);
  assert.equal(a.send('alice', 'zed', '"z2"', 1, false), undefined);
  await within('the silent connection to close', silent.closed);
  await until('the HELLO timeout warning', () => ha.warnings.some((w) => /no HELLO with a valid token in time/.test(w)), WAIT_MS, 10);

  // node-c never answered: it gets no fence for a while, for any name; node-b answered before: it does
  const fences = ha.fences.length;
  a.grant('zoe', 'node-c');
  assert.equal(ha.fences.length, fences, 'node-c is cooled down');
  a.grant('erin', 'node-b');
  assert.equal(ha.fences.length, fences + 1, 'node-b is not');
  // the timed-out names cool down too
  a.grant('dora', 'node-b');
  assert.equal(ha.fences.length, fences + 1);
  // the open route was not touched
  assert.equal(ha.counters[COUNTER_ROUTES], 1);
  assert.equal(a.send('alice', 'bob', '"b"', 1, false), HostError.OK);
  a.flush();
  await until('the message to bob', () => p.hb.delivered.length === 1, WAIT_MS, 5);

  // the late answer for dora comes over the existing connection: ignored, nothing opens, nothing closes
  const warnings = ha.warnings.length;
  p.answerA(late);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(ha.counters[COUNTER_ROUTES], 1);
  assert.equal(a.send('alice', 'dora', '"d4"', 1, false), undefined);
  assert.equal(ha.warnings.length, warnings);
  assert.equal(a.send('alice', 'bob', '"b2"', 1, false), HostError.OK);
  a.flush();
  await until('the second message to bob', () => p.hb.delivered.length === 2, WAIT_MS, 5);

  // a late answer for zed on a new connection, which also carries the answer to a current fence: the
  // late token still authenticates it, its FENCE_OK is ignored, the current one opens its route
  const zedFence = ha.fences[2] as Fence;
  assert.equal(zedFence.name, 'zed');
  const erinFence = ha.fences[fences] as Fence;
  assert.equal(erinFence.name, 'erin');
  const peer = await rawClient(t, a.port);
  peer.write((w) => {
    w.control(FrameKind.HELLO, { token: zedFence.token, node: 'node-c', host: '127.0.0.1', port: 2 });
    w.control(FrameKind.FENCE_OK, { token: zedFence.token, name: 'zed' });
    w.control(FrameKind.FENCE_OK, { token: erinFence.token, name: 'erin' });
  });
  await until('the route to erin', () => ha.counters[COUNTER_ROUTES] === 2, WAIT_MS, 5);
  assert.equal(ha.warnings.length, warnings, JSON.stringify(ha.warnings.slice(warnings)));
  assert.equal(a.send('alice', 'zed', '"z3"', 1, false), undefined);
  assert.equal(a.send('alice', 'erin', '"e1"', 1, false), HostError.OK);
  a.flush();
  await until('the message to erin on the new connection', () => peer.frames.some((f) => f.t === 'message' && f.to === 'erin'), WAIT_MS, 5);
  // a minute later the spent token is void: such a HELLO closes its connection
  const real = Date.now;
  Date.now = () => real.call(Date) + 61_000;
  try {
    const stale = await rawClient(t, a.port);
    stale.write((w) => w.control(FrameKind.HELLO, { token: zedFence.token, node: 'node-c', host: '127.0.0.1', port: 3 }));
    await within('the connection with a spent token to close', stale.closed);
  } finally {
    Date.now = real;
  }
  await until('its warning', () => ha.warnings.length === warnings + 1, WAIT_MS, 5);
  assert.match(ha.warnings[warnings] as string, /HELLO without a token this worker sent in a fence/);
});

test('direct link - authentication: wrong tokens, frames before HELLO and garbage close the connection with a warning', async (t) => {
  const p = await pair(t, false);
  const { a, ha, hb } = p;
  // a pending route, so A has a real token outstanding
  hb.hosted.add('bob');
  a.grant('bob', 'node-b');
  const f = ha.fences[0] as Fence;
  assert.equal(a.send('alice', 'bob', '"queued"', 1, false), HostError.OK);

  async function rejected(what: string, bytes: Buffer, reason: RegExp): Promise<void> {
    const c = await rawClient(t, a.port);
    const warnings = ha.warnings.length;
    c.socket.write(bytes);
    await within(`${what}: the connection to close`, c.closed);
    await until(`${what}: the warning`, () => ha.warnings.length > warnings, WAIT_MS, 5);
    assert.equal(ha.warnings.length, warnings + 1, what);
    assert.match(ha.warnings[warnings] as string, /^direct path: closed the connection from /, what);
    assert.match(ha.warnings[warnings] as string, reason, what);
  }
  const frames = (fill: (w: FrameWriter) => void): Buffer => {
    const w = new FrameWriter();
    fill(w);
    const b = w.take();
    assert.ok(b !== undefined);
    return b;
  };

  await rejected('an unknown token', frames((w) => w.control(FrameKind.HELLO, { token: 'not-a-token', node: 'evil', host: '127.0.0.1', port: 1 })), /a protocol error: a HELLO without a token this worker sent in a fence/);
  await rejected('a token of the wrong type', frames((w) => w.control(FrameKind.HELLO, { token: 7, node: 'evil', host: '127.0.0.1', port: 1 })), /HELLO without a token/);
  await rejected('a real token without a node', frames((w) => w.control(FrameKind.HELLO, { token: f.token, host: '127.0.0.1', port: 1 })), /HELLO without a token/);
  await rejected('a real token with an empty node', frames((w) => w.control(FrameKind.HELLO, { token: f.token, node: '', host: '127.0.0.1', port: 1 })), /HELLO without a token/);
  await rejected('a real token without a port', frames((w) => w.control(FrameKind.HELLO, { token: f.token, node: 'node-b', host: '127.0.0.1' })), /HELLO without a token/);
  await rejected('a message before HELLO', frames((w) => w.message('alice', '"spoofed"', 1)), /a protocol error: a message before HELLO/);
  await rejected('FENCE_OK before HELLO', frames((w) => w.control(FrameKind.FENCE_OK, { token: f.token, name: 'bob' })), /a control frame \(kind 3\) before HELLO/);
  await rejected('CLOSE before HELLO', frames((w) => w.control(FrameKind.CLOSE, { name: 'bob' })), /a control frame \(kind 5\) before HELLO/);
  await rejected('HTTP garbage', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), /a protocol error: a frame of \d+ bytes/);
  await rejected('a zero-length frame', Buffer.from([0, 0, 0, 0]), /a protocol error: a frame of 0 bytes/);
  await rejected('a control body that is not JSON', Buffer.from([0, 0, 0, 3, FrameKind.HELLO, 0x7b, 0x7b]), /a protocol error: .*not JSON/);
  await rejected('an unknown kind', Buffer.from([0, 0, 0, 3, 9, 0x7b, 0x7d]), /a protocol error: a frame of unknown kind 9/);
  await rejected('a second HELLO', frames((w) => {
    w.control(FrameKind.HELLO, { token: f.token, node: 'node-x', host: '127.0.0.1', port: 1 });
    w.control(FrameKind.HELLO, { token: f.token, node: 'node-x', host: '127.0.0.1', port: 1 });
  }), /a second HELLO/);

  assert.deepEqual(hb.delivered, []);
  assert.deepEqual(ha.delivered, []);
  assert.deepEqual(ha.notHosted, [], 'nothing from the rejected connections reached the host');
  assert.deepEqual([...ha.counters], [0, 0, 0]);
  assert.deepEqual(ha.viaMainBatches, []);

  // A is unharmed: the proper answer to the fence opens the route and the queue arrives
  p.answerA(f);
  await until('the queued message at B', () => hb.delivered.length === 1, WAIT_MS, 5);
  assert.deepEqual(hb.delivered, [{ to: 'bob', json: '"queued"', priority: 1, origin: 'node-a' }]);
  assert.equal(ha.counters[COUNTER_ROUTES], 1);
  assert.deepEqual(hb.warnings, []);
});

test('direct link - a connection is reused only for the node whose HELLO it carried: one claiming another node\'s address does not get that node\'s answers', async (t) => {
  const p = await pair(t, false);
  const { a, b, ha, hb } = p;
  // node-y presents a real token of A's, but claims B's listening address as its own
  a.grant('yan', 'node-y');
  const fy = ha.fences[0] as Fence;
  const y = await rawClient(t, a.port);
  y.write((w) => w.control(FrameKind.HELLO, { token: fy.token, node: 'node-y', host: '127.0.0.1', port: b.port }));
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(ha.warnings, [], 'the HELLO was taken');
  // B fences an agent of A's: A answers on a connection of its own to B, not on node-y's
  ha.hosted.add('ann');
  b.grant('ann', 'node-a');
  const fb = hb.fences[0] as Fence;
  a.fenceArrived(fb.name, fb.token, fb.host, fb.port, 'node-b');
  await until('B\'s route to ann', () => hb.counters[COUNTER_ROUTES] === 1, WAIT_MS, 5);
  assert.deepEqual(controls(y.frames, FrameKind.FENCE_OK), [], 'node-y saw no FENCE_OK');
});

test('direct link - connection loss: closing B drops A\'s open route, and a closing route\'s queue goes the main way', async (t) => {
  const p = await pair(t, true);
  const { a, b, ha, hb } = p;
  await openRoute(p, 'bob');
  await openRoute(p, 'bea');
  assert.equal(ha.counters[COUNTER_ROUTES], 2);
  assert.equal(a.send('alice', 'bob', '"b1"', 1, false), HostError.OK);
  a.flush();
  await until('b1', () => hb.delivered.length === 1, WAIT_MS, 5);
  // bea's route starts closing; A's CLOSE is not written before B goes away
  assert.equal(a.send('alice', 'bea', '"r1"', 2, true), HostError.OK);
  assert.equal(a.send('alice', 'bea', '"r2"', 0, false), HostError.OK);
  assert.equal(ha.counters[COUNTER_ROUTES], 1);
  // B has a pending route of its own: closing B hands its queue to B's main thread
  hb.onFence = undefined; // (never answered)
  b.grant('alice', 'node-a');
  assert.equal(b.send('bob', 'alice', '"back"', 1, false), HostError.OK);
  b.close();
  assert.deepEqual(hb.viaMainBatches, [msgs('bob', 'alice', ['"back"'], 1)]);

  await until('A\'s routes to drop', () => ha.counters[COUNTER_ROUTES] === 0 && ha.viaMainBatches.length === 1, WAIT_MS, 5);
  assert.deepEqual(ha.viaMainBatches[0], [...msgs('alice', 'bea', ['"r1"'], 2), ...msgs('alice', 'bea', ['"r2"'], 0)]);
  assert.equal(a.send('alice', 'bob', '"b2"', 1, false), undefined);
  assert.equal(a.send('alice', 'bea', '"r3"', 1, false), undefined);
  assert.deepEqual(ha.warnings, [], 'a lost connection is no protocol error');
  a.flush(); // writing to nothing is harmless

  // an open route lost with its connection gets no cool-down; the closing one does
  const fences = ha.fences.length;
  ha.onFence = undefined;
  a.grant('bob', 'node-b');
  assert.equal(ha.fences.length, fences + 1);
  a.grant('bea', 'node-b');
  assert.equal(ha.fences.length, fences + 1);
  // a closed link takes nothing more
  b.grant('x', 'node-a');
  assert.equal(hb.fences.length, 1);
  b.fenceArrived('bob', 'tok', '127.0.0.1', a.port, 'node-a');
});

test('direct link - dropNode() closes the connections to that node and gives up its pending routes', async (t) => {
  const p = await pair(t, true);
  const { a, b, ha, hb } = p;
  await openRoute(p, 'bob');
  // B's route to alice reuses that connection (A answers on the one B dialed)
  ha.hosted.add('alice');
  b.grant('alice', 'node-a');
  await until('the route B → alice', () => hb.counters[COUNTER_ROUTES] === 1, WAIT_MS, 5);
  ha.onFence = undefined; // from here, fences are answered by hand
  hb.onFence = undefined;
  a.grant('carol', 'node-b');
  a.grant('dave', 'node-c');
  assert.equal(a.send('alice', 'carol', '"c1"', 1, false), HostError.OK);
  assert.equal(a.send('alice', 'dave', '"d1"', 1, false), HostError.OK);
  a.dropNode('node-b');
  assert.equal(ha.counters[COUNTER_ROUTES], 0);
  // B sees the connection close: its route over it drops too
  await until('B\'s route to drop', () => hb.counters[COUNTER_ROUTES] === 0, WAIT_MS, 5);
  assert.equal(b.send('bob', 'alice', '"x"', 1, false), undefined);
  assert.deepEqual(ha.viaMainBatches, [msgs('alice', 'carol', ['"c1"'], 1)]);
  assert.equal(a.send('alice', 'bob', '"b"', 1, false), undefined);
  assert.equal(a.send('alice', 'carol', '"c2"', 1, false), undefined);
  assert.equal(a.send('alice', 'dave', '"d2"', 1, false), HostError.OK, 'node-c\'s route is still pending');
  a.dropNode('node-x'); // nothing there
  assert.equal(a.send('alice', 'dave', '"d3"', 1, false), HostError.OK);
  assert.deepEqual(ha.warnings, []);

  // the routes are given up without a cool-down, and a new one is answered on a new connection
  const fences = ha.fences.length;
  hb.hosted.add('carol');
  a.grant('carol', 'node-b');
  assert.equal(ha.fences.length, fences + 1);
  p.answerA(ha.fences[fences] as Fence);
  await until('the new route to carol', () => ha.counters[COUNTER_ROUTES] === 1, WAIT_MS, 5);
  assert.equal(a.send('alice', 'carol', '"c3"', 1, false), HostError.OK);
  a.flush();
  await until('c3 at B', () => hb.delivered.some((d) => d.json === '"c3"'), WAIT_MS, 5);
  assert.deepEqual(hb.warnings, []);
  assert.deepEqual(ha.warnings, []);
});

test('direct link - on the wire, the granting side: HELLO, FENCE_OK, queued MESSAGEs, one REVOKE per name and write, CLOSE/CLOSED', async (t) => {
  const { a, ha } = await pair(t, false);
  ha.hosted.add('alice');
  a.grant('rex', 'node-r');
  const f = ha.fences[0] as Fence;
  assert.equal(a.send('alice', 'rex', '"m1"', 0, false), HostError.OK);
  assert.equal(a.send('alice', 'rex', '"m2"', 3, false), HostError.OK);
  const peer = await rawClient(t, a.port);
  // authenticated, but a FENCE_OK with a wrong token is ignored (CLOSE serves as a ping: CLOSED comes back after it)
  peer.write((w) => {
    w.control(FrameKind.HELLO, { token: f.token, node: 'node-r', host: '127.0.0.1', port: 1 });
    w.control(FrameKind.FENCE_OK, { token: 'wrong', name: 'rex' });
    w.control(FrameKind.FENCE_OK, { token: f.token, name: 'other' });
    w.control(FrameKind.CLOSE, { name: 'ping' });
  });
  await until('CLOSED for the ping', () => peer.frames.length === 1, WAIT_MS, 5);
  assert.deepEqual(peer.frames, [{ t: 'control', kind: FrameKind.CLOSED, body: { name: 'ping' } }]);
  assert.equal(ha.counters[COUNTER_ROUTES], 0);
  // the right FENCE_OK: the queue is written as MESSAGE frames, in order
  peer.write((w) => w.control(FrameKind.FENCE_OK, { token: f.token, name: 'rex' }));
  await until('the queued messages', () => peer.frames.length === 3, WAIT_MS, 5);
  assert.deepEqual(peer.frames.slice(1), [
    { t: 'message', to: 'rex', json: '"m1"', priority: 0 },
    { t: 'message', to: 'rex', json: '"m2"', priority: 3 },
  ]);
  assert.deepEqual([...ha.counters], [2, 0, 1]);
  // the answer is taken once: the token is spent
  peer.write((w) => w.control(FrameKind.FENCE_OK, { token: f.token, name: 'rex' }));

  // messages from the peer: delivered with the peer's node as origin; a name not hosted is REVOKEd once per write
  peer.write((w) => {
    w.message('alice', '"hello"', 2);
    for (let i = 0; i < 3; i++) w.message('ghost', `"g${i}"`, 1);
    w.message('ghoul', '"x"', 1);
  });
  await until('the REVOKEs', () => controls(peer.frames, FrameKind.REVOKE).length === 2, WAIT_MS, 5);
  assert.deepEqual(ha.delivered, [{ to: 'alice', json: '"hello"', priority: 2, origin: 'node-r' }]);
  assert.deepEqual(ha.notHosted.map((d) => [d.to, d.json, d.origin]), [['ghost', '"g0"', 'node-r'], ['ghost', '"g1"', 'node-r'], ['ghost', '"g2"', 'node-r'], ['ghoul', '"x"', 'node-r']]);
  assert.deepEqual(controls(peer.frames, FrameKind.REVOKE), [{ name: 'ghost' }, { name: 'ghoul' }]);
  assert.equal(ha.counters[COUNTER_RECEIVED], 5);
  assert.ok(ha.drains > 0);
  assert.equal(ha.counters[COUNTER_ROUTES], 1, 'the spent FENCE_OK changed nothing');
  assert.equal(peer.frames.filter((f) => f.t === 'message').length, 2, 'and wrote nothing again');
  peer.write((w) => w.message('ghost', '"g3"', 1)); // a later write: REVOKE again
  await until('the third REVOKE', () => controls(peer.frames, FrameKind.REVOKE).length === 3, WAIT_MS, 5);

  // an at-least-once message: CLOSE on the wire, nothing after it; CLOSED hands the rest to the main path
  assert.equal(a.send('alice', 'rex', '"m3"', 1, false), HostError.OK);
  assert.equal(a.send('alice', 'rex', '"m4"', 2, true), HostError.OK);
  assert.equal(a.send('alice', 'rex', '"m5"', 1, false), HostError.OK);
  a.flush();
  await until('CLOSE', () => controls(peer.frames, FrameKind.CLOSE).length === 1, WAIT_MS, 5);
  const tail = peer.frames.slice(-2);
  assert.deepEqual(tail, [
    { t: 'message', to: 'rex', json: '"m3"', priority: 1 },
    { t: 'control', kind: FrameKind.CLOSE, body: { name: 'rex' } },
  ]);
  assert.deepEqual(ha.viaMainBatches, []);
  peer.write((w) => w.control(FrameKind.CLOSED, { name: 'rex' }));
  await until('the queue via main', () => ha.viaMainBatches.length === 1, WAIT_MS, 5);
  assert.deepEqual(ha.viaMainBatches[0], [...msgs('alice', 'rex', ['"m4"'], 2), ...msgs('alice', 'rex', ['"m5"'], 1)]);
  assert.deepEqual(ha.warnings, []);

  // dropNode for the peer's node (from its HELLO) closes the connection
  a.dropNode('node-r');
  await within('the peer connection to close', peer.closed);
  assert.deepEqual(ha.warnings, []);
});

test('direct link - on the wire, the answering side: one dialed connection, HELLO then FENCE_OKs, origin of the fence\'s node', async (t) => {
  const { b, hb } = await pair(t, false);
  const srv = await rawServer(t);
  hb.hosted.add('bob').add('bea');
  b.fenceArrived('bob', 'tok-1', '127.0.0.1', srv.port, 'node-z');
  const peer = await within('B to dial', srv.accepted);
  b.fenceArrived('bea', 'tok-2', '127.0.0.1', srv.port, 'node-z'); // the same worker: the same connection
  await until('HELLO and both FENCE_OKs', () => peer.frames.length === 3, WAIT_MS, 5);
  assert.deepEqual(peer.frames, [
    { t: 'control', kind: FrameKind.HELLO, body: { token: 'tok-1', node: 'node-b', host: '127.0.0.1', port: b.port } },
    { t: 'control', kind: FrameKind.FENCE_OK, body: { token: 'tok-1', name: 'bob' } },
    { t: 'control', kind: FrameKind.FENCE_OK, body: { token: 'tok-2', name: 'bea' } },
  ]);
  // the dialed connection is trusted: messages on it are delivered, origin the fence's node
  peer.write((w) => {
    w.message('bob', '"1"', 1);
    w.message('bea', '"2"', 0);
    w.message('gone', '"3"', 1);
    w.message('bob', '"4"', 3);
    w.control(FrameKind.CLOSE, { name: 'bob' });
  });
  await until('CLOSED', () => controls(peer.frames, FrameKind.CLOSED).length === 1, WAIT_MS, 5);
  assert.deepEqual(hb.delivered, [
    { to: 'bob', json: '"1"', priority: 1, origin: 'node-z' },
    { to: 'bea', json: '"2"', priority: 0, origin: 'node-z' },
    { to: 'bob', json: '"4"', priority: 3, origin: 'node-z' },
  ]);
  assert.deepEqual(hb.notHosted.map((d) => d.to), ['gone']);
  assert.deepEqual(peer.frames.slice(3), [
    { t: 'control', kind: FrameKind.REVOKE, body: { name: 'gone' } },
    { t: 'control', kind: FrameKind.CLOSED, body: { name: 'bob' } },
  ]);
  assert.equal(hb.counters[COUNTER_RECEIVED], 4);
  // a HELLO on a connection B dialed is a protocol error
  peer.write((w) => w.control(FrameKind.HELLO, { token: 'x', node: 'node-z', host: '127.0.0.1', port: 1 }));
  await within('the connection to close', peer.closed);
  await until('the warning', () => hb.warnings.length === 1, WAIT_MS, 5);
  assert.match(hb.warnings[0] as string, /from node-z: a protocol error: a second HELLO/);
});

test('direct link - a pending queue holds at most 10,000 messages and 4 MiB of JSON; close() hands every queue on and zeroes the open routes', async (t) => {
  const p = await pair(t, false);
  const { a, ha } = p;
  a.grant('bulk', 'node-b');
  for (let i = 0; i < 10_000; i++) assert.equal(a.send('alice', 'bulk', `${i}`, 1, false), HostError.OK);
  assert.equal(a.send('alice', 'bulk', '"one too many"', 1, false), HostError.BACKPRESSURE);
  // by size: one message larger than the limit is taken into an empty queue, nothing after it; below
  // the limit, messages are taken until the next one would pass it
  const mib = `"${'x'.repeat(1024 * 1024 - 2)}"`;
  a.grant('big', 'node-b');
  assert.equal(a.send('alice', 'big', `"${'y'.repeat(5 * 1024 * 1024)}"`, 1, false), HostError.OK);
  assert.equal(a.send('alice', 'big', '"small"', 1, false), HostError.BACKPRESSURE);
  a.grant('wide', 'node-b');
  for (let i = 0; i < 4; i++) assert.equal(a.send('alice', 'wide', mib, 1, false), HostError.OK, `MiB ${i + 1}`);
  assert.equal(a.send('alice', 'wide', '"1"', 1, false), HostError.BACKPRESSURE);
  ha.onFence = (f) => setImmediate(() => p.answerA(f));
  await openRoute(p, 'bob');
  await openRoute(p, 'bea');
  assert.equal(a.send('alice', 'bea', '"closing"', 2, true), HostError.OK); // bea starts closing; CLOSE not flushed
  assert.equal(ha.counters[COUNTER_ROUTES], 1);
  a.close();
  assert.equal(ha.counters[COUNTER_ROUTES], 0);
  assert.equal(ha.viaMainBatches.length, 4);
  assert.equal(ha.viaMainBatches.find((b) => b[1] === 'big')?.length, 4);
  assert.equal(ha.viaMainBatches.find((b) => b[1] === 'wide')?.length, 16);
  const bulk = ha.viaMainBatches.find((b) => b[1] === 'bulk');
  assert.equal(bulk?.length, 40_000);
  assert.deepEqual(bulk?.slice(0, 8), [...msgs('alice', 'bulk', ['0', '1'], 1)]);
  assert.equal(bulk?.[39_998], '9999');
  assert.deepEqual(ha.viaMainBatches.find((b) => b[1] === 'bea'), msgs('alice', 'bea', ['"closing"'], 2));
  // a closed link routes nothing and grants nothing
  for (const name of ['bulk', 'big', 'wide', 'bob', 'bea']) assert.equal(a.send('alice', name, '"x"', 1, false), undefined);
  const fences = ha.fences.length;
  a.grant('new', 'node-b');
  assert.equal(ha.fences.length, fences);
  a.close(); // twice is harmless
  assert.deepEqual(ha.warnings, []);
});
