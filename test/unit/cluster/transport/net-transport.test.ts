/**
 * NetTransport on loopback (127.0.0.x): packets, streams, dial failures, port 0, the drop hook, and
 * freeing the port on close.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import { NetTransport, TransportError, type NetTransportOptions } from '../../../../src/cluster/transport/net-transport.js';
import type { Address, Stream } from '../../../../src/cluster/transport/transport.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function open(t: TestContext, host: string, extra: Partial<NetTransportOptions> = {}): Promise<NetTransport> {
  const tr = await NetTransport.create({ bind: { host, port: 0 }, ...extra });
  t.after(() => tr.close());
  return tr;
}

/** Resolves once `cond` holds, polling; rejects after `ms`. */
async function until(cond: () => boolean, ms = 2000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Collects a stream's bytes until it ends. */
function collect(s: Stream): Promise<{ bytes: Buffer; error: Error | undefined; chunks: number }> {
  return new Promise((resolve) => {
    const parts: Uint8Array[] = [];
    s.onData((c) => parts.push(c));
    s.onEnd((error) => resolve({ bytes: Buffer.concat(parts), error, chunks: parts.length }));
  });
}

/** mulberry32 */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

test('packets: round trip between two transports, handler gets its own copy', async (t) => {
  const a = await open(t, '127.0.0.1');
  const b = await open(t, '127.0.0.2');
  assert.ok(a.local.port > 0 && b.local.port > 0);
  assert.deepEqual(a.advertise, a.local);

  const got: { bytes: Uint8Array; from: Address; at: number }[] = [];
  b.onPacket((bytes, from, at) => {
    got.push({ bytes, from, at });
    bytes.fill(0); // ours to scribble on
  });
  const second: Uint8Array[] = [];
  b.onPacket((bytes) => second.push(bytes));

  const payload = Uint8Array.from({ length: 1400 }, (_, i) => i & 0xff);
  const before = Date.now();
  a.sendPacket(b.local, payload);
  await until(() => got.length === 1 && second.length === 1, 2000, 'packet');
  assert.deepEqual(got[0]?.from, a.local, 'from is the sender bind address');
  assert.ok((got[0]?.at ?? 0) >= before);
  assert.equal(Buffer.isBuffer(second[0]), false, 'a plain Uint8Array, not a pooled Buffer');
  assert.deepEqual(second[0], payload, 'each handler has its own copy');
  assert.equal(payload[1], 1, 'the sender buffer is untouched');

  // and back
  const back: Uint8Array[] = [];
  a.onPacket((bytes) => back.push(bytes));
  b.sendPacket(a.local, Uint8Array.of(9, 8, 7));
  await until(() => back.length === 1);
  assert.deepEqual(back[0], Uint8Array.of(9, 8, 7));

  const sa = a.stats();
  const sb = b.stats();
  assert.equal(sa.packetsOut, 1);
  assert.equal(sa.bytesOut, 1400);
  assert.equal(sb.packetsIn, 1);
  assert.equal(sb.bytesIn, 1400);
  assert.equal(sa.packetsIn, 1);
});

test('packets: oversized sends are refused and counted; send errors never throw', async (t) => {
  const a = await open(t, '127.0.0.1', { maxPacketBytes: 100 });
  const b = await open(t, '127.0.0.2');
  const got: Uint8Array[] = [];
  b.onPacket((bytes) => got.push(bytes));
  a.sendPacket(b.local, new Uint8Array(101));
  a.sendPacket(b.local, new Uint8Array(100));
  await until(() => got.length === 1);
  assert.equal(got[0]?.length, 100);
  assert.equal(a.stats().packetsRefused, 1);

  const dflt = await open(t, '127.0.0.1');
  assert.doesNotThrow(() => dflt.sendPacket(b.local, new Uint8Array(64 * 1024 + 1)));
  assert.equal(dflt.stats().packetsRefused, 1, 'the default limit is 64 KiB');
  const big = await open(t, '127.0.0.1', { maxPacketBytes: 70_000 });
  // The OS refuses these; nothing is thrown, the failures are counted.
  assert.doesNotThrow(() => big.sendPacket({ host: '127.0.0.1', port: 0 }, Uint8Array.of(1)));
  assert.doesNotThrow(() => big.sendPacket({ host: '::1', port: 9 }, Uint8Array.of(1)));
  assert.doesNotThrow(() => big.sendPacket(b.local, new Uint8Array(66_000))); // > 65507: EMSGSIZE
  await until(() => big.stats().packetSendErrors >= 3, 2000, 'send errors');
});

test('streams: round trip with chunking, half-close, counters', async (t) => {
  const a = await open(t, '127.0.0.1');
  const b = await open(t, '127.0.0.2');
  const accepted: Stream[] = [];
  b.onStream((s) => {
    accepted.push(s);
    const hash = createHash('sha256');
    let n = 0;
    s.onData((c) => {
      hash.update(c);
      n += c.length;
    });
    s.onEnd((err) => {
      assert.equal(err, undefined);
      // the dialer ended its side; it still reads our answer
      void s.write(new TextEncoder().encode(`${n}:${hash.digest('hex')}`)).then(() => s.close());
    });
  });

  const s = await a.dial(b.local, 1000);
  assert.deepEqual(s.remote, b.local);
  const rand = prng(7);
  const total = 1024 * 1024 + 123;
  const data = Uint8Array.from({ length: total }, () => Math.floor(rand() * 256));
  const reply = collect(s);
  const writes: Promise<void>[] = [];
  for (let off = 0; off < total; ) {
    const len = 1 + Math.floor(rand() * 70_000);
    writes.push(s.write(data.subarray(off, off + len)));
    off += len;
  }
  await Promise.all(writes);
  s.close();
  const r = await reply;
  assert.equal(r.error, undefined);
  assert.equal(r.bytes.toString(), `${total}:${createHash('sha256').update(data).digest('hex')}`);
  assert.equal(accepted.length, 1);
  assert.equal(accepted[0]?.remote.host, '127.0.0.1', 'dials come from the bind address');
  await until(() => a.stats().streamsOpen === 0 && b.stats().streamsOpen === 0, 2000, 'streams closed');
  assert.equal(a.stats().streamsDialed, 1);
  assert.equal(b.stats().streamsAccepted, 1);
  assert.equal(a.stats().streamFailures + b.stats().streamFailures, 0);
  await assert.rejects(s.write(Uint8Array.of(1)), (e: unknown) => e instanceof TransportError && e.code === 'closed');
});

test('streams: data before onData is buffered and delivered before the end', async (t) => {
  const a = await open(t, '127.0.0.1');
  const b = await open(t, '127.0.0.2');
  let accepted: Stream | undefined;
  b.onStream((s) => {
    accepted = s;
  });
  const s = await a.dial(b.local, 1000);
  await s.write(Uint8Array.of(1, 2, 3));
  await s.write(Uint8Array.of(4));
  s.close();
  await until(() => accepted !== undefined);
  await sleep(100); // the bytes and the FIN arrive while nobody listens
  const r = await collect(accepted as Stream);
  assert.deepEqual([...r.bytes], [1, 2, 3, 4]);
  assert.equal(r.error, undefined);
  accepted?.close();
});

test('streams: deadline fails the stream', async (t) => {
  const a = await open(t, '127.0.0.1');
  const b = await open(t, '127.0.0.2');
  b.onStream(() => undefined); // accept, never answer
  const s = await a.dial(b.local, 1000);
  const r = collect(s);
  const t0 = Date.now();
  s.setDeadline(150);
  const { error } = await r;
  assert.ok(error instanceof TransportError && error.code === 'deadline', String(error));
  assert.ok(Date.now() - t0 >= 140);
  await until(() => a.stats().streamFailures === 1);
});

test('streams: a peer that does not read fails the stream (bounded write buffer)', async (t) => {
  const a = await open(t, '127.0.0.1', { maxStreamBufferBytes: 256 * 1024 });
  const sockets: net.Socket[] = [];
  const server = net.createServer((sock) => {
    sock.pause(); // never reads
    sockets.push(sock);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const port = (server.address() as net.AddressInfo).port;
  const s = await a.dial({ host: '127.0.0.2', port }, 1000);
  const ended = collect(s);
  const chunk = new Uint8Array(128 * 1024);
  let failure: unknown;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < 400 && failure === undefined; i++) {
    pending.push(
      s.write(chunk).catch((e: unknown) => {
        failure ??= e;
      }),
    );
    await sleep(1);
  }
  await Promise.allSettled(pending);
  assert.ok(failure instanceof TransportError && failure.code === 'write-buffer-full', String(failure));
  const { error } = await ended;
  assert.ok(error instanceof TransportError && error.code === 'write-buffer-full');
});

test('dial: refusal fails fast, a blackholed listener times out', async (t) => {
  const a = await open(t, '127.0.0.1');
  // refused: nothing listens on a closed transport's port
  const gone = await NetTransport.create({ bind: { host: '127.0.0.3', port: 0 } });
  await gone.close();
  const t0 = Date.now();
  await assert.rejects(a.dial(gone.local, 2000), (e: unknown) => e instanceof TransportError && e.code === 'dial-failed');
  assert.ok(Date.now() - t0 < 1000);

  // timeout: a listener whose thread never accepts, backlog 1; once the kernel queue is full, SYNs
  // are dropped and connects hang.
  const sab = new SharedArrayBuffer(4);
  const worker = new Worker(
    `const net = require('node:net'); const { parentPort, workerData } = require('node:worker_threads');
     const s = net.createServer(); s.listen({ host: '127.0.0.4', port: 0, backlog: 1 }, () => {
       parentPort.postMessage(s.address().port);
       setTimeout(() => { Atomics.wait(new Int32Array(workerData), 0, 0); s.close(); }, 20);
     });`,
    { eval: true, workerData: sab },
  );
  t.after(async () => {
    Atomics.store(new Int32Array(sab), 0, 1);
    Atomics.notify(new Int32Array(sab), 0);
    await worker.terminate();
  });
  const port = await new Promise<number>((r) => worker.once('message', r));
  await sleep(100);
  const opened: Stream[] = [];
  let timedOut: TransportError | undefined;
  let elapsed = 0;
  for (let i = 0; i < 8 && timedOut === undefined; i++) {
    const t1 = Date.now();
    try {
      opened.push(await a.dial({ host: '127.0.0.4', port }, 250));
    } catch (e) {
      if (e instanceof TransportError) timedOut = e;
      elapsed = Date.now() - t1;
    }
  }
  for (const s of opened) s.close();
  assert.equal(timedOut?.code, 'dial-timeout');
  assert.ok(elapsed >= 240 && elapsed < 1500, `elapsed ${elapsed}`);
  assert.ok(a.stats().dialFailures >= 2);
});

test('port 0 picks a port free for UDP and TCP; a busy explicit port fails', async (t) => {
  const list = await Promise.all(Array.from({ length: 12 }, () => open(t, '127.0.0.5')));
  const ports = new Set(list.map((x) => x.local.port));
  assert.equal(ports.size, 12);
  const [x, y] = list;
  assert.ok(x !== undefined && y !== undefined);
  // both protocols answer on the one port
  const got: Uint8Array[] = [];
  y.onPacket((b) => got.push(b));
  y.onStream((s) => s.onData(() => s.close()));
  x.sendPacket(y.local, Uint8Array.of(1));
  const s = await x.dial(y.local, 1000);
  await s.write(Uint8Array.of(1));
  await until(() => got.length === 1);

  await assert.rejects(NetTransport.create({ bind: { host: '127.0.0.5', port: x.local.port } }), /EADDRINUSE/);
  // TCP taken by someone else on the port: an explicit bind fails, and frees the UDP half again
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.6', r));
  const taken = (blocker.address() as net.AddressInfo).port;
  await assert.rejects(NetTransport.create({ bind: { host: '127.0.0.6', port: taken } }), /EADDRINUSE/);
  await new Promise<void>((r) => blocker.close(() => r()));
  const now = await NetTransport.create({ bind: { host: '127.0.0.6', port: taken } });
  await now.close();
});

test('port 0: when TCP cannot have the UDP port, both are released and another port is tried', async (t) => {
  const original = net.createServer;
  const mutable = net as { createServer: typeof net.createServer };
  let refusals = 2;
  const refusedPorts: number[] = [];
  mutable.createServer = ((...args: Parameters<typeof net.createServer>) => {
    const server = original(...args);
    if (refusals > 0) {
      refusals--;
      server.listen = ((opts: net.ListenOptions) => {
        refusedPorts.push(opts.port ?? -1);
        process.nextTick(() => server.emit('error', Object.assign(new Error('listen EADDRINUSE (simulated)'), { code: 'EADDRINUSE' })));
        return server;
      }) as typeof server.listen;
    }
    return server;
  }) as typeof net.createServer;
  let tr: NetTransport;
  try {
    tr = await NetTransport.create({ bind: { host: '127.0.0.9', port: 0 } });
  } finally {
    mutable.createServer = original;
  }
  t.after(() => tr.close());
  assert.equal(refusedPorts.length, 2, 'two attempts refused, the third succeeded');
  assert.ok(refusedPorts.every((p) => p > 0), 'TCP was asked for the UDP port, not 0');
  // the UDP ports of the failed attempts were released
  for (const p of refusedPorts) {
    if (p === tr.local.port) continue;
    const again = await NetTransport.create({ bind: { host: '127.0.0.9', port: p } });
    await again.close();
  }
  // and the transport works on its port, both ways
  const got: Uint8Array[] = [];
  tr.onPacket((b) => got.push(b));
  const peer = await open(t, '127.0.0.1');
  peer.sendPacket(tr.local, Uint8Array.of(1));
  await until(() => got.length === 1);
  tr.onStream((s) => s.close());
  const s = await peer.dial(tr.local, 1000);
  s.close();
});

test('advertise defaults to the bind address; port 0 there means the bound port', async (t) => {
  const a = await open(t, '127.0.0.1', { advertise: { host: '192.0.2.10', port: 0 } });
  assert.deepEqual(a.advertise, { host: '192.0.2.10', port: a.local.port });
  const b = await open(t, '127.0.0.1', { advertise: { host: '192.0.2.10', port: 7946 } });
  assert.deepEqual(b.advertise, { host: '192.0.2.10', port: 7946 });
});

test('drop hook: 100% loss out and in, then 10% statistical loss; streams cut both ways', async (t) => {
  let mode: 'none' | 'out' | 'in' | 'ten' = 'none';
  const rand = prng(1234);
  let decided = 0;
  let dropDecisions = 0;
  const a = await open(t, '127.0.0.1', {
    dropHook: {
      dropPacket: (dir) => {
        if (mode === 'out') return dir === 'out';
        if (mode === 'ten' && dir === 'out') {
          decided++;
          const drop = rand() < 0.1;
          if (drop) dropDecisions++;
          return drop;
        }
        return false;
      },
      dropStream: (dir) => mode === 'out' && dir === 'out',
    },
  });
  const b = await open(t, '127.0.0.2', {
    dropHook: {
      dropPacket: (dir) => mode === 'in' && dir === 'in',
      dropStream: (dir) => mode === 'in' && dir === 'in',
    },
  });
  let received = 0;
  b.onPacket(() => received++);
  b.onStream((s) => s.onData(() => undefined));

  mode = 'out';
  for (let i = 0; i < 50; i++) a.sendPacket(b.local, Uint8Array.of(i));
  await assert.rejects(a.dial(b.local, 500), (e: unknown) => e instanceof TransportError && e.code === 'dropped');
  mode = 'in';
  for (let i = 0; i < 50; i++) a.sendPacket(b.local, Uint8Array.of(i));
  const cut = await a.dial(b.local, 500); // the TCP handshake completes; the acceptor drops it at once
  await collect(cut); // ends (FIN or reset) without a byte
  await sleep(150);
  assert.equal(received, 0);
  assert.equal(a.stats().packetsDroppedOut, 50);
  assert.equal(b.stats().packetsDroppedIn, 50);
  assert.equal(b.stats().streamsRefused, 1);
  assert.equal(a.stats().dialFailures, 1);

  mode = 'ten';
  const sent = 1000;
  for (let i = 0; i < sent; i++) {
    a.sendPacket(b.local, Uint8Array.of(i & 0xff, i >> 8));
    if (i % 100 === 99) await sleep(2); // stay well inside the socket buffers
  }
  const expected = sent - dropDecisions;
  await until(() => received >= expected, 3000, `${expected} packets`);
  await sleep(50);
  assert.equal(decided, sent);
  assert.equal(received, expected, 'exactly the packets the hook let through');
  assert.ok(dropDecisions > 50 && dropDecisions < 150, `dropped ${dropDecisions} of ${sent}`);
  assert.equal(a.stats().packetsDroppedOut, 50 + dropDecisions);
});

test('IPv6 loopback: packets and streams (skipped without ::1)', async (t) => {
  let a: NetTransport;
  try {
    a = await NetTransport.create({ bind: { host: '::1', port: 0 } });
  } catch {
    t.skip('no IPv6 loopback here');
    return;
  }
  t.after(() => a.close());
  const b = await open(t, '::1');
  const got: Address[] = [];
  b.onPacket((_bytes, from) => got.push(from));
  let remote: Address | undefined;
  b.onStream((s) => {
    remote = s.remote;
    s.close();
  });
  a.sendPacket(b.local, Uint8Array.of(1));
  await until(() => got.length === 1);
  assert.deepEqual(got[0], a.local);
  const s = await a.dial(b.local, 1000);
  await until(() => remote !== undefined);
  assert.equal(remote?.host, '::1');
  s.close();
  a.sendPacket({ host: '127.0.0.1', port: 9 }, Uint8Array.of(1)); // wrong family: counted, not thrown
  await until(() => a.stats().packetSendErrors === 1);
});

test('close frees the port for UDP and TCP, fails open streams, and is idempotent', async (t) => {
  const a = await NetTransport.create({ bind: { host: '127.0.0.7', port: 0 } });
  const b = await open(t, '127.0.0.1');
  b.onStream(() => undefined);
  const port = a.local.port;
  a.onStream(() => undefined);
  const s = await a.dial(b.local, 1000);
  const ended = collect(s);
  await Promise.all([a.close(), a.close()]);
  assert.equal(a.closed, true);
  const r = await ended;
  assert.equal(r.bytes.length, 0);
  assert.equal(a.stats().streamsOpen, 0);
  a.sendPacket(b.local, Uint8Array.of(1)); // no throw after close
  assert.equal(a.stats().packetsRefused, 1);
  await assert.rejects(a.dial(b.local, 100), (e: unknown) => e instanceof TransportError && e.code === 'closed');

  const again = await NetTransport.create({ bind: { host: '127.0.0.7', port } });
  t.after(() => again.close());
  assert.equal(again.local.port, port);
  const got: Uint8Array[] = [];
  again.onPacket((x) => got.push(x));
  b.sendPacket(again.local, Uint8Array.of(5));
  await until(() => got.length === 1);
});

test('streams: with a link handler, the first byte sends a stream to the link (0xCA) or to membership, every byte intact', async (t) => {
  const a = await open(t, '127.0.0.1');
  const b = await open(t, '127.0.0.2');
  const got: { to: string; bytes: Buffer }[] = [];
  const take = (to: string) => (s: Stream) => void collect(s).then((r) => got.push({ to, bytes: r.bytes }));
  b.onStream(take('membership'));
  b.onLinkStream(take('link'));
  for (const first of [[0xca, 1, 2, 3], [6, 0xca, 9], [0x16, 3, 1]]) {
    const s = await a.dial(b.local, 1000);
    await s.write(Uint8Array.from(first));
    s.close();
  }
  await until(() => got.length === 3, 2000, 'three streams');
  const seen = got.map((g) => `${g.to}:${[...g.bytes].join(',')}`).sort();
  assert.deepEqual(seen, ['link:202,1,2,3', 'membership:22,3,1', 'membership:6,202,9']);
});

test('streams: setDeadline(0) removes an earlier deadline', async (t) => {
  const a = await open(t, '127.0.0.1');
  const b = await open(t, '127.0.0.2');
  let accepted: Stream | undefined;
  b.onStream((s) => (accepted = s));
  const s = await a.dial(b.local, 1000);
  s.setDeadline(30);
  s.setDeadline(0);
  await sleep(80);
  await s.write(Uint8Array.of(1));
  await until(() => accepted !== undefined, 2000, 'accepted');
  const r = collect(accepted as Stream);
  s.close();
  assert.equal((await r).error, undefined);
});
