/**
 * The API's HTTPS certificate reloaded without a restart (docs/security.md, "Reloading certificates"),
 * on a real server process: after SIGHUP a new connection gets the new certificate while a connection
 * opened before keeps working on the old one; `cert-status` shows it; a bad new file is refused and
 * the certificate in use stays.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { createCa, issueNodeCert, writePemFile } from '../../../src/security/pki.js';
import { runCli, startServer } from '../../helpers/server.js';
import { tempDir } from '../../helpers/tmp.js';
import { until } from '../../helpers/until.js';

function open(port: number, ca: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ca, minVersion: 'TLSv1.3' }, () => resolve(s));
    s.on('error', reject);
  });
}

/** One HTTP/1.1 request on an open TLS socket (keep-alive), the status line of its answer. */
function get(s: TLSSocket, path: string): Promise<string> {
  return new Promise((resolve) => {
    s.once('data', (d: Buffer) => resolve(d.toString().split('\r\n')[0] ?? ''));
    s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`);
  });
}

async function fingerprintOfNew(port: number, ca: string): Promise<string> {
  const s = await open(port, ca);
  const fp = s.getPeerCertificate().fingerprint256;
  s.destroy();
  return fp;
}

test('api https reload - SIGHUP: new connections get the new certificate, an open one keeps working; cert-status shows it; a bad file is refused and the old stays', { timeout: 90_000 }, async (t) => {
  const dir = tempDir('caxton-https-reload-');
  t.after(() => dir.cleanup());
  const ca = await createCa();
  const f = (n: string) => join(dir.path, n);
  writePemFile(f('ca.crt'), ca.certPem);
  const a = await issueNodeCert(ca, { nodeId: 'test-node', sans: ['127.0.0.1'] });
  writePemFile(f('api.key'), a.keyPem, { secret: true });
  writePemFile(f('api.crt'), a.certPem);
  const s = await startServer({ args: ['--set', 'security.api.tls.enabled=true', '--set', `security.api.tls.cert=${f('api.crt')}`, '--set', `security.api.tls.key=${f('api.key')}`] });
  t.after(async () => {
    await s.stop();
    s.cleanup();
  });
  const port = Number(new URL(s.apiUrl).port);
  const old = await open(port, ca.certPem);
  t.after(() => old.destroy());
  assert.equal(old.getPeerCertificate().fingerprint256, a.fingerprint);

  const b = await issueNodeCert(ca, { nodeId: 'test-node', sans: ['127.0.0.1'] });
  writePemFile(f('api.key'), b.keyPem, { secret: true, force: true });
  writePemFile(f('api.crt'), b.certPem, { force: true });
  process.kill(s.pid, 'SIGHUP');
  await until('a new connection gets the new certificate', async () => (await fingerprintOfNew(port, ca.certPem)) === b.fingerprint);
  assert.match(await get(old, '/api/v1/health'), /^HTTP\/1\.1 200/, 'the connection opened before the reload still works');
  assert.equal(old.getPeerCertificate().fingerprint256, a.fingerprint);

  const st = await runCli(['security', 'cert-status', '-o', 'json', '--api-url', s.apiUrl, '--api-key', s.adminKey, '--ca-cert', f('ca.crt')]);
  assert.equal(st.code, 0, st.stdout + st.stderr);
  const j = JSON.parse(st.stdout) as { nodes: { node: string; cert: unknown; api_cert: { fingerprint: string; days_left: number } }[] };
  assert.equal(j.nodes.length, 1);
  assert.equal(j.nodes[0]?.cert, null, 'no mTLS: no node certificate');
  assert.equal(j.nodes[0]?.api_cert.fingerprint, b.fingerprint);

  // A key that is not the certificate's: refused, named, the certificate in use stays.
  const c = await issueNodeCert(ca, { nodeId: 'test-node', sans: ['127.0.0.1'] });
  writePemFile(f('api.key'), a.keyPem, { secret: true, force: true });
  writePemFile(f('api.crt'), c.certPem, { force: true });
  process.kill(s.pid, 'SIGHUP');
  await until('the refusal is logged, naming the key', async () => s.logs().includes(`certificate reload refused: ${f('api.key')}: is not the private key of the certificate ${f('api.crt')}`));
  assert.equal(await fingerprintOfNew(port, ca.certPem), b.fingerprint);
});
