/**
 * One node of the cluster-link benchmark (cluster-link.bench.ts), in its own process, driven over the
 * IPC channel of child_process.fork. Mode `link`: a real Cluster (membership + the link on the gossip
 * port); `link-mtls`: the same with the link under mTLS (the PEM texts come with `start`). Mode `http2`: a node:http2 server and one client session per peer, a stream per message:
 * the alternative framing the issue asks to compare.
 *
 * Requests: start {mode, name, host, tls?} → {host, port}; peers {name → address}; rtt {to, n} → latencies
 * in µs; handshake {to, address, n} → µs per new link stream (TCP connect, plus the TLS handshake under mTLS); flood {to[], ms} → messages sent; count → messages received. Exits when the parent goes.
 */
import http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import { Cluster } from '../src/cluster/cluster.js';
import type { Address } from '../src/cluster/transport/transport.js';
import type { LinkTlsMaterial } from '../src/cluster/transport/link-tls.js';

type Mode = 'link' | 'link-mtls' | 'http2';
interface Req {
  readonly id: number;
  readonly op: 'start' | 'peers' | 'rtt' | 'flood' | 'count' | 'handshake';
  readonly arg: Record<string, unknown>;
}

/** A FIPA-ACL-sized message (about 250 bytes of JSON). */
export const MESSAGE = {
  performative: 'request',
  sender: 'agent-a@node-1',
  receiver: 'agent-b@node-2',
  conversation_id: '6f1c2a9e-8d2b-4c0e-9a51-3e7b2f0d4c11',
  reply_with: 'r-000001',
  ontology: 'bench',
  content: 'x'.repeat(96),
};

let mode: Mode = 'link';
let cluster: Cluster | undefined;
let server: http2.Http2Server | undefined;
const sessions = new Map<string, http2.ClientHttp2Session>();
let received = 0;

async function startHttp2(host: string): Promise<Address> {
  server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
      received++;
      if (headers[':path'] === '/echo') {
        stream.respond({ ':status': 200, 'content-type': 'application/json' });
        stream.end(JSON.stringify(body));
      } else {
        stream.respond({ ':status': 204 }, { endStream: true });
      }
    });
  });
  await new Promise<void>((r) => (server as http2.Http2Server).listen(0, host, r));
  const a = server.address() as { port: number };
  return { host, port: a.port };
}

function h2request(to: string, path: string, body: unknown): Promise<unknown> {
  const s = sessions.get(to);
  if (s === undefined) throw new Error(`no session to ${to}`);
  return new Promise((resolve, reject) => {
    const req = s.request({ ':method': 'POST', ':path': path, 'content-type': 'application/json' });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(chunks.length === 0 ? undefined : (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown)));
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

async function handle(r: Req): Promise<unknown> {
  switch (r.op) {
    case 'start': {
      mode = r.arg['mode'] as Mode;
      const host = r.arg['host'] as string;
      if (mode === 'http2') return startHttp2(host);
      const linkTls = r.arg['tls'] as LinkTlsMaterial | undefined;
      cluster = await Cluster.start({ name: r.arg['name'] as string, bind: { host, port: 0 }, profile: 'local', tags: { role: 'caxton' }, ...(linkTls === undefined ? {} : { linkTls }) });
      cluster.peers.onPost('msg', () => received++);
      cluster.peers.onCall('echo', (_f, body) => {
        received++;
        return body;
      });
      return cluster.transport.local;
    }
    case 'peers': {
      const peers = r.arg as Record<string, Address>;
      if (mode === 'http2') {
        for (const [name, a] of Object.entries(peers)) {
          const s = http2.connect(`http://${a.host}:${a.port}`);
          s.on('error', () => undefined);
          await new Promise<void>((res) => s.once('connect', () => res()));
          sessions.set(name, s);
        }
        return null;
      }
      const c = cluster as Cluster;
      await c.join(Object.values(peers));
      const want = Object.keys(peers).length + 1;
      const end = Date.now() + 15_000;
      while (c.members().filter((m) => m.status === 'alive').length < want) {
        if (Date.now() > end) throw new Error('members did not converge');
        await new Promise((res) => setTimeout(res, 50));
      }
      // Open the connections before measuring.
      for (const name of Object.keys(peers)) await c.peers.call(name, 'echo', 0);
      return null;
    }
    case 'rtt': {
      const to = r.arg['to'] as string;
      const n = r.arg['n'] as number;
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        if (mode !== 'http2') await (cluster as Cluster).peers.call(to, 'echo', MESSAGE);
        else await h2request(to, '/echo', MESSAGE);
        out.push((performance.now() - t0) * 1000);
      }
      return out;
    }
    case 'flood': {
      const to = r.arg['to'] as string[];
      const end = performance.now() + (r.arg['ms'] as number);
      let sent = 0;
      if (mode !== 'http2') {
        const peers = (cluster as Cluster).peers;
        while (performance.now() < end) {
          for (let i = 0; i < 256; i++) for (const n of to) if (peers.post(n, 'msg', MESSAGE)) sent++;
          await new Promise((res) => setImmediate(res));
        }
        return sent;
      }
      // http2: a stream per message, at most 256 in flight per peer (HTTP/2's default stream limit is 100+).
      const inflight = new Map<string, number>(to.map((n) => [n, 0]));
      await new Promise<void>((done) => {
        const pump = (): void => {
          if (performance.now() >= end) {
            if ([...inflight.values()].every((v) => v === 0)) done();
            return;
          }
          for (const n of to) {
            while ((inflight.get(n) as number) < 256) {
              inflight.set(n, (inflight.get(n) as number) + 1);
              h2request(n, '/post', MESSAGE).then(
                () => {
                  sent++;
                  inflight.set(n, (inflight.get(n) as number) - 1);
                  pump();
                },
                () => {
                  inflight.set(n, (inflight.get(n) as number) - 1);
                  pump();
                },
              );
            }
          }
        };
        pump();
      });
      return sent;
    }
    case 'count':
      return received;
    case 'handshake': {
      // A new stream as the link dials it, closed at once (the acceptor's link sees it end in its
      // handshake): the cost a new connection adds, not the link's Hello exchange.
      const t = (cluster as Cluster).transport;
      const out: number[] = [];
      for (let i = 0; i < (r.arg['n'] as number); i++) {
        const t0 = performance.now();
        const s = await t.dialLink(r.arg['address'] as Address, 2000, r.arg['to'] as string);
        out.push((performance.now() - t0) * 1000);
        s.close();
      }
      return out;
    }
  }
}

process.on('message', (raw: unknown) => {
  const r = raw as Req;
  handle(r).then(
    (result) => process.send?.({ id: r.id, ok: true, result }),
    (e: unknown) => process.send?.({ id: r.id, ok: false, error: e instanceof Error ? e.message : String(e) }),
  );
});
process.on('disconnect', () => process.exit(0));
