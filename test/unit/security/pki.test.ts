import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, createPublicKey, createSign, createVerify } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isCaxtonError } from '../../../src/errors.js';
import { clientRole, createCa, describeCert, issueClientCert, issueNodeCert, writePemFile } from '../../../src/security/pki.js';
import { x509 } from '../../../src/security/x509.js';
import { tempDir } from '../../helpers/tmp.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

function ekus(pem: string): string[] {
  const ext = new x509.X509Certificate(pem).getExtension(x509.ExtendedKeyUsageExtension);
  assert.ok(ext !== null, 'has an extended key usage');
  return [...ext.usages].map(String);
}

test('pki - the CA is a self-signed P-256 CA for ten years that may sign certificates', async () => {
  const ca = await createCa();
  const cert = new X509Certificate(ca.certPem);
  assert.equal(cert.ca, true);
  assert.ok(cert.checkIssued(cert));
  assert.ok(cert.verify(cert.publicKey));
  assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const key = createPrivateKey(ca.keyPem);
  assert.equal(key.asymmetricKeyType, 'ec');
  assert.ok(cert.checkPrivateKey(key));
  const d = describeCert(ca.certPem);
  assert.equal(d.commonName, 'Caxton Cluster CA');
  assert.ok(d.daysLeft >= 3649 && d.daysLeft <= 3650, `daysLeft ${d.daysLeft}`);
  assert.equal(d.isCa, true);
  const pki = new x509.X509Certificate(ca.certPem);
  const bc = pki.getExtension(x509.BasicConstraintsExtension);
  assert.equal(bc?.ca, true);
  assert.equal(bc?.critical, true);
  const ku = pki.getExtension(x509.KeyUsagesExtension);
  assert.equal(ku?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
});

test('pki - a node certificate chains to its CA, names the node and serves both ends of mTLS', async () => {
  const ca = await createCa({ commonName: 'test CA' });
  const node = await issueNodeCert(ca, { nodeId: 'node-1', sans: ['node-1.example', '127.0.0.2', '::1'] });
  const cert = new X509Certificate(node.certPem);
  const caCert = new X509Certificate(ca.certPem);
  assert.ok(cert.checkIssued(caCert));
  assert.ok(cert.verify(caCert.publicKey));
  assert.equal(cert.ca, false);
  assert.ok(cert.checkPrivateKey(createPrivateKey(node.keyPem)));
  assert.deepEqual(ekus(node.certPem).sort(), [SERVER_AUTH, CLIENT_AUTH].sort());
  const d = describeCert(node.certPem);
  assert.equal(d.commonName, 'node-1');
  assert.equal(d.issuer, 'CN=test CA');
  assert.deepEqual(d.sans, ['DNS:node-1', 'DNS:node-1.example', 'IP:127.0.0.2', 'IP:0:0:0:0:0:0:0:1']);
  assert.equal(d.serial, node.serial);
  assert.equal(d.fingerprint, node.fingerprint);
  assert.match(d.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.ok(d.daysLeft >= 364 && d.daysLeft <= 365, `daysLeft ${d.daysLeft}`);
  assert.equal(cert.checkHost('node-1'), 'node-1');
  assert.equal(cert.checkIP('127.0.0.2'), '127.0.0.2');
  // The key signs what the certificate's public key verifies.
  const sig = createSign('sha256').update('x').sign(node.keyPem);
  assert.ok(createVerify('sha256').update('x').verify(cert.publicKey, sig));
});

test('pki - a node id given again as a SAN is listed once', async () => {
  const ca = await createCa();
  const node = await issueNodeCert(ca, { nodeId: 'n1', sans: ['n1', 'N1'] });
  assert.deepEqual(describeCert(node.certPem).sans, ['DNS:n1']);
});

test('pki - a client certificate carries its name in CN, its role in OU and is for clients only', async () => {
  const ca = await createCa();
  const client = await issueClientCert(ca, { name: 'alice@ops', role: 'operator' });
  const cert = new X509Certificate(client.certPem);
  assert.ok(cert.verify(new X509Certificate(ca.certPem).publicKey));
  assert.deepEqual(ekus(client.certPem), [CLIENT_AUTH]);
  const d = describeCert(client.certPem);
  assert.equal(d.commonName, 'alice@ops');
  assert.equal(d.organizationalUnit, 'operator');
  assert.equal(clientRole(client.certPem), 'operator');
  assert.deepEqual(d.sans, []);
});

test('pki - an unknown role is refused with the list of roles', async () => {
  const ca = await createCa();
  await assert.rejects(issueClientCert(ca, { name: 'bob', role: 'root' }), (e: unknown) => {
    assert.ok(isCaxtonError(e, 'CAXTON_ERR_PKI_INPUT'));
    assert.match(e.message, /role "root" is not one of viewer, developer, operator, admin/);
    return true;
  });
});

test('pki - bad node ids, SANs and validities are refused before anything is issued', async () => {
  const ca = await createCa();
  const refused = async (p: Promise<unknown>, re: RegExp): Promise<void> => {
    await assert.rejects(p, (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_PKI_INPUT') && re.test(e.message));
  };
  await refused(issueNodeCert(ca, { nodeId: 'CN=x,O=y' }), /node id "CN=x,O=y" is not a node name/);
  await refused(issueNodeCert(ca, { nodeId: 'n1', sans: ['bad name'] }), /--san "bad name" is neither an IP address nor a DNS name/);
  await refused(issueNodeCert(ca, { nodeId: 'n1', days: 0 }), /validity of 0 days/);
  await refused(issueNodeCert(ca, { nodeId: 'n1', days: 1.5 }), /validity of 1.5 days/);
  await refused(issueClientCert(ca, { name: 'a,b', role: 'viewer' }), /client name "a,b" is not a key name/);
  await refused(createCa({ commonName: 'a=b' }), /CA common name/);
});

test('pki - serials are random and differ between certificates', async () => {
  const ca = await createCa();
  const serials = new Set<string>();
  for (let i = 0; i < 5; i++) serials.add((await issueNodeCert(ca, { nodeId: 'n1' })).serial);
  assert.equal(serials.size, 5);
  for (const s of serials) assert.match(s, /^[0-7][0-9A-F]{31}$/);
});

test('pki - a certificate from another CA does not check as issued by this one', async () => {
  const ca = await createCa();
  const other = await createCa();
  const node = await issueNodeCert(other, { nodeId: 'n1' });
  const cert = new X509Certificate(node.certPem);
  const caCert = new X509Certificate(ca.certPem);
  // Same subject name on both CAs: the authority key identifier tells them apart, and the signature too.
  assert.equal(cert.issuer, caCert.subject);
  assert.equal(cert.checkIssued(caCert), false);
  assert.equal(cert.verify(caCert.publicKey), false);
  const otherName = await createCa({ commonName: 'Other CA' });
  assert.equal(new X509Certificate((await issueNodeCert(otherName, { nodeId: 'n1' })).certPem).checkIssued(caCert), false);
});

test('pki - validity starts a little before the moment of issue and can be placed in the past', async () => {
  const ca = await createCa();
  const from = new Date(Date.now() - 10 * 86_400_000);
  const node = await issueNodeCert(ca, { nodeId: 'n1', days: 3, validFrom: from });
  const d = describeCert(node.certPem);
  assert.ok(d.daysLeft < 0, `expired: ${d.daysLeft}`);
  assert.equal(new Date(d.notBefore).getTime(), Math.floor((from.getTime() - 5 * 60_000) / 1000) * 1000);
});

test('pki - describeCert refuses text that is not a certificate', () => {
  assert.throws(() => describeCert('hello'), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_TLS_CERT') && /not a PEM certificate/.test(e.message));
  assert.throws(() => describeCert('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_TLS_CERT') && /not a valid certificate/.test(e.message));
});

test('pki - a CA key that is not PKCS#8 P-256 is refused when issuing', async () => {
  const ca = await createCa();
  await assert.rejects(issueNodeCert({ certPem: ca.certPem, keyPem: 'nope' }, { nodeId: 'n1' }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_TLS_CERT') && /PKCS#8/.test(e.message));
  const pub = createPublicKey(ca.keyPem).export({ type: 'spki', format: 'pem' }).toString().replaceAll('PUBLIC KEY', 'PRIVATE KEY');
  await assert.rejects(issueNodeCert({ certPem: ca.certPem, keyPem: pub }, { nodeId: 'n1' }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_TLS_CERT') && /not an ECDSA P-256 private key/.test(e.message));
});

test('pki - writePemFile writes keys 0600, certificates 0644, and replaces a file only with force', () => {
  const dir = tempDir();
  try {
    const key = join(dir.path, 'a.key');
    const crt = join(dir.path, 'a.crt');
    writePemFile(key, 'KEY\n', { secret: true });
    writePemFile(crt, 'CERT\n');
    assert.equal(statSync(key).mode & 0o777, 0o600);
    assert.equal(statSync(crt).mode & 0o777, 0o644);
    assert.throws(() => writePemFile(key, 'NEW\n', { secret: true }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_TLS_FILE') && e.message === `${key}: the file exists already; pass --force to replace it`);
    assert.equal(readFileSync(key, 'utf8'), 'KEY\n');
    // A wider existing file is replaced by a 0600 one, not written into.
    const wide = join(dir.path, 'wide.key');
    writeFileSync(wide, 'OLD\n', { mode: 0o644 });
    writePemFile(wide, 'NEW\n', { secret: true, force: true });
    assert.equal(readFileSync(wide, 'utf8'), 'NEW\n');
    assert.equal(statSync(wide).mode & 0o777, 0o600);
    const ro = join(dir.path, 'ro');
    mkdirSync(ro, { mode: 0o500 });
    if (process.getuid?.() !== 0) {
      assert.throws(() => writePemFile(join(ro, 'x.key'), 'K\n', { secret: true }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_TLS_FILE') && /x\.key: cannot write: EACCES/.test(e.message));
    }
  } finally {
    dir.cleanup();
  }
});
