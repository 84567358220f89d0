/**
 * REST API overhead: what a message send costs through HTTP, and how many sends per second the API
 * takes from 50 concurrent clients. The node runs in this process with its API on loopback, so the
 * load generator shares the 2 cores with the server: the numbers are a floor, not a ceiling.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { CaxtonNode } from '../src/node.js';
import { createLogger } from '../src/observability/logger.js';
import { bigModule } from '../test/helpers/big-module.js';
import { percentile, sortedCopy, type Row } from './report.js';

const root = fileURLToPath(new URL('../', import.meta.url));

interface Target {
  readonly port: number;
  readonly key: string;
  readonly agent: Agent;
}

function post(t: Target, path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: t.port, method: 'POST', path: `/api/v1${path}`, agent: t.agent, headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** One GET /health, µs. */
function health(t: Target): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    request({ host: '127.0.0.1', port: t.port, path: '/api/v1/health', agent: t.agent }, (res) => {
      res.resume();
      res.on('end', () => resolve((performance.now() - t0) * 1000));
    })
      .on('error', reject)
      .end();
  });
}

/**
 * GET /health from one client, back to back, while another deploys an agent from a module of almost
 * 8 MiB (~0.8-2.8 s to validate and rewrite): what the other clients of a node see during an admission.
 */
async function healthDuringAdmission(rows: Row[], t: Target): Promise<void> {
  const deployer: Target = { ...t, agent: new Agent({ keepAlive: true, maxSockets: 1 }) };
  const body = JSON.stringify({ name: 'big', module: Buffer.from(bigModule(8 * 1024 * 1024 - 1024)).toString('base64') });
  const us: number[] = [];
  let finished = false;
  const t0 = performance.now();
  const deployed = post(deployer, '/agents', body).finally(() => (finished = true));
  while (!finished) us.push(await health(t));
  const deployMs = performance.now() - t0;
  const r = await deployed;
  if (r.status !== 201) throw new Error(`deploy of the large module → ${r.status} ${r.body}`);
  deployer.agent.destroy();
  const sorted = sortedCopy(us);
  const note = `${us.length} requests during the ${deployMs.toFixed(0)} ms deploy of a ${(body.length / 1048576).toFixed(1)} MiB JSON body (7.4 MiB module); max ${(sorted[sorted.length - 1] ?? NaN).toFixed(0)} µs`;
  rows.push(
    { name: 'API GET /health during an 8 MiB admission, P50', value: percentile(sorted, 50), unit: 'µs', note },
    { name: 'API GET /health during an 8 MiB admission, P99', value: percentile(sorted, 99), unit: 'µs' },
  );
}

async function timed(t: Target, path: string, body: string, n: number): Promise<Float64Array> {
  const us: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await post(t, path, body);
    us.push((performance.now() - t0) * 1000);
    if (r.status >= 300) throw new Error(`${path} → ${r.status} ${r.body}`);
  }
  return sortedCopy(us);
}

export async function apiBenchmarks(): Promise<Row[]> {
  const rows: Row[] = [];
  const dir = { path: mkdtempSync(join(tmpdir(), 'caxton-bench-api-')), cleanup: () => rmSync(dir.path, { recursive: true, force: true }) };
  const node = await CaxtonNode.start({
    dataDir: dir.path,
    nodeId: 'bench',
    logger: createLogger({ level: 'error', destination: new Writable({ write: (_c, _e, cb) => cb() }) }),
    workers: 1,
    api: { addr: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false, perSecond: 1, burst: 1 } },
  });
  try {
    const key = readFileSync(join(dir.path, 'admin.key'), 'utf8').trim();
    const t: Target = { port: node.apiAddress?.port ?? 0, key, agent: new Agent({ keepAlive: true, maxSockets: 64 }) };
    const echo = readFileSync(join(root, 'build', 'agents', 'echo.wasm'));
    await post(t, '/agents', JSON.stringify({ name: 'echo', module: echo.toString('base64') }));
    const send = JSON.stringify({ performative: 'inform', receiver: 'echo', content: { n: 1 } });
    const ask = JSON.stringify({ performative: 'request', receiver: 'echo', content: { n: 1 } });

    await timed(t, '/messages', send, 500); // warm-up: JIT, sockets
    const fire = await timed(t, '/messages', send, 3000);
    const rtt = await timed(t, '/messages?wait_reply=true', ask, 2000);
    const floor: number[] = [];
    for (let i = 0; i < 2000; i++) floor.push(await health(t));
    const healthUs = sortedCopy(floor);
    rows.push(
      { name: 'API POST /messages (202), P50', value: percentile(fire, 50), unit: 'µs', note: '3000 sequential sends over one keep-alive socket: auth, schema check, validation, route, journal' },
      { name: 'API POST /messages (202), P99', value: percentile(fire, 99), unit: 'µs' },
      { name: 'API send + wait for reply (echo), P50', value: percentile(rtt, 50), unit: 'µs', note: '2000 request→inform round trips through HTTP and the agent' },
      { name: 'API send + wait for reply (echo), P99', value: percentile(rtt, 99), unit: 'µs' },
      { name: 'API GET /health (HTTP floor), P50', value: percentile(healthUs, 50), unit: 'µs', note: `overhead of a send over the HTTP floor, P50: ${(percentile(fire, 50) - percentile(healthUs, 50)).toFixed(0)} µs` },
      { name: 'API GET /health (HTTP floor), P99', value: percentile(healthUs, 99), unit: 'µs' },
    );
    await healthDuringAdmission(rows, t);

    // 50 clients, each with its own socket, sending back to back for 3 s.
    const clients = 50;
    const many: Target = { ...t, agent: new Agent({ keepAlive: true, maxSockets: clients }) };
    const endAt = performance.now() + 3000;
    let done = 0;
    let failed = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (performance.now() < endAt) {
          const r = await post(many, '/messages', send);
          if (r.status === 202) done++;
          else failed++;
        }
      }),
    );
    const secs = (performance.now() - t0) / 1000;
    rows.push({ name: 'API sends/s, 50 concurrent clients', value: done / secs, unit: 'req/s', note: `${done} accepted, ${failed} refused in ${secs.toFixed(2)} s; client and server share the 2 cores` });
    t.agent.destroy();
    many.agent.destroy();
  } finally {
    await node.stop();
    dir.cleanup();
  }
  return rows;
}
