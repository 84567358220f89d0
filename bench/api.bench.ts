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
    const health = await new Promise<Float64Array>((resolve, reject) => {
      const us: number[] = [];
      const once = (i: number): void => {
        if (i === 2000) return resolve(sortedCopy(us));
        const t0 = performance.now();
        request({ host: '127.0.0.1', port: t.port, path: '/api/v1/health', agent: t.agent }, (res) => {
          res.resume();
          res.on('end', () => {
            us.push((performance.now() - t0) * 1000);
            once(i + 1);
          });
        })
          .on('error', reject)
          .end();
      };
      once(0);
    });
    rows.push(
      { name: 'API POST /messages (202), P50', value: percentile(fire, 50), unit: 'µs', note: '3000 sequential sends over one keep-alive socket: auth, schema check, validation, route, journal' },
      { name: 'API POST /messages (202), P99', value: percentile(fire, 99), unit: 'µs' },
      { name: 'API send + wait for reply (echo), P50', value: percentile(rtt, 50), unit: 'µs', note: '2000 request→inform round trips through HTTP and the agent' },
      { name: 'API send + wait for reply (echo), P99', value: percentile(rtt, 99), unit: 'µs' },
      { name: 'API GET /health (HTTP floor), P50', value: percentile(health, 50), unit: 'µs', note: `overhead of a send over the HTTP floor, P50: ${(percentile(fire, 50) - percentile(health, 50)).toFixed(0)} µs` },
    );

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
