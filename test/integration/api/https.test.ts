/**
 * The REST API over HTTPS (security.api.tls), against real server processes on loopback: API keys over
 * TLS, client certificates required or optional (a verified certificate's OU is its role), the audit
 * log naming a certificate's CN, the CLI's --ca-cert/--client-cert/--client-key, a refused start for a
 * bad file, and openssl s_client as the outside check of the TLS 1.3 handshake.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { type CaMaterial, createCa, issueClientCert, issueNodeCert, writePemFile } from '../../../src/security/pki.js';
import { outsideTool } from '../../helpers/outside-tools.js';
import { type RunningServer, runCli, startServer } from '../../helpers/server.js';
import { tempDir } from '../../helpers/tmp.js';

const dir = tempDir('caxton-https-');
const openssl = outsideTool('openssl');
const servers: RunningServer[] = [];
test.after(async () => {
  for (const s of servers) {
    await s.stop();
    s.cleanup();
  }
  dir.cleanup();
});

const f = (name: string) => join(dir.path, name);
let ca: CaMaterial;

async function writePair(issued: { certPem: string; keyPem: string }, name: string): Promise<void> {
  writePemFile(f(`${name}.crt`), issued.certPem);
  writePemFile(f(`${name}.key`), issued.keyPem, { secret: true });
}

test.before(async () => {
  ca = await createCa();
  const other = await createCa();
  writePemFile(f('ca.crt'), ca.certPem);
  // The API's certificate names the address the clients use (an IP SAN).
  await writePair(await issueNodeCert(ca, { nodeId: 'test-node', sans: ['127.0.0.1'] }), 'api');
  await writePair(await issueClientCert(ca, { name: 'alice', role: 'operator' }), 'alice');
  await writePair(await issueClientCert(other, { name: 'mallory', role: 'admin' }), 'mallory');
});

function tlsArgs(clientAuth: 'none' | 'optional' | 'required', extra: string[] = []): string[] {
  return [
    '--set', 'security.api.tls.enabled=true',
    '--set', `security.api.tls.cert=${f('api.crt')}`,
    '--set', `security.api.tls.key=${f('api.key')}`,
    '--set', `security.api.tls.ca_cert=${f('ca.crt')}`,
    '--set', `security.api.tls.client_auth=${clientAuth}`,
    ...extra,
  ];
}

async function start(clientAuth: 'none' | 'optional' | 'required', extra: string[] = []): Promise<RunningServer> {
  const s = await startServer({ args: tlsArgs(clientAuth, extra) });
  servers.push(s);
  return s;
}

interface Call {
  apiKey?: string;
  /** A client pair's base name in the temp dir (alice, mallory). */
  client?: string;
  body?: unknown;
  /** Trust the test CA (default true). */
  ca?: boolean;
}

