/**
 * The node-to-node link under mTLS, over real sockets: Clusters in one process on 127.0.0.166-167, 172-175
 * and 196-197 with `linkTls`. The dialer's check of the node it dialed, the acceptor's check against the address
 * membership knows, and the material swap (`setTlsMaterial`): new connections use the new material,
 * open ones keep theirs; a revoked peer's connection closed and its next handshake refused.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { Cluster } from '../../../src/cluster/cluster.js';
import type { LinkTlsMaterial } from '../../../src/cluster/transport/link-tls.js';
import { LINK_MAGIC, LINK_VERSION, NONCE_BYTES, encodeHello } from '../../../src/cluster/link/frame.js';
import { createCa, issueNodeCert, type CaMaterial } from '../../../src/security/pki.js';
import { isCaxtonError } from '../../../src/errors.js';
import { until } from '../../helpers/until.js';
import { tempDir } from '../../helpers/tmp.js';
import { join } from 'node:path';
import { openDatabase } from '../../../src/storage/index.js';
import { RevocationList } from '../../../src/security/revocation.js';

const fast = { probeIntervalMs: 200, probeTimeoutMs: 100, gossipIntervalMs: 50, suspicionMult: 3, pushPullIntervalMs: 2000, reconnectIntervalMs: 500 } as const;

interface Captured {
  readonly lines: string[];
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Keeps the warnings and errors (the refusals are warnings). */
function capture(): Captured {
  const lines: string[] = [];
  const keep = (_o: object, msg?: string): void => {
    lines.push(msg ?? '');
  };
  return { lines, debug: () => undefined, info: () => undefined, warn: keep, error: keep };
}

async function material(ca: CaMaterial, nodeId: string): Promise<LinkTlsMaterial & { serial: string }> {
  const c = await issueNodeCert(ca, { nodeId });
  return { ca: ca.certPem, cert: c.certPem, key: c.keyPem, serial: c.serial };
}

async function pair(t: TestContext, base: number, a: { name: string; tls: LinkTlsMaterial }, b: { name: string; tls: LinkTlsMaterial }): Promise<[Cluster, Cluster, Captured, Captured]> {
  const la = capture();
  const lb = capture();
  const ca = await Cluster.start({ name: a.name, bind: { host: `127.0.0.${base}`, port: 0 }, profile: 'local', timings: fast, tags: { role: 'caxton' }, linkTls: a.tls, logger: la });
  t.after(() => ca.shutdown());
  const cb = await Cluster.start({ name: b.name, bind: { host: `127.0.0.${base + 1}`, port: 0 }, profile: 'local', timings: fast, tags: { role: 'caxton' }, linkTls: b.tls, logger: lb });
  t.after(() => cb.shutdown());
  assert.equal(await cb.join([ca.transport.local]), 1);
  await until('both see both alive', () => [ca, cb].every((c) => c.members().filter((m) => m.status === 'alive').length === 2));
  for (const c of [ca, cb]) {
    c.peers.onCall('echo', (_from, body) => body);
  }
  return [ca, cb, la, lb];
}

test('link tls - the dialer refuses an acceptor whose certificate names another node, and says so', async (t) => {
  const ca = await createCa();
  const [a, , la, lb] = await pair(t, 172, { name: 'n1', tls: await material(ca, 'n1') }, { name: 'n2', tls: await material(ca, 'n9') });
  await assert.rejects(a.peers.call('n2', 'echo', 1, { timeoutMs: 1000 }), (e: unknown) => isCaxtonError(e));
  await until('n1 logs the refused dial', () => la.lines.some((l) => /dial to n2 refused: TLS handshake with node n2 at 127\.0\.0\.173:\d+ failed: its certificate is for CN=n9, DNS:n9, not for node n2, which was dialed/.test(l)));
  // Nothing was refused on n2's side for n1: n1 hung up before its Hello.
  assert.equal(lb.lines.filter((l) => /calls itself/.test(l)).length, 0);
});

