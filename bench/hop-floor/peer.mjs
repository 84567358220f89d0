// One side of the hop-floor benchmark (bench/hop-floor.bench.ts): a process that either answers
// (role "echo") or calls (role "call") over one TCP connection on loopback, with the agent side in
// a worker thread or not, depending on the mode:
//
//   main    the main thread owns the socket and is the agent (no worker): the TCP floor
//   relay   a worker is the agent; the main thread owns the socket and relays frames to and from the
//           worker with postMessage (the shape of today's cross-node hop: worker → main → TCP → main
//           → worker), with none of Caxton's work in between
//   direct  the worker owns the socket itself (no main thread in the path)
//
// Frames are length-prefixed (u32 big-endian). Plain JS, no dependencies, so the worker starts
// without a TypeScript loader.
import net from 'node:net';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';

function frame(payload) {
  const b = Buffer.allocUnsafe(4 + payload.length);
  b.writeUInt32BE(payload.length, 0);
  payload.copy(b, 4);
  return b;
}

/** Calls onFrame(payload) for every whole frame read from the socket. */
function readFrames(socket, onFrame) {
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const n = pending.readUInt32BE(0);
      if (pending.length < 4 + n) break;
      onFrame(pending.subarray(4, 4 + n));
      pending = pending.subarray(4 + n);
    }
  });
}

function connect(host, port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, noDelay: true }, () => resolve(s));
    s.once('error', reject);
  });
}

function listen(host, port, onSocket) {
  return new Promise((resolve) => {
    const srv = net.createServer({ noDelay: true }, onSocket);
    srv.listen(port, host, () => resolve(srv));
  });
}

/** The caller's loop: `calls` sequential round trips, the first 10 % dropped; resolves the RTTs in µs. */
function callLoop(send, onReply, calls, payload) {
  return new Promise((resolve) => {
    const rtts = [];
    let t0 = 0;
    let i = 0;
    const next = () => {
      t0 = performance.now();
      send(payload);
    };
    onReply(() => {
      const rtt = (performance.now() - t0) * 1000;
      if (i >= calls / 10) rtts.push(rtt);
      i += 1;
      if (i < calls) next();
      else resolve(rtts);
    });
    next();
  });
}

const PAYLOAD = Buffer.from(JSON.stringify({
  performative: 'request', sender: 'bench-caller', receiver: 'bench-echo', conversation_id: 'c-0123456789abcdef',
  reply_with: 'r-0123456789abcdef', protocol: 'fipa-request', content: { op: 'ping', n: 1, pad: 'x'.repeat(60) },
}));

if (isMainThread) {
  const [role, mode, host, portText, callsText] = process.argv.slice(2);
  const port = Number(portText);
  const calls = Number(callsText ?? 5000);
  const done = (msg) => { process.send?.(msg); };

  if (role === 'echo') {
    if (mode === 'main') {
      await listen(host, port, (s) => readFrames(s, (p) => s.write(frame(p))));
    } else if (mode === 'relay') {
      const w = new Worker(new URL(import.meta.url), { workerData: { kind: 'echo-agent' } });
      let sock;
      w.on('message', (p) => sock.write(frame(Buffer.from(p))));
      await listen(host, port, (s) => { sock = s; readFrames(s, (p) => w.postMessage(p)); });
    } else {
      const w = new Worker(new URL(import.meta.url), { workerData: { kind: 'echo-direct', host, port } });
      await new Promise((r) => w.once('message', r));
    }
    done({ ready: true });
  } else {
    let rtts;
    if (mode === 'main') {
      const s = await connect(host, port);
      let cb;
      readFrames(s, () => cb());
      rtts = await callLoop((p) => s.write(frame(p)), (f) => { cb = f; }, calls, PAYLOAD);
      s.destroy();
    } else if (mode === 'relay') {
      const s = await connect(host, port);
      const w = new Worker(new URL(import.meta.url), { workerData: { kind: 'call-agent', calls } });
      w.on('message', (m) => {
        if (m.rtts !== undefined) { rtts = m.rtts; return; }
        s.write(frame(Buffer.from(m)));
      });
      readFrames(s, (p) => w.postMessage(p));
      await new Promise((r) => w.once('exit', r));
      s.destroy();
    } else {
      const w = new Worker(new URL(import.meta.url), { workerData: { kind: 'call-direct', host, port, calls } });
      rtts = await new Promise((r) => w.once('message', (m) => r(m.rtts)));
      await w.terminate();
    }
    done({ rtts });
  }
} else {
  const d = workerData;
  if (d.kind === 'echo-agent') {
    // The agent: answers every message it is handed with the same bytes.
    parentPort.on('message', (p) => parentPort.postMessage(p));
  } else if (d.kind === 'echo-direct') {
    await listen(d.host, d.port, (s) => readFrames(s, (p) => s.write(frame(p))));
    parentPort.postMessage('ready');
  } else if (d.kind === 'call-agent') {
    let cb;
    parentPort.on('message', () => cb());
    const rtts = await callLoop((p) => parentPort.postMessage(p), (f) => { cb = f; }, d.calls, PAYLOAD);
    parentPort.postMessage({ rtts });
    process.exit(0);
  } else if (d.kind === 'call-direct') {
    const s = await connect(d.host, d.port);
    let cb;
    readFrames(s, () => cb());
    const rtts = await callLoop((p) => s.write(frame(p)), (f) => { cb = f; }, d.calls, PAYLOAD);
    s.destroy();
    parentPort.postMessage({ rtts });
  }
}
