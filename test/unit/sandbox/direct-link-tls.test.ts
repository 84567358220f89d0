/**
 * The direct path over TLS (mTLS on): two DirectLinks in this process with certificates of a test CA.
 * Routes open and carry messages over TLS 1.3; a plaintext peer, a certificate of another CA, a HELLO
 * whose node is not the certificate's, and a dialed worker whose certificate does not name the fence's
 * origin are each refused with a warning; a revocation closes the connections it concerns and refuses
 * new ones; a reload (setTls) gives new connections the new certificate.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createCa, issueNodeCert, type CaMaterial } from '../../../src/security/pki.js';
import type { RevokedEntry } from '../../../src/security/revoked-certs.js';
import { HostError } from '../../../src/sandbox/abi.js';
import { FrameKind, FrameWriter } from '../../../src/sandbox/worker/direct-frames.js';
import { COUNTER_ROUTES, DirectLink, type DirectTls } from '../../../src/sandbox/worker/direct-link.js';
import { FakeHost, type Fence } from '../../helpers/direct-host.js';
import { until } from '../../helpers/until.js';

const WAIT_MS = 5000;

interface Ca {
  readonly ca: CaMaterial;
  /** TLS material for a node of this CA. */
  material(nodeId: string): Promise<DirectTls & { serial: string }>;
}

async function testCa(): Promise<Ca> {
  const ca = await createCa();
  return {
    ca,
    material: async (nodeId) => {
      const c = await issueNodeCert(ca, { nodeId });
      return { ca: ca.certPem, cert: c.certPem, key: c.keyPem, serial: c.serial };
    },
  };
}

async function start(t: TestContext, node: string, tls: DirectTls, revoked: readonly RevokedEntry[] = []): Promise<{ link: DirectLink; host: FakeHost }> {
  const host = new FakeHost();
  const link = await DirectLink.start(host, { node, bindHost: '127.0.0.1', port: 0, advertiseHost: '127.0.0.1', maxFrameBytes: 1 << 20, tls, revoked });
  t.after(() => link.close());
  return { link, host };
}

/** A grants a route to `name`; B (the worker hosting it) answers the fence as coming from `origin`. */
function fenceAndAnswer(a: { link: DirectLink; host: FakeHost }, b: { link: DirectLink; host: FakeHost }, name: string, origin: string): Fence {
  b.host.hosted.add(name);
  const before = a.host.fences.length;
  a.link.grant(name, 'node-b');
  const f = a.host.fences[before];
  assert.ok(f !== undefined && f.name === name, `a fence for ${name}`);
  b.link.fenceArrived(f.name, f.token, f.host, f.port, origin);
  return f;
}

const revokedSerial = (serial: string): RevokedEntry => ({ serial, node: '', reason: 'test', revokedAt: Date.now(), revokedBy: 'test@node-a' });