/** One HTTPS request through node:https with the given trust and client certificate. */
function call(server: RunningServer, method: string, path: string, opts: Call = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (opts.apiKey !== undefined) headers['authorization'] = `Bearer ${opts.apiKey}`;
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const req = request(`${server.apiUrl}/api/v1${path}`, {
      method,
      headers,
      agent: false,
      ...(opts.ca === false ? {} : { ca: readFileSync(f('ca.crt')) }),
      ...(opts.client === undefined ? {} : { cert: readFileSync(f(`${opts.client}.crt`)), key: readFileSync(f(`${opts.client}.key`)) }),
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function refusedWith(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return String((e as NodeJS.ErrnoException).code ?? (e as Error).message);
  }
  assert.fail('the request was answered');
}

test('api https - an API key works over HTTPS with the CA, fetch without it and plain HTTP are refused', async () => {
  const s = await start('none');
  assert.match(s.apiUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
  const ok = await call(s, 'GET', '/agents', { apiKey: s.adminKey });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal((await call(s, 'GET', '/agents')).status, 401, 'TLS does not replace the API key when no client certificate is asked for');
  // fetch with only the system's CAs does not trust a private CA.
  const untrusted = await fetch(`${s.apiUrl}/api/v1/health`).then(() => 'answered', (e: Error & { cause?: { code?: string } }) => e.cause?.code ?? e.message);
  assert.match(untrusted, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
  const plain = await fetch(s.apiUrl.replace('https:', 'http:') + '/api/v1/health').then((r) => r.status, () => 'refused');
  assert.notEqual(plain, 200, 'plain HTTP is not served on the HTTPS port');
});

test('api https - the CLI talks HTTPS with --ca-cert and an API key, and says what to do without the CA', async () => {
  const s = servers[0] ?? (await start('none'));
  const empty = join(dir.path, 'no-data');
  mkdirSync(empty, { recursive: true });
  const ok = await runCli(['agent', 'list', '--api-url', s.apiUrl, '--ca-cert', f('ca.crt'), '--api-key', s.adminKey, '-o', 'json'], { dataDir: empty });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((JSON.parse(ok.stdout) as { total: number }).total, 0, ok.stdout);
  // The environment variable works as the flag does.
  const viaEnv = await runCli(['agent', 'list', '--api-url', s.apiUrl, '-o', 'json'], { dataDir: empty, env: { CAXTON_CA_CERT: f('ca.crt'), CAXTON_API_KEY: s.adminKey } });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  const noCa = await runCli(['agent', 'list', '--api-url', s.apiUrl, '--api-key', s.adminKey], { dataDir: empty });
  assert.equal(noCa.code, 1);
  assert.match(noCa.stderr, /hint: .*--ca-cert/);
  const onHttp = await runCli(['agent', 'list', '--api-url', 'http://127.0.0.1:1', '--ca-cert', f('ca.crt')], { dataDir: empty });
  assert.equal(onHttp.code, 2, onHttp.stderr);
  assert.match(onHttp.stderr, /are for an https:\/\/ API/);
});

test('api https - client_auth required: no certificate, or one of another CA, is refused in the TLS handshake', async () => {
  const s = await start('required', ['--set', `observability.audit.path=${f('audit.jsonl')}`]);
  const a = await refusedWith(call(s, 'GET', '/agents', { apiKey: s.adminKey }));
  const b = await refusedWith(call(s, 'GET', '/health', { client: 'mallory' }));
  assert.match(a, /CERTIFICATE_REQUIRED|ECONNRESET/);
  assert.match(b, /UNKNOWN_CA|BAD_CERTIFICATE|DECRYPT_ERROR|ECONNRESET/);
  // The node says why, and keeps serving.
  const refusal = s.logs().split('\n').find((l) => l.includes('"msg":"TLS handshake refused"'));
  assert.ok(refusal !== undefined, s.logs());
  assert.match(refusal, /"remote":"127\.0\.0\.1:\d+","code":"ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE","reason":"peer did not return a certificate"/);
  // A TLS 1.2 client is refused whatever it presents: the API is TLS 1.3 only.
  const old = connect({ host: '127.0.0.1', port: Number(new URL(s.apiUrl).port), ca: readFileSync(f('ca.crt')), cert: readFileSync(f('alice.crt')), key: readFileSync(f('alice.key')), maxVersion: 'TLSv1.2' });
  const tls12 = await new Promise<string>((resolve) => {
    old.once('secureConnect', () => resolve('connected'));
    old.once('error', (e: NodeJS.ErrnoException) => resolve(String(e.code)));
  });
  old.destroy();
  assert.match(tls12, /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|WRONG_VERSION/);
});

test('api https - a client certificate with role operator acts as operator without a key, and the audit log names it', async () => {
  const s = servers.find((x) => x.logs().includes('"clientAuth":"required"'));
  assert.ok(s !== undefined, 'the client_auth required server runs');
  assert.equal((await call(s, 'GET', '/agents', { client: 'alice' })).status, 200);
  const drained = await call(s, 'POST', '/queue/drain', { client: 'alice', body: { timeout_ms: 1000 } });
  assert.equal(drained.status, 200, JSON.stringify(drained.body));
  const admin = await call(s, 'POST', '/keys', { client: 'alice', body: { name: 'x', role: 'viewer' } });
  assert.equal(admin.status, 403);
  assert.equal(admin.body.error.code, 'CAXTON_ERR_API_FORBIDDEN');
  assert.match(admin.body.error.message, /client certificate "alice" has role operator/);
  // An API key, when sent, wins over the certificate.
  const withKey = await call(s, 'GET', '/keys', { client: 'alice', apiKey: s.adminKey });
  assert.equal(withKey.status, 200);
  const lines = readFileSync(f('audit.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines.map((l) => [l['action'], l['actor'], l['actor_kind'], l['result'], l['status']]), [
    ['queue.drain', 'alice', 'cert', 'ok', 200],
    ['key.create', 'alice', 'cert', 'error', 403],
  ]);
});

test('api https - the CLI presents a client certificate: operator routes work without a key, admin ones are refused', async () => {
  const s = servers.find((x) => x.logs().includes('"clientAuth":"required"'));
  assert.ok(s !== undefined);
  const empty = join(dir.path, 'no-data');
  mkdirSync(empty, { recursive: true });
  const tls = ['--api-url', s.apiUrl, '--ca-cert', f('ca.crt'), '--client-cert', f('alice.crt'), '--client-key', f('alice.key')];
  const ok = await runCli(['agent', 'list', ...tls, '-o', 'json'], { dataDir: empty });
  assert.equal(ok.code, 0, ok.stderr);
  const keys = await runCli(['key', 'list', ...tls], { dataDir: empty });
  assert.equal(keys.code, 1);
  assert.match(keys.stderr, /error: the client certificate's role may not do this: client certificate "alice" has role operator/);
  assert.match(keys.stderr, /hint: .*gen-client-cert --role admin/);
  const noCert = await runCli(['agent', 'list', '--api-url', s.apiUrl, '--ca-cert', f('ca.crt'), '--api-key', s.adminKey], { dataDir: empty });
  assert.equal(noCert.code, 1);
  assert.match(noCert.stderr, /hint: .*--client-cert/);
  // A client key others can read is refused before anything is sent, naming the file.
  chmodSync(f('alice.key'), 0o644);
  try {
    const loose = await runCli(['agent', 'list', ...tls], { dataDir: empty });
    assert.equal(loose.code, 1);
    assert.match(loose.stderr, /alice\.key: \(client private key, --client-key or CAXTON_CLIENT_KEY\) has mode 0644/);
  } finally {
    chmodSync(f('alice.key'), 0o600);
  }
});

test('api https - client_auth optional: a key without a certificate works, a certificate without a key too, neither is 401', async () => {
  const s = await start('optional');
  assert.equal((await call(s, 'GET', '/agents', { apiKey: s.adminKey })).status, 200);
  assert.equal((await call(s, 'GET', '/agents', { client: 'alice' })).status, 200);
  assert.equal((await call(s, 'GET', '/agents')).status, 401);
  // A certificate of another CA connects (optional), but authenticates nothing.
  assert.equal((await call(s, 'GET', '/agents', { client: 'mallory' })).status, 401);
});

test('api https - openssl s_client completes a TLS 1.3 handshake with a client certificate', { skip: openssl.skip }, async () => {
  const s = servers.find((x) => x.logs().includes('"clientAuth":"required"'));
  assert.ok(s !== undefined);
  const r = spawnSync(openssl.path!, ['s_client', '-tls1_3', '-cert', f('alice.crt'), '-key', f('alice.key'), '-CAfile', f('ca.crt'), '-connect', new URL(s.apiUrl).host], { input: '', encoding: 'utf8', timeout: 20_000 });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.match(out, /TLSv1\.3/, out);
  assert.match(out, /Verify return code: 0 \(ok\)/, out);
});

test('api https - the node refuses to start on a bad file, naming it', async () => {
  chmodSync(f('api.key'), 0o644);
  try {
    await assert.rejects(startServer({ args: tlsArgs('none') }), (e: Error) => {
      assert.match(e.message, /api\.key: \(API private key\) has mode 0644, readable beyond its owner; run chmod 600/);
      return true;
    });
  } finally {
    chmodSync(f('api.key'), 0o600);
  }
  await assert.rejects(startServer({ args: [...tlsArgs('none'), '--set', `security.api.tls.cert=${f('nope.crt')}`] }), /nope\.crt: \(API certificate\) does not exist/);
  // The client CA must be a CA: alice's certificate is not one.
  await assert.rejects(startServer({ args: [...tlsArgs('required'), '--set', `security.api.tls.ca_cert=${f('alice.crt')}`] }), /alice\.crt: is not a CA certificate/);
  await assert.rejects(startServer({ args: [...tlsArgs('none'), '--set', `security.api.tls.key=${f('alice.key')}`] }), /alice\.key: is not the private key of the certificate .*api\.crt/);
});
