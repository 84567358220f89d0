/**
 * `caxton security init-ca|gen-cert|gen-client-cert` through the real CLI (a child process, no
 * server), and openssl as the outside check that the chain they write is a standard one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { outsideTool } from '../helpers/outside-tools.js';
import { runCli } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('caxton-security-cli-');
test.after(() => dir.cleanup());
const openssl = outsideTool('openssl');

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

test('security cli - init-ca writes ca.crt and a 0600 ca.key in a 0700 directory and prints the fingerprint', async () => {
  const out = join(dir.path, 'ca1', 'nested');
  const r = await runCli(['security', 'init-ca', '--output', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(mode(join(out, 'ca.key')), 0o600);
  assert.equal(mode(join(out, 'ca.crt')), 0o644);
  assert.equal(mode(out), 0o700);
  const cert = new X509Certificate(readFileSync(join(out, 'ca.crt')));
  assert.ok(cert.ca);
  assert.ok(cert.checkPrivateKey(createPrivateKey(readFileSync(join(out, 'ca.key')))));
  assert.ok(r.stdout.includes(`fingerprint: SHA256 ${cert.fingerprint256}`), r.stdout);
  assert.ok(r.stdout.includes(`not after:   ${new Date(cert.validTo).toISOString()}`), r.stdout);
  const years = (new Date(cert.validTo).getTime() - Date.now()) / (365.25 * 86_400_000);
  assert.ok(years > 9.9 && years < 10.1, `valid ten years: ${years}`);
});

test('security cli - init-ca refuses to replace a CA without --force, and replaces it with it', async () => {
  const out = join(dir.path, 'ca2');
  assert.equal((await runCli(['security', 'init-ca', '--output', out, '--days', '30'])).code, 0);
  const before = readFileSync(join(out, 'ca.key'), 'utf8');
  const again = await runCli(['security', 'init-ca', '--output', out]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /error: .*ca2\/ca\.crt, .*ca2\/ca\.key: the files exist already; pass --force to replace them/);
  assert.match(again.stderr, /hint: .*--force/);
  assert.equal(readFileSync(join(out, 'ca.key'), 'utf8'), before, 'the old key is untouched');
  const json = await runCli(['security', 'init-ca', '--output', out, '--force', '-o', 'json']);
  assert.equal(json.code, 0, json.stderr);
  const body = JSON.parse(json.stdout) as Record<string, string>;
  assert.notEqual(readFileSync(join(out, 'ca.key'), 'utf8'), before);
  assert.equal(mode(join(out, 'ca.key')), 0o600);
  const cert = new X509Certificate(readFileSync(join(out, 'ca.crt')));
  assert.deepEqual(body, {
    ca_cert: join(out, 'ca.crt'), ca_key: join(out, 'ca.key'), subject: 'CN=Caxton Cluster CA', serial: cert.serialNumber.toUpperCase(),
    fingerprint: cert.fingerprint256, not_after: new Date(cert.validTo).toISOString(),
  });
});

test('security cli - init-ca names an output directory it cannot write', { skip: process.getuid?.() === 0 ? 'running as root, which writes anywhere' : false }, async () => {
  const ro = join(dir.path, 'ro');
  mkdirSync(ro, { mode: 0o500 });
  const r = await runCli(['security', 'init-ca', '--output', join(ro, 'ca'), '-o', 'json']);
  assert.equal(r.code, 1);
  const body = JSON.parse(r.stdout) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'CAXTON_ERR_TLS_FILE');
  assert.match(body.error.message, /ro\/ca: cannot create the output directory: EACCES/);
});

test('security cli - an output path that is a file is refused as not a directory', async () => {
  const file = join(dir.path, 'plain-file');
  writeFileSync(file, 'x');
  const r = await runCli(['security', 'init-ca', '--output', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /plain-file: cannot create the output directory: EEXIST|plain-file: the output is not a directory/);
});

test('security cli - gen-cert issues a node pair from the CA directory, with its SANs, as JSON too', async () => {
  const ca = join(dir.path, 'ca3');
  const out = join(dir.path, 'nodes3');
  assert.equal((await runCli(['security', 'init-ca', '--output', ca])).code, 0);
  const r = await runCli(['security', 'gen-cert', '--node-id', 'node-1', '--san', '127.0.0.2', '--san', 'node-1.example', '--ca', ca, '--output', out, '--days', '90', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const body = JSON.parse(r.stdout) as Record<string, unknown>;
  const crt = join(out, 'node-1.crt');
  const key = join(out, 'node-1.key');
  assert.equal(mode(key), 0o600);
  const cert = new X509Certificate(readFileSync(crt));
  const caCert = new X509Certificate(readFileSync(join(ca, 'ca.crt')));
  assert.ok(cert.checkIssued(caCert) && cert.verify(caCert.publicKey));
  assert.ok(cert.checkPrivateKey(createPrivateKey(readFileSync(key))));
  assert.deepEqual(body, {
    node_id: 'node-1', cert: crt, key, subject: 'CN=node-1', issuer: 'CN=Caxton Cluster CA', sans: ['DNS:node-1', 'IP:127.0.0.2', 'DNS:node-1.example'],
    serial: cert.serialNumber.toUpperCase(), fingerprint: cert.fingerprint256, not_after: new Date(cert.validTo).toISOString(),
  });
  const days = (new Date(cert.validTo).getTime() - Date.now()) / 86_400_000;
  assert.ok(days > 89.9 && days <= 90, `90 days: ${days}`);
  // Again without --force: refused, the pair untouched.
  const again = await runCli(['security', 'gen-cert', '--node-id', 'node-1', '--ca', ca, '--output', out]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /node-1\.crt, .*node-1\.key: the files exist already; pass --force/);
  assert.equal(new X509Certificate(readFileSync(crt)).fingerprint256, cert.fingerprint256);
});

test('security cli - gen-cert names a missing CA, a CA key others can read, a bad node id, and a pair that would replace the CA', async () => {
  const missing = await runCli(['security', 'gen-cert', '--node-id', 'n1', '--ca', join(dir.path, 'no-ca'), '--output', join(dir.path, 'x'), '-o', 'json']);
  assert.equal(missing.code, 1);
  const m = JSON.parse(missing.stdout) as { error: { code: string; message: string; hint: string; details: Record<string, unknown> } };
  assert.equal(m.error.code, 'CAXTON_ERR_TLS_FILE');
  assert.equal(m.error.message, `${join(dir.path, 'no-ca', 'ca.crt')}: (CA certificate) does not exist`);
  assert.match(m.error.hint, /--ca takes the directory where `caxton security init-ca --output DIR` wrote ca\.crt and ca\.key/);
  assert.equal(m.error.details['problem'], 'missing');

  const ca = join(dir.path, 'ca4');
  assert.equal((await runCli(['security', 'init-ca', '--output', ca])).code, 0);
  const bad = await runCli(['security', 'gen-cert', '--node-id', 'bad id', '--ca', ca, '--output', join(dir.path, 'x')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /error: node id "bad id" is not a node name/);

  // A node called "ca" written next to the CA would replace it: refused even with --force.
  const caKey = readFileSync(join(ca, 'ca.key'), 'utf8');
  const clash = await runCli(['security', 'gen-cert', '--node-id', 'ca', '--ca', ca, '--output', ca, '--force']);
  assert.equal(clash.code, 2);
  assert.match(clash.stderr, /error: .*ca4\/ca\.crt and .*ca4\/ca\.key are the CA's own files/);
  assert.equal(readFileSync(join(ca, 'ca.key'), 'utf8'), caKey);

  chmodSync(join(ca, 'ca.key'), 0o644);
  const wide = await runCli(['security', 'gen-cert', '--node-id', 'n1', '--ca', ca, '--output', join(dir.path, 'x')]);
  assert.equal(wide.code, 1);
  assert.match(wide.stderr, /ca4\/ca\.key: \(CA private key\) has mode 0644, readable beyond its owner; run chmod 600/);
});

test('security cli - gen-client-cert writes a client pair with the role in its OU, and refuses an unknown role', async () => {
  const ca = join(dir.path, 'ca5');
  const out = join(dir.path, 'clients5');
  assert.equal((await runCli(['security', 'init-ca', '--output', ca])).code, 0);
  const r = await runCli(['security', 'gen-client-cert', '--name', 'alice', '--role', 'operator', '--ca', ca, '--output', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /✓ client certificate for alice \(role operator\) written to /);
  assert.match(r.stdout, /subject: +CN=alice, OU=operator/);
  assert.equal(mode(join(out, 'alice.key')), 0o600);
  const cert = new X509Certificate(readFileSync(join(out, 'alice.crt')));
  assert.equal(cert.subject, 'CN=alice\nOU=operator');
  assert.ok(cert.verify(new X509Certificate(readFileSync(join(ca, 'ca.crt'))).publicKey));
  const bad = await runCli(['security', 'gen-client-cert', '--name', 'bob', '--role', 'root', '--ca', ca, '--output', out]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /argument 'root' is invalid\. Allowed choices are viewer, developer, operator, admin/);
});

test('security cli - openssl verifies the chain and reads a P-256 key, the SANs and the usages', { skip: openssl.skip }, async () => {
  const ca = join(dir.path, 'ca6');
  const out = join(dir.path, 'nodes6');
  assert.equal((await runCli(['security', 'init-ca', '--output', ca])).code, 0);
  assert.equal((await runCli(['security', 'gen-cert', '--node-id', 'node-7', '--san', '10.0.0.7', '--ca', ca, '--output', out])).code, 0);
  assert.equal((await runCli(['security', 'gen-client-cert', '--name', 'ops', '--role', 'admin', '--ca', ca, '--output', out])).code, 0);
  const run = (args: string[]): string => {
    const r = spawnSync(openssl.path!, args, { encoding: 'utf8' });
    assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  assert.match(run(['verify', '-CAfile', join(ca, 'ca.crt'), join(out, 'node-7.crt')]), /node-7\.crt: OK/);
  assert.match(run(['verify', '-CAfile', join(ca, 'ca.crt'), '-purpose', 'sslserver', join(out, 'node-7.crt')]), /: OK/);
  assert.match(run(['verify', '-CAfile', join(ca, 'ca.crt'), '-purpose', 'sslclient', join(out, 'node-7.crt')]), /: OK/);
  assert.match(run(['verify', '-CAfile', join(ca, 'ca.crt'), '-purpose', 'sslclient', join(out, 'ops.crt')]), /ops\.crt: OK/);
  const text = run(['x509', '-noout', '-text', '-in', join(out, 'node-7.crt')]);
  assert.match(text, /ASN1 OID: prime256v1/);
  assert.match(text, /NIST CURVE: P-256/);
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
  assert.match(text, /DNS:node-7, IP Address:10\.0\.0\.7/);
  assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
  assert.match(run(['x509', '-noout', '-text', '-in', join(ca, 'ca.crt')]), /CA:TRUE, pathlen:0/);
  assert.match(run(['x509', '-noout', '-subject', '-in', join(out, 'ops.crt')]), /subject=CN\s?=\s?ops, OU\s?=\s?admin/);
  // The key file is one openssl reads as the certificate's key.
  const pub = run(['pkey', '-in', join(out, 'node-7.key'), '-pubout']);
  assert.equal(pub, run(['x509', '-noout', '-pubkey', '-in', join(out, 'node-7.crt')]));
  // A certificate of another CA does not verify against this one.
  const other = join(dir.path, 'ca6-other');
  assert.equal((await runCli(['security', 'init-ca', '--output', other])).code, 0);
  const r = spawnSync(openssl.path!, ['verify', '-CAfile', join(other, 'ca.crt'), join(out, 'node-7.crt')], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
});

test('security cli - revoke takes exactly one of --node and --serial, before asking any node', async () => {
  for (const args of [[], ['--node', 'node-3', '--serial', 'AB01']]) {
    const r = await runCli(['security', 'revoke', ...args, '--api-url', 'http://127.0.0.1:9']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /error: give exactly one of --node or --serial/);
  }
});
