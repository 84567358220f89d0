/**
 * The node-to-node link, measured against the framing it was chosen over (opt-in: `npm run bench --
 * cluster-link`, about a minute and a half). Three real processes (cluster-link-node.ts) on
 * 127.0.0.21-23, in three runs, one after the other:
 *
 * - link: each a real Cluster; the link (length-prefixed batch frames over plain TCP on the gossip
 *   port) carries the traffic.
 * - link under mTLS: the same with security.cluster.mtls (TLS 1.3, ECDSA P-256 certificates of one
 *   CA made here): the issue's budget is a call P50 at most twice the plain link's. Also measured for
 *   both: the cost of one new connection (TCP connect, and the TLS handshake under mTLS), as the link
 *   dials it, P50 of CAXTON_BENCH_LINK_DIALS.
 * - http2: each a node:http2 server with one client session per peer (multiplexed), a stream per
 *   message — the alternative.
 *
 * Measured, for both: call round trip (node 1 → node 2, a ~250-byte FIPA-like JSON body echoed back,
 * sequential, CAXTON_BENCH_LINK_CALLS after 500 of warm-up) P50 / P99; throughput with every pair remote
 * (each node sends the same message to both others as fast as the link lets it, for
 * CAXTON_BENCH_LINK_FLOOD_MS), as messages received per second across the three nodes, from the start of
 * the flood until the last message arrived. The numbers include the cost of a shared, noisy 2-core
 * machine running three Node processes at once: compare the rows of one run, not across machines.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { Address } from '../src/cluster/transport/transport.js';
import { percentile, sortedCopy, type Row } from './report.js';
import { createCa, issueNodeCert } from '../src/security/pki.js';
import type { LinkTlsMaterial } from '../src/cluster/transport/link-tls.js';

const entry = fileURLToPath(new URL('./cluster-link-node.ts', import.meta.url));
const root = fileURLToPath(new URL('../', import.meta.url));
const CALLS = Number(process.env['CAXTON_BENCH_LINK_CALLS'] ?? 5000);
const FLOOD_MS = Number(process.env['CAXTON_BENCH_LINK_FLOOD_MS'] ?? 3000);
const DIALS = Number(process.env['CAXTON_BENCH_LINK_DIALS'] ?? 200);

type Mode = 'link' | 'link-mtls' | 'http2';

/** One CA and a certificate per node, for the mTLS run. */
async function benchTls(names: readonly string[]): Promise<Map<string, LinkTlsMaterial>> {
  const ca = await createCa();
  const out = new Map<string, LinkTlsMaterial>();
  for (const n of names) {
    const c = await issueNodeCert(ca, { nodeId: n });
    out.set(n, { ca: ca.certPem, cert: c.certPem, key: c.keyPem });
  }
  return out;
}

class Node {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 1;

  constructor(readonly name: string) {
    this.#child = fork(entry, [], { cwd: root, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#child.on('message', (m: { id: number; ok: boolean; result?: unknown; error?: string }) => {
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (m.ok) p?.resolve(m.result);
      else p?.reject(new Error(`${this.name}: ${m.error ?? '?'}`));
    });
    this.#child.on('exit', (code) => {
      for (const p of this.#pending.values()) p.reject(new Error(`${this.name} exited (${code})`));
      this.#pending.clear();
    });
  }

  ask<T>(op: string, arg: unknown, timeoutMs = 120_000): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: ${op} took over ${timeoutMs} ms`)), timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#child.send({ id, op, arg });
    });
  }

  kill(): void {
    this.#child.kill('SIGKILL');
  }
}

interface RunResult {
  readonly rows: Row[];
  readonly p50: number;
}

async function run(mode: Mode): Promise<RunResult> {
  const names = ['bench-1', 'bench-2', 'bench-3'];
  const tls = mode === 'link-mtls' ? await benchTls(names) : undefined;
  const nodes = names.map((n) => new Node(n));
  const stop = (): void => nodes.forEach((n) => n.kill());
  process.once('exit', stop);
  try {
    const addrs = await Promise.all(nodes.map((n, i) => n.ask<Address>('start', { mode, name: n.name, host: `127.0.0.${21 + i}`, ...(tls === undefined ? {} : { tls: tls.get(n.name) }) })));
    await Promise.all(nodes.map((n, i) => n.ask('peers', Object.fromEntries(names.map((m, j) => [m, addrs[j]]).filter((_, j) => j !== i)))));
    const [a] = nodes as [Node, Node, Node];
    await a.ask('rtt', { to: 'bench-2', n: 500 });
    const lat = sortedCopy(await a.ask<number[]>('rtt', { to: 'bench-2', n: CALLS }));
    const before = await Promise.all(nodes.map((n) => n.ask<number>('count', null)));
    const t0 = performance.now();
    const sent = (await Promise.all(nodes.map((n) => n.ask<number>('flood', { to: names.filter((m) => m !== n.name), ms: FLOOD_MS })))).reduce((x, y) => x + y, 0);
    let got = 0;
    const end = Date.now() + 30_000;
    for (;;) {
      const now = await Promise.all(nodes.map((n) => n.ask<number>('count', null)));
      got = now.reduce((x, y, i) => x + y - (before[i] as number), 0);
      if (got >= sent || Date.now() > end) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const secs = (performance.now() - t0) / 1000;
    const label = { link: 'cluster link (TCP, length-prefixed batches)', 'link-mtls': 'cluster link under mTLS (TLS 1.3)', http2: 'node:http2 (a stream per message)' }[mode];
    const extra: Row[] = [];
    if (mode !== 'http2') {
      const dials = sortedCopy(await a.ask<number[]>('handshake', { to: 'bench-2', address: addrs[1], n: DIALS }));
      extra.push({ name: `${label}: new connection (${mode === 'link' ? 'TCP connect' : 'TCP connect + TLS handshake'}) P50`, value: percentile(dials, 50), unit: 'µs', note: `P99 ${percentile(dials, 99).toFixed(0)} µs over ${DIALS} dials` });
    }
    const rows: Row[] = [
      { name: `${label}: call round trip P50`, value: percentile(lat, 50), unit: 'µs', budget: '≤ 150 µs', ok: percentile(lat, 50) <= 150 },
      { name: `${label}: call round trip P99`, value: percentile(lat, 99), unit: 'µs', budget: '≤ 500 µs', ok: percentile(lat, 99) <= 500 },
      { name: `${label}: throughput, 3 nodes, every pair remote`, value: got / secs, unit: 'msg/s', budget: '≥ 100k msg/s', ok: got / secs >= 100_000, note: `${got} of ${sent} received in ${secs.toFixed(2)} s` },
      ...extra,
    ];
    return { rows, p50: percentile(lat, 50) };
  } finally {
    stop();
    process.off('exit', stop);
  }
}

export async function clusterLinkBenchmarks(): Promise<Row[]> {
  const plain = await run('link');
  const mtls = await run('link-mtls');
  const http2 = await run('http2');
  const ratio = mtls.p50 / plain.p50;
  return [
    ...plain.rows,
    ...mtls.rows,
    { name: 'cluster link: call P50 under mTLS / plain', value: ratio, unit: '×', budget: '≤ 2× (issue 13)', ok: ratio <= 2 },
    ...http2.rows,
  ];
}