test('link tls - setTlsMaterial: new connections use the new material, the open one keeps its own', async (t) => {
  const ca = await createCa();
  const first = await material(ca, 'n2');
  const [a, b] = await pair(t, 174, { name: 'n1', tls: await material(ca, 'n1') }, { name: 'n2', tls: first });
  assert.equal(await a.peers.call('n2', 'echo', 'before'), 'before');
  assert.equal(a.peers.stats().peers.find((p) => p.peer === 'n2')?.connected, true);

  // The same node, a new certificate: a new stream sees it.
  const second = await material(ca, 'n2');
  b.setTlsMaterial(second);
  const s1 = await a.transport.dialLink(b.transport.local, 2000, 'n2');
  assert.equal(s1.peerCert?.serialNumber.toUpperCase(), second.serial);
  s1.close();

  // Material of another CA: new dials fail (n1 trusts only its own CA), the open connection goes on.
  b.setTlsMaterial(await material(await createCa(), 'n2'));
  await assert.rejects(a.transport.dialLink(b.transport.local, 2000, 'n2'), /TLS handshake with node n2/);
  assert.equal(await a.peers.call('n2', 'echo', 'after'), 'after');
  const closed = a.peers.stats().closed.filter((c) => c.peer === 'n2');
  assert.deepEqual(closed, [], 'the link connection to n2 was never closed');
  // Unusable PEM is refused and changes nothing.
  assert.throws(() => b.setTlsMaterial({ ca: 'x', cert: 'y', key: 'z' }));
});

test('link tls - a dialer from an address membership gives another node is refused, naming both', async (t) => {
  const ca = await createCa();
  const [a, b, , lb] = await pair(t, 166, { name: 'n1', tls: await material(ca, 'n1') }, { name: 'n2', tls: await material(ca, 'n2') });
  assert.equal(await a.peers.call('n2', 'echo', 1), 1);
  // A valid certificate for n3, from n1's address.
  const n3 = await material(ca, 'n3');
  const h = encodeHello({ version: LINK_VERSION, proof: false, nonce: new Uint8Array(NONCE_BYTES), name: 'n3' });
  await new Promise<void>((resolve) => {
    const raw = net.connect({ host: b.transport.local.host, port: b.transport.local.port, localAddress: a.transport.local.host });
    const s = tls.connect({ socket: raw, ca: n3.ca, cert: n3.cert, key: n3.key, rejectUnauthorized: false }, () => {
      s.write(Buffer.concat([Buffer.from([LINK_MAGIC]), h]));
    });
    s.on('data', () => undefined);
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
  await until('n2 logs the refusal', () => lb.lines.some((l) => /connection closed \(auth\): the peer at 127\.0\.0\.166:\d+ calls itself n3, but membership knows n1 at 127\.0\.0\.166/.test(l)));
  assert.equal(await a.peers.call('n2', 'echo', 2), 2, 'n1 and n2 still link');
});

test('link tls - a revoked peer: its open connection is closed, and its next handshake is refused as dialer and as acceptor, each with a line naming the serial', async (t) => {
  const ca = await createCa();
  const m2 = await material(ca, 'n2');
  const [a, b, la] = await pair(t, 196, { name: 'n1', tls: await material(ca, 'n1') }, { name: 'n2', tls: m2 });
  assert.equal(await a.peers.call('n2', 'echo', 'before'), 'before');
  const dir = tempDir('caxton-link-revoke-');
  const db = openDatabase(join(dir.path, 'caxton.db'));
  t.after(() => {
    db.close();
    dir.cleanup();
  });
  const list = new RevocationList(db);
  a.transport.setRevocationCheck((c) => list.check(c));
  assert.equal(a.transport.closeRevoked(), 0, 'nothing is revoked yet');
  list.merge([{ serial: m2.serial, node: '', reason: 'test', revokedAt: Date.now(), revokedBy: 'test' }]);
  assert.equal(a.transport.closeRevoked(), 1);
  assert.ok(la.lines.some((l) => l.startsWith('cluster link: closed the link connection with 127.0.0.197:') && l.includes(`(CN=n2, DNS:n2): its certificate (serial ${m2.serial}) is revoked (test)`)), la.lines.join('\n'));
  // A call makes a side dial (the first may still meet the connection being torn down).
  const refusedAfterCall = (from: Cluster, to: string, line: (l: string) => boolean) => async () => {
    await assert.rejects(from.peers.call(to, 'echo', 1, { timeoutMs: 1000 }), (e: unknown) => isCaxtonError(e));
    return la.lines.some(line);
  };
  await until('n1 logs the refused dial', refusedAfterCall(a, 'n2', (l) => l.startsWith('cluster link: dial to n2 refused:') && l.includes(`its certificate (serial ${m2.serial}) is revoked`)));
  await until('n1 logs the refused acceptance', refusedAfterCall(b, 'n1', (l) => /^cluster link: refused a TLS link connection from 127\.0\.0\.197:\d+ \(CN=n2, DNS:n2\)/.test(l) && l.includes(`(serial ${m2.serial}) is revoked`)));
});
