/**
 * The NATS peer figures for `npm run bench -- cluster-routing`: request/reply through a real
 * nats-server (Debian's 2.9) on loopback, measured from Node with the `nats` client (2.29), the way
 * DESIGN.md's peer figure was taken. The requester runs in this process, the responder in a child
 * process (as an agent on another node would), each with its own connection to the server; a request
 * carries a 200-byte payload, like the Caxton row beside it. Also: messages per second one publisher
 * pushes through the server to one subscriber in the child process.
 *
 * Skipped (with one line naming the package) when nats-server is not installed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { connect, type NatsConnection } from 'nats';
import { percentile, sortedCopy, type Row } from '../report.js';
import { findTool, missingToolLine } from '../../scripts/outside-tools.mjs';

const WARMUP = 2_000;
const REQUESTS = 20_000;
const PUBLISHED = 200_000;
const PAYLOAD = new Uint8Array(200).fill(120);
/** The whole peer measurement gives up after this long. */
const DEADLINE_MS = 120_000;

async function freePort(host: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a !== null ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

async function waitConnect(port: number): Promise<NatsConnection> {
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      return await connect({ servers: `127.0.0.1:${port}`, noEcho: true });
    } catch (e) {
      if (Date.now() > until) throw new Error(`nats-server on 127.0.0.1:${port} did not accept a connection within 10 s: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** The responder: answers every request on `echo` with its payload, counts `flood` messages. */
const RESPONDER = `
import { connect } from 'nats';
const nc = await connect({ servers: process.argv[1] });
let flooded = 0;
nc.subscribe('echo', { callback: (_e, m) => m.respond(m.data) });
nc.subscribe('flood', { callback: () => { flooded++; } });
nc.subscribe('count', { callback: (_e, m) => m.respond(new TextEncoder().encode(String(flooded))) });
await nc.flush();
process.stdout.write('ready\\n');
`;

export async function natsPeerBenchmarks(): Promise<Row[]> {
  const server = findTool('nats-server');
  if (server === undefined) {
    process.stderr.write(`# SKIP ${missingToolLine('nats-server')}\n`);
    return [];
  }
  const port = await freePort('127.0.0.1');
  const children: ChildProcess[] = [];
  const killAll = () => {
    for (const c of children) c.kill('SIGKILL');
  };
  const deadline = setTimeout(killAll, DEADLINE_MS);
  // A bench that exits (an error elsewhere, SIGINT through a caller's handler) takes them along.
  process.once('exit', killAll);
  try {
    const srv = spawn(server, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    children.push(srv);
    const nc = await waitConnect(port);
    const responder = spawn(process.execPath, ['--input-type=module', '-e', RESPONDER, `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'inherit'], cwd: process.cwd() });
    children.push(responder);
    await new Promise<void>((resolve, reject) => {
      responder.stdout!.once('data', () => resolve());
      responder.once('exit', (code) => reject(new Error(`the NATS responder exited with ${code}`)));
    });

    for (let i = 0; i < WARMUP; i++) await nc.request('echo', PAYLOAD, { timeout: 5000 });
    const rtt: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t0 = process.hrtime.bigint();
      await nc.request('echo', PAYLOAD, { timeout: 5000 });
      rtt.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    const sorted = sortedCopy(rtt);

    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PUBLISHED; i++) {
      nc.publish('flood', PAYLOAD);
      if ((i & 1023) === 1023) await nc.flush();
    }
    let received = 0;
    for (let tries = 0; tries < 600 && received < PUBLISHED; tries++) {
      received = Number(new TextDecoder().decode((await nc.request('count', undefined, { timeout: 5000 })).data));
      if (received < PUBLISHED) await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    await nc.close();
    return [
      { name: 'NATS request→reply P50 (peer)', value: percentile(sorted, 50), unit: 'µs', note: `nats-server 2.9 + nats.js, loopback, ${REQUESTS} requests` },
      { name: 'NATS request→reply P99 (peer)', value: percentile(sorted, 99), unit: 'µs' },
      { name: 'NATS published→received (peer)', value: received / seconds, unit: 'msg/s', note: `${received}/${PUBLISHED} received, 200-byte payload` },
    ];
  } finally {
    clearTimeout(deadline);
    process.off('exit', killAll);
    killAll();
  }
}
