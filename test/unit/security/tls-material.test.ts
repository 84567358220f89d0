import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createSecureContext, createServer } from 'node:tls';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isCaxtonError, type ErrorCode } from '../../../src/errors.js';
import { type CaMaterial, createCa, issueNodeCert, writePemFile } from '../../../src/security/pki.js';
import { type NodeTlsPaths, type ServerTlsPaths, type TlsProblem, loadNodeTls, loadServerTls } from '../../../src/security/tls-material.js';
import { tempDir } from '../../helpers/tmp.js';

const dir = tempDir('caxton-tls-');
test.after(() => dir.cleanup());

let ca: CaMaterial;
let caPath: string;
test.before(async () => {
  ca = await createCa();
  caPath = join(dir.path, 'ca.crt');
  writePemFile(caPath, ca.certPem);
});

let n = 0;
/** A fresh directory with n1.crt and n1.key issued by `issuer` (default the CA). */
async function nodeFiles(opts: { issuer?: CaMaterial; nodeId?: string; days?: number; validFrom?: Date } = {}): Promise<NodeTlsPaths> {
  const d = join(dir.path, `case-${n++}`);
  mkdirSync(d);
  const issued = await issueNodeCert(opts.issuer ?? ca, { nodeId: opts.nodeId ?? 'n1', days: opts.days, validFrom: opts.validFrom });
  writePemFile(join(d, 'n1.crt'), issued.certPem);
  writePemFile(join(d, 'n1.key'), issued.keyPem, { secret: true });
  return { caCert: caPath, nodeCert: join(d, 'n1.crt'), nodeKey: join(d, 'n1.key'), nodeId: 'n1' };
}

function refused(paths: NodeTlsPaths, code: ErrorCode, file: string, problem: TlsProblem, text: RegExp): void {
  assert.throws(() => loadNodeTls(paths), (e: unknown) => {
    assert.ok(isCaxtonError(e, code), `${String(e)}`);
    assert.ok(e.message.startsWith(`${file}: `), `names the file: ${e.message}`);
    assert.match(e.message, text);
    assert.deepEqual(e.details, { file, problem });
    return true;
  });
}

