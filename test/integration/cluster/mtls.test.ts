/**
 * mTLS between nodes (issue 13; docs/security.md, "mTLS between nodes"): real `caxton server start`
 * processes on loopback whose link runs over TLS 1.3 with certificates from a test CA. A message
 * crosses nodes; peers with a certificate of another CA, an expired one, one whose name is not the
 * node it claims, and a plaintext link stream are each refused with a log line naming the reason while
 * the two good nodes keep serving each other; `openssl s_client` completes a TLS 1.3 handshake with a
 * client certificate to the routing port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { createCa, issueNodeCert, writePemFile, type CaMaterial } from '../../../src/security/pki.js';
import { LINK_MAGIC, LINK_VERSION, NONCE_BYTES, encodeHello } from '../../../src/cluster/link/frame.js';
import { api } from '../../helpers/server.js';
import { startServerCluster, type ServerCluster } from '../../helpers/server-cluster.js';
import { until } from '../../helpers/until.js';
import { agentWasm } from '../../helpers/agents.js';
import { tempDir } from '../../helpers/tmp.js';
import { outsideTool } from '../../helpers/outside-tools.js';

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const DAY = 86_400_000;

interface Files {
  crt: string;
  key: string;
}

async function issue(ca: CaMaterial, dir: string, file: string, nodeId: string, validity: { validFrom?: Date; days?: number } = {}): Promise<Files> {
  const c = await issueNodeCert(ca, { nodeId, ...validity });
  const crt = join(dir, `${file}.crt`);
  const key = join(dir, `${file}.key`);
  writePemFile(crt, c.certPem);
  writePemFile(key, c.keyPem, { secret: true });
  return { crt, key };
}

function mtlsArgs(caCrt: string, f: Files): string[] {
  return ['--set', 'security.cluster.mtls.enabled=true', '--set', `security.cluster.mtls.ca_cert=${caCrt}`, '--set', `security.cluster.mtls.node_cert=${f.crt}`, '--set', `security.cluster.mtls.node_key=${f.key}`];
}

/** A test-side dialer: TLS to `host:port` with `f`, then (when given) the link's first bytes. */
function tlsDial(host: string, port: number, ca: string, f: Files, first?: Uint8Array): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({ host, port, ca, cert: readPem(f.crt), key: readPem(f.key), minVersion: 'TLSv1.3', rejectUnauthorized: false }, () => {
      if (first !== undefined) s.write(first);
    });
    s.on('error', (e) => resolve(`error: ${e.message}`));
    s.on('close', () => resolve('closed'));
    s.on('data', () => undefined);
    setTimeout(() => s.destroy(), 5000).unref();
  });
}

const readPem = (p: string) => readFileSync(p, 'utf8');

function hello(name: string): Uint8Array {
  const h = encodeHello({ version: LINK_VERSION, proof: false, nonce: new Uint8Array(NONCE_BYTES), name });
  const out = new Uint8Array(1 + h.length);
  out[0] = LINK_MAGIC;
  out.set(h, 1);
  return out;
}

async function roundTrip(c: ServerCluster, receiver: string): Promise<void> {
  const [n1] = c.nodes as [NonNullable<(typeof c.nodes)[0]>];
  await until(`${receiver} on node-2 answers a request sent to node-1`, async () => {
    const r = await api(n1, 'POST', '/messages?wait_reply=true&timeout_ms=3000', { performative: 'request', receiver, content: 'ping' });
    return r.status === 200 && r.body.reply?.sender === receiver;
  });
}

test('cluster mtls - nodes link over TLS 1.3; bad peers are refused with a reason while the good nodes keep serving each other', async (t) => {
  const dir = tempDir('caxton-mtls-');
  t.after(() => dir.cleanup());
  const ca = await createCa();
  const other = await createCa();
  const caCrt = join(dir.path, 'ca.crt');
  writePemFile(caCrt, ca.certPem);
  const good = [await issue(ca, dir.path, 'node-1', 'node-1'), await issue(ca, dir.path, 'node-2', 'node-2')];
  const c = await startServerCluster({ size: 2, base: 160, nodeArgs: (i) => mtlsArgs(caCrt, good[i] as Files) });
  t.after(() => c.stop());
  const [n1, n2] = c.nodes as [NonNullable<(typeof c.nodes)[0]>, NonNullable<(typeof c.nodes)[0]>];

  assert.equal((await api(n1, 'GET', '/cluster/status')).body.mtls, true);
  assert.match(n1.logs(), /mTLS between nodes is on/);
  await until('node-1 admin key works on node-2', async () => (await api(n2, 'GET', '/status', undefined, n1.adminKey)).status === 200);
  const d = await api(n1, 'POST', '/agents', { name: 'echo-b', module: b64(agentWasm('echo')), target_node: 'node-2' }, n1.adminKey);
  assert.equal(d.status, 201, JSON.stringify(d.body));
  await roundTrip(c, 'echo-b');

  const host = c.host(1);
  const port = c.port;
  const logged = (re: RegExp) => until(`node-2 logs ${re}`, async () => re.test(n2.logs()));

  // A certificate from another CA.
  await tlsDial(host, port, ca.certPem, await issue(other, dir.path, 'foreign', 'node-3'), hello('node-3'));
  await logged(/refused a TLS link connection from 127\.0\.0\.\d+:\d+: its certificate was not issued by this cluster's CA/);
  // An expired certificate of the right CA.
  await tlsDial(host, port, ca.certPem, await issue(ca, dir.path, 'expired', 'node-3', { validFrom: new Date(Date.now() - 10 * DAY), days: 2 }), hello('node-3'));
  await logged(/refused a TLS link connection from 127\.0\.0\.\d+:\d+: its certificate has expired \(CERT_HAS_EXPIRED\)/);
  // A good certificate for node-3 whose holder claims to be node-1.
  const node3 = await issue(ca, dir.path, 'node-3', 'node-3');
  await tlsDial(host, port, ca.certPem, node3, hello('node-1'));
  await logged(/connection closed \(auth\): the peer at 127\.0\.0\.\d+:\d+ calls itself node-1 but its certificate is for CN=node-3/);
  // A plaintext link stream.
  await new Promise<void>((resolve) => {
    const s = net.connect({ host, port }, () => s.write(Buffer.concat([Buffer.from([LINK_MAGIC]), Buffer.from('junk junk junk')])));
    s.on('data', () => undefined);
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
  await logged(/refused a plaintext link stream from 127\.0\.0\.\d+:\d+: this node requires mTLS/);

  // The good nodes still serve each other, over a fresh deploy as well as the first agent.
  await roundTrip(c, 'echo-b');
  assert.equal((await api(n1, 'POST', '/agents', { name: 'echo-c', module: b64(agentWasm('echo')), target_node: 'node-2' }, n1.adminKey)).status, 201);
  await roundTrip(c, 'echo-c');

  // The outside check: openssl completes a TLS 1.3 handshake with a client certificate.
  const openssl = outsideTool('openssl');
  if (openssl.path === undefined) {
    t.diagnostic(String(openssl.skip));
    return;
  }
  const r = spawnSync(openssl.path, ['s_client', '-tls1_3', '-cert', node3.crt, '-key', node3.key, '-CAfile', caCrt, '-connect', `${host}:${port}`], { input: '', encoding: 'utf8', timeout: 15_000 });
  assert.match(r.stdout, /Protocol\s*:\s*TLSv1\.3|New, TLSv1\.3/, r.stdout + r.stderr);
  assert.match(r.stdout, /Verify return code: 0 \(ok\)/, r.stdout);
});