test('direct link over TLS - a route opens and carries messages in order; a plaintext client is refused', async (t) => {
  const ca = await testCa();
  const a = await start(t, 'node-a', await ca.material('node-a'));
  const b = await start(t, 'node-b', await ca.material('node-b'));
  fenceAndAnswer(a, b, 'bob', 'node-a');
  for (let i = 0; i < 5; i++) assert.equal(a.link.send('alice', 'bob', `${i}`, 1, false), HostError.OK);
  await until('the route to bob', () => a.host.counters[COUNTER_ROUTES] === 1, WAIT_MS, 5);
  for (let i = 5; i < 10; i++) assert.equal(a.link.send('alice', 'bob', `${i}`, 1, false), HostError.OK);
  a.link.flush();
  await until('ten messages at B', () => b.host.delivered.length === 10, WAIT_MS, 5);
  assert.deepEqual(b.host.delivered.map((d) => d.json), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.ok(b.host.delivered.every((d) => d.origin === 'node-a'));

  // a plaintext HELLO with a real token: the TLS server takes it for a broken handshake
  a.link.grant('carol', 'node-b');
  const f = a.host.fences.at(-1) as Fence;
  const socket = net.connect({ host: '127.0.0.1', port: a.link.port });
  socket.on('error', () => {});
  const w = new FrameWriter();
  w.control(FrameKind.HELLO, { token: f.token, node: 'node-b', host: '127.0.0.1', port: 1 });
  socket.write(w.take() as Buffer);
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await until('the warning', () => a.host.warnings.some((x) => /^direct path: a TLS handshake from 127\.0\.0\.1 failed: /.test(x)), WAIT_MS, 5);
  assert.equal(a.host.counters[COUNTER_ROUTES], 1);
  assert.deepEqual(b.host.warnings, []);
});

test('direct link over TLS - another CA, a HELLO for another node than the certificate, a dialed worker that is not the fence\'s origin: refused', async (t) => {
  const ca = await testCa();
  const other = await testCa();
  const a = await start(t, 'node-a', await ca.material('node-a'));

  // B trusts the CA but presents a certificate of another CA: A refuses it in the handshake
  const stranger = await other.material('node-b');
  const b1 = await start(t, 'node-b', { ca: ca.ca.certPem, cert: stranger.cert, key: stranger.key });
  fenceAndAnswer(a, b1, 'bob', 'node-a');
  await until('A refuses the stranger', () => a.host.warnings.some((x) => /^direct path: refused a TLS connection from 127\.0\.0\.1: /.test(x)), WAIT_MS, 5);

  // B's certificate is of the CA but names node-x, while its HELLO says node-b
  const b2 = await start(t, 'node-b', await ca.material('node-x'));
  fenceAndAnswer(a, b2, 'bea', 'node-a');
  await until('A refuses the HELLO', () => a.host.warnings.some((x) => /a HELLO for node node-b over TLS with a certificate for CN=node-x/.test(x)), WAIT_MS, 5);

  // the fence claims node-z as its origin, but the worker that listens there is node-a's: B refuses to talk
  const b3 = await start(t, 'node-b', await ca.material('node-b'));
  fenceAndAnswer(a, b3, 'ben', 'node-z');
  await until('B refuses the dialed worker', () => b3.host.warnings.some((x) => /^direct path: could not open a TLS connection to node node-z's worker at 127\.0\.0\.1:\d+: its certificate is for CN=node-a, DNS:node-a, not for node node-z/.test(x)), WAIT_MS, 5);

  assert.equal(a.host.counters[COUNTER_ROUTES], 0);
  for (const b of [b1, b2, b3]) assert.deepEqual(b.host.delivered, []);
  // the right peer still gets in
  const b4 = await start(t, 'node-b', await ca.material('node-b'));
  fenceAndAnswer(a, b4, 'bill', 'node-a');
  await until('the route to bill', () => a.host.counters[COUNTER_ROUTES] === 1, WAIT_MS, 5);
});

test('direct link over TLS - a revocation closes the connections it concerns and refuses new ones; a reload gives new connections the new certificate', async (t) => {
  const ca = await testCa();
  const aOld = await ca.material('node-a');
  const bCert = await ca.material('node-b');
  const a = await start(t, 'node-a', aOld);
  const b = await start(t, 'node-b', bCert);
  fenceAndAnswer(a, b, 'bob', 'node-a');
  await until('the route to bob', () => a.host.counters[COUNTER_ROUTES] === 1, WAIT_MS, 5);

  // B's certificate is revoked on A: the connection closes, the route with it
  a.link.revoke([revokedSerial(bCert.serial)]);
  await until('the route to drop', () => a.host.counters[COUNTER_ROUTES] === 0, WAIT_MS, 5);
  assert.ok(a.host.warnings.some((x) => x.includes(`its certificate (serial ${bCert.serial}) is revoked (test)`)), JSON.stringify(a.host.warnings));
  assert.equal(a.link.send('alice', 'bob', '"x"', 1, false), undefined, 'no route: the link takes the message');
  // a new connection with the revoked certificate (from a fresh worker of node-b) is refused once its
  // handshake completes
  const warnings = a.host.warnings.length;
  const b2 = await start(t, 'node-b', bCert);
  fenceAndAnswer(a, b2, 'bea', 'node-a');
  await until('A refuses the revoked certificate', () => a.host.warnings.slice(warnings).some((x) => /^direct path: refused a TLS connection from 127\.0\.0\.1 \(CN=node-b, DNS:node-b\): its certificate \(serial [0-9A-F]+\) is revoked/.test(x)), WAIT_MS, 5);

  // A reloads a new certificate; B then revokes A's old one: B can still dial A, whose new connections
  // present the new certificate
  const aNew = await ca.material('node-a');
  a.link.setTls(aNew);
  b.link.revoke([revokedSerial(aOld.serial)]);
  const c = await start(t, 'node-c', await ca.material('node-c'));
  c.link.revoke([revokedSerial(aOld.serial)]);
  fenceAndAnswer(a, c, 'cid', 'node-a');
  await until('the route to cid', () => a.host.counters[COUNTER_ROUTES] === 1, WAIT_MS, 5);
  assert.deepEqual(c.host.warnings, []);
  // and a peer that revokes A's new certificate refuses to dial it
  const d = await start(t, 'node-d', await ca.material('node-d'));
  d.link.revoke([revokedSerial(aNew.serial)]);
  fenceAndAnswer(a, d, 'dan', 'node-a');
  await until('D refuses A', () => d.host.warnings.some((x) => x.includes(`its certificate (serial ${aNew.serial}) is revoked`)), WAIT_MS, 5);
});