test('tls material - good files load, and node:tls takes them as a secure context', async () => {
  const paths = await nodeFiles();
  const tls = loadNodeTls(paths);
  assert.match(tls.cert, /BEGIN CERTIFICATE/);
  assert.match(tls.key, /BEGIN PRIVATE KEY/);
  assert.equal(tls.ca, ca.certPem);
  assert.match(tls.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.match(tls.serial, /^[0-9A-F]+$/);
  assert.ok(tls.notAfter.getTime() > Date.now() + 364 * 86_400_000);
  createSecureContext({ ca: tls.ca, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.3' });
});

test('tls material - a missing file is named as missing', async () => {
  const paths = await nodeFiles();
  const gone = join(dir.path, 'nope.crt');
  refused({ ...paths, caCert: gone }, 'CAXTON_ERR_TLS_FILE', gone, 'missing', /\(CA certificate\) does not exist/);
  refused({ ...paths, nodeCert: gone }, 'CAXTON_ERR_TLS_FILE', gone, 'missing', /\(node certificate\) does not exist/);
  refused({ ...paths, nodeKey: gone }, 'CAXTON_ERR_TLS_FILE', gone, 'missing', /\(node private key\) does not exist/);
});

test('tls material - a directory in place of a file is named as unreadable', async () => {
  const paths = await nodeFiles();
  refused({ ...paths, nodeCert: dir.path }, 'CAXTON_ERR_TLS_FILE', dir.path, 'unreadable', /\(node certificate\) is not a regular file/);
});

test('tls material - a file the user may not read is named as unreadable', { skip: process.getuid?.() === 0 ? 'running as root, which reads any file' : false }, async () => {
  const paths = await nodeFiles();
  chmodSync(paths.nodeCert, 0o200);
  refused(paths, 'CAXTON_ERR_TLS_FILE', paths.nodeCert, 'unreadable', /cannot be read: EACCES/);
});

test('tls material - a key readable by group or others is refused', async () => {
  const paths = await nodeFiles();
  chmodSync(paths.nodeKey, 0o644);
  refused(paths, 'CAXTON_ERR_TLS_FILE', paths.nodeKey, 'key-permissions', /has mode 0644, readable beyond its owner; run chmod 600 /);
  chmodSync(paths.nodeKey, 0o640);
  refused(paths, 'CAXTON_ERR_TLS_FILE', paths.nodeKey, 'key-permissions', /mode 0640/);
  chmodSync(paths.nodeKey, 0o600);
  loadNodeTls(paths);
});

test('tls material - text that is not a certificate is refused', async () => {
  const paths = await nodeFiles();
  writeFileSync(paths.nodeCert, 'hello\n');
  refused(paths, 'CAXTON_ERR_TLS_CERT', paths.nodeCert, 'not-pem', /is not a PEM certificate/);
  writeFileSync(paths.nodeCert, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  refused(paths, 'CAXTON_ERR_TLS_CERT', paths.nodeCert, 'not-certificate', /is not a valid certificate/);
});

test('tls material - a node certificate given as the CA is refused as not a CA', async () => {
  const paths = await nodeFiles();
  refused({ ...paths, caCert: paths.nodeCert }, 'CAXTON_ERR_TLS_CERT', paths.nodeCert, 'not-a-ca', /is not a CA certificate/);
});

test('tls material - an expired certificate and one not valid yet are refused', async () => {
  const expired = await nodeFiles({ days: 1, validFrom: new Date(Date.now() - 3 * 86_400_000) });
  refused(expired, 'CAXTON_ERR_TLS_CERT', expired.nodeCert, 'expired', /\(node certificate\) expired on \d{4}-/);
  const paths = await nodeFiles({ days: 30 });
  refused({ ...paths, now: new Date(Date.now() + 31 * 86_400_000) }, 'CAXTON_ERR_TLS_CERT', paths.nodeCert, 'expired', /expired on/);
  const future = await nodeFiles({ days: 30, validFrom: new Date(Date.now() + 2 * 86_400_000) });
  refused(future, 'CAXTON_ERR_TLS_CERT', future.nodeCert, 'not-yet-valid', /\(node certificate\) is not valid before .*check this machine's clock/);
  // The CA's own validity is checked too, and named as the CA's.
  refused({ ...paths, now: new Date(Date.now() + 3651 * 86_400_000) }, 'CAXTON_ERR_TLS_CERT', caPath, 'expired', /\(CA certificate\) expired on/);
});

test('tls material - a certificate for another node is refused', async () => {
  const paths = await nodeFiles({ nodeId: 'n2' });
  refused(paths, 'CAXTON_ERR_TLS_CERT', paths.nodeCert, 'wrong-node', /is for CN "n2" and DNS n2, not for this node "n1"/);
});

test('tls material - a certificate from another CA is refused, with the same CA name too', async () => {
  const paths = await nodeFiles({ issuer: await createCa({ commonName: 'Other CA' }) });
  refused(paths, 'CAXTON_ERR_TLS_CERT', paths.nodeCert, 'not-issued-by-ca', /was not issued by the CA in .*ca\.crt \(issuer "CN=Other CA"/);
  const same = await nodeFiles({ issuer: await createCa() });
  refused(same, 'CAXTON_ERR_TLS_CERT', same.nodeCert, 'not-issued-by-ca', /same name but another key/);
});

test('tls material - a key that is not the certificate\'s is refused', async () => {
  const a = await nodeFiles();
  const b = await nodeFiles();
  refused({ ...a, nodeKey: b.nodeKey }, 'CAXTON_ERR_TLS_CERT', b.nodeKey, 'key-mismatch', /is not the private key of the certificate .*n1\.crt/);
  writeFileSync(b.nodeKey, 'not a key\n');
  refused(b, 'CAXTON_ERR_TLS_CERT', b.nodeKey, 'not-key', /is not a PEM private key/);
});

function refusedServer(paths: ServerTlsPaths, code: ErrorCode, file: string, problem: TlsProblem, text: RegExp): void {
  assert.throws(() => loadServerTls(paths), (e: unknown) => {
    assert.ok(isCaxtonError(e, code), `${String(e)}`);
    assert.ok(e.message.startsWith(`${file}: `), `names the file: ${e.message}`);
    assert.match(e.message, text);
    assert.deepEqual(e.details, { file, problem });
    return true;
  });
}

test('tls material - the API\'s files load without naming the node or coming from the client CA', async () => {
  // A certificate of another CA, for another name: an API is reached under its own name.
  const api = await nodeFiles({ issuer: await createCa({ commonName: 'Public CA' }), nodeId: 'api.example.com' });
  const tls = loadServerTls({ cert: api.nodeCert, key: api.nodeKey, caCert: caPath });
  assert.equal(tls.ca, ca.certPem);
  assert.match(tls.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.equal(loadServerTls({ cert: api.nodeCert, key: api.nodeKey }).ca, undefined, 'no client CA: none loaded');
  createSecureContext({ cert: tls.cert, key: tls.key, ca: tls.ca, minVersion: 'TLSv1.3' });
});

test('tls material - the API\'s files: a loose key, an expired certificate, a mismatched key and a client CA that is no CA are refused', async () => {
  const api = await nodeFiles();
  const paths: ServerTlsPaths = { cert: api.nodeCert, key: api.nodeKey, caCert: caPath };
  chmodSync(api.nodeKey, 0o604);
  refusedServer(paths, 'CAXTON_ERR_TLS_FILE', api.nodeKey, 'key-permissions', /\(API private key\) has mode 0604/);
  chmodSync(api.nodeKey, 0o600);
  refusedServer({ ...paths, now: new Date(Date.now() + 366 * 86_400_000) }, 'CAXTON_ERR_TLS_CERT', api.nodeCert, 'expired', /\(API certificate\) expired on/);
  const other = await nodeFiles();
  refusedServer({ ...paths, key: other.nodeKey }, 'CAXTON_ERR_TLS_CERT', other.nodeKey, 'key-mismatch', /is not the private key of the certificate/);
  refusedServer({ ...paths, caCert: api.nodeCert }, 'CAXTON_ERR_TLS_CERT', api.nodeCert, 'not-a-ca', /is not a CA certificate/);
  const gone = join(dir.path, 'gone-ca.crt');
  refusedServer({ ...paths, caCert: gone }, 'CAXTON_ERR_TLS_FILE', gone, 'missing', /\(client CA certificate\) does not exist/);
});

interface Material {
  ca: string;
  cert: string;
  key: string;
}

/** One TLS 1.3 handshake on loopback between `server` and `client` material; the error when refused. */
async function handshake(server: Material, client: Material, serverName: string): Promise<{ ok: boolean; peerCn?: string; error?: string; accepted: number }> {
  let accepted = 0;
  const srv = createServer({ ...server, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (sock) => {
    accepted++;
    sock.end('hi');
  });
  const serverErrors: string[] = [];
  srv.on('tlsClientError', (e) => serverErrors.push(e.message));
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  try {
    const sock = connect({ ...client, host: '127.0.0.1', port: (srv.address() as AddressInfo).port, servername: serverName, minVersion: 'TLSv1.3' });
    const result = await new Promise<{ ok: boolean; peerCn?: string; error?: string }>((resolve) => {
      let data = '';
      sock.on('data', (d: Buffer) => (data += d.toString()));
      sock.once('end', () => resolve(data === 'hi' ? { ok: true, peerCn: String(sock.getPeerCertificate().subject.CN) } : { ok: false, error: `closed; server: ${serverErrors.join('; ')}` }));
      sock.once('error', (e) => resolve({ ok: false, error: `${e.message}; server: ${serverErrors.join('; ')}` }));
    });
    sock.destroy();
    return { ...result, accepted };
  } finally {
    srv.close();
  }
}

test('tls material - two nodes\' files make a TLS 1.3 handshake with certificates both ways', async () => {
  const n1 = loadNodeTls(await nodeFiles());
  const n2 = loadNodeTls({ ...(await nodeFiles({ nodeId: 'n2' })), nodeId: 'n2' });
  assert.deepEqual(await handshake(n2, n1, 'n2'), { ok: true, peerCn: 'n2', accepted: 1 });
});

test('tls material - a node certificate of another CA is refused in the handshake, as server and as client', async () => {
  const n1 = loadNodeTls(await nodeFiles());
  const other = await createCa();
  const stranger = await issueNodeCert(other, { nodeId: 'n2' });
  // The stranger trusts our CA, so only its own certificate is in question.
  const strangerMaterial = { ca: ca.certPem, cert: stranger.certPem, key: stranger.keyPem };
  const asServer = await handshake(strangerMaterial, n1, 'n2');
  assert.equal(asServer.ok, false);
  assert.match(asServer.error ?? '', /unable to verify the first certificate/);
  // TLS 1.3: the client has finished its side when the server checks its certificate, so what the
  // client sees is the connection closing; the server never took it as a connection.
  const asClient = await handshake(n1, strangerMaterial, 'n1');
  assert.equal(asClient.ok, false);
  assert.equal(asClient.accepted, 0);
});
