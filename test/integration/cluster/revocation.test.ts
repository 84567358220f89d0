/**
 * Certificate revocation (issue 13; docs/security.md, "Revocation") with real `caxton server start`
 * processes on loopback and mTLS on: node-3 is revoked through node-1's CLI; node-1 and node-2 close
 * their link connections to it and refuse its next handshake, each with a log line, while they keep
 * serving each other; the list is on every node and survives a restart; a test-side TLS client
 * presenting the revoked certificate is refused; node-3 comes back with a re-issued certificate; a node
 * that joins afterwards is sent the list. And the
 * API (security.api.tls with client certificates) answers a revoked client certificate 403
 * CAXTON_ERR_CERT_REVOKED, with an audit entry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import tls from 'node:tls';
import { createCa, describeCert, issueClientCert, issueNodeCert, writePemFile, type CaMaterial } from '../../../src/security/pki.js';
import { LINK_MAGIC, LINK_VERSION, NONCE_BYTES, encodeHello } from '../../../src/cluster/link/frame.js';
import { api, runCli, startServer, type RunningServer } from '../../helpers/server.js';
import { startServerCluster } from '../../helpers/server-cluster.js';
import { until } from '../../helpers/until.js';
import { agentWasm } from '../../helpers/agents.js';
import { tempDir } from '../../helpers/tmp.js';

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const readPem = (p: string) => readFileSync(p, 'utf8');

interface Files {
  crt: string;
  key: string;
  serial: string;
}

async function issue(ca: CaMaterial, dir: string, file: string, nodeId: string): Promise<Files> {
  const c = await issueNodeCert(ca, { nodeId });
  const crt = join(dir, `${file}.crt`);
  const key = join(dir, `${file}.key`);
  writePemFile(crt, c.certPem);
  writePemFile(key, c.keyPem, { secret: true });
  return { crt, key, serial: describeCert(c.certPem).serial };
}

function mtlsArgs(caCrt: string, f: Files): string[] {
  return ['--set', 'security.cluster.mtls.enabled=true', '--set', `security.cluster.mtls.ca_cert=${caCrt}`, '--set', `security.cluster.mtls.node_cert=${f.crt}`, '--set', `security.cluster.mtls.node_key=${f.key}`];
}

function hello(name: string): Uint8Array {
  const h = encodeHello({ version: LINK_VERSION, proof: false, nonce: new Uint8Array(NONCE_BYTES), name });
  const out = new Uint8Array(1 + h.length);
  out[0] = LINK_MAGIC;
  out.set(h, 1);
  return out;
}

/** A test-side dialer from 127.0.0.1: TLS with `f`, then a Hello; resolves when the node ends it. */
function tlsDial(host: string, port: number, ca: string, f: Files, name: string): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({ host, port, ca, cert: readPem(f.crt), key: readPem(f.key), minVersion: 'TLSv1.3', rejectUnauthorized: false }, () => s.write(hello(name)));
    s.on('error', (e) => resolve(`error: ${e.message}`));
    s.on('close', () => resolve('closed'));
    s.on('data', () => undefined);
    setTimeout(() => s.destroy(), 5000).unref();
  });
}

async function roundTrip(from: RunningServer, receiver: string, fromName: string): Promise<void> {
  await until(`${receiver} answers a request sent to ${fromName}`, async () => {
    const r = await api(from, 'POST', '/messages?wait_reply=true&timeout_ms=3000', { performative: 'request', receiver, content: 'ping' });
    return r.status === 200 && r.body.reply?.sender === receiver;
  }, 30_000);
}

test('cluster revocation - a revoked node is cut off and refused everywhere, the others keep serving, the list survives a restart, and a re-issued certificate lets it back', async (t) => {
  const dir = tempDir('caxton-revoke-');
  t.after(() => dir.cleanup());
  const ca = await createCa();
  const caCrt = join(dir.path, 'ca.crt');
  writePemFile(caCrt, ca.certPem);
  const certs = [await issue(ca, dir.path, 'node-1', 'node-1'), await issue(ca, dir.path, 'node-2', 'node-2'), await issue(ca, dir.path, 'node-3', 'node-3')];
  const old3 = certs[2] as Files;
  // nodeArgs reads `certs` at each start: node-3's restart below picks up its re-issued pair.
  const c = await startServerCluster({ size: 3, base: 191, nodeArgs: (i) => mtlsArgs(caCrt, certs[i] as Files) });
  const restarted: RunningServer[] = [];
  t.after(async () => {
    await c.stop();
    for (const s of restarted) s.cleanup();
  });
  const [n1, n2, n3] = c.nodes as [RunningServer, RunningServer, RunningServer];
  for (const n of [n2, n3]) await until(`node-1's admin key works on ${n.apiUrl}`, async () => (await api(n, 'GET', '/status', undefined, n1.adminKey)).status === 200);

  for (const [name, node] of [['echo-b', 'node-2'], ['echo-c', 'node-3']] as const) {
    const d = await api(n1, 'POST', '/agents', { name, module: b64(agentWasm('echo')), target_node: node }, n1.adminKey);
    assert.equal(d.status, 201, JSON.stringify(d.body));
  }
  // Every pair has a link connection up: node-1 and node-2 both talk to node-3.
  await roundTrip(n1, 'echo-b', 'node-1');
  await roundTrip(n1, 'echo-c', 'node-1');
  await roundTrip(n2, 'echo-c', 'node-2');

  const cli = await runCli(['security', 'revoke', '--node', 'node-3', '--reason', 'key lost', '--api-url', n1.apiUrl, '--api-key', n1.adminKey]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, new RegExp(`revoked node node-3 \\(serial ${old3.serial}\\)`));

  // node-1 and node-2 close their connections with node-3, naming it and "revoked".
  const closedLine = new RegExp(`cluster link: closed the link connection with 127\\.0\\.0\\.194:\\d+ \\(CN=node-3[^)]*\\): its certificate \\(serial ${old3.serial}\\) is revoked \\(key lost\\)`);
  for (const [n, name] of [[n1, 'node-1'], [n2, 'node-2']] as const) await until(`${name} logs closing its connection with node-3`, () => closedLine.test(n.logs()));
  // ... and refuse its next handshake (whichever side dials: a message to echo-c makes them try).
  const refusedLine = new RegExp(`(refused a TLS link connection from 127\\.0\\.0\\.194:\\d+ \\(CN=node-3[^)]*\\): its certificate \\(serial ${old3.serial}\\) is revoked|dial to node-3 refused: [^\\n]*its certificate \\(serial ${old3.serial}\\) is revoked)`);
  for (const [n, name] of [[n1, 'node-1'], [n2, 'node-2']] as const) {
    await until(`${name} refuses node-3's next handshake`, async () => {
      await api(n, 'POST', '/messages', { performative: 'inform', receiver: 'echo-c', content: 'knock' });
      return refusedLine.test(n.logs());
    }, 30_000, 500);
  }
  // node-1 and node-2 keep serving each other.
  await roundTrip(n1, 'echo-b', 'node-1');

  // The list is on every node, node-3's own included (the post reached it or its rejoin will).
  const listed = async (n: RunningServer) => {
    const r = await api(n, 'GET', '/security/revoked', undefined, n1.adminKey);
    return r.status === 200 && r.body.entries.some((e: { serial: string; node: string; reason: string }) => e.serial === old3.serial && e.node === 'node-3' && e.reason === 'key lost');
  };
  await until('node-2 lists node-3 as revoked', () => listed(n2));
  const listedJson = await runCli(['security', 'revoked', '-o', 'json', '--api-url', n2.apiUrl, '--api-key', n1.adminKey]);
  assert.equal(listedJson.code, 0, listedJson.stderr);
  assert.equal(JSON.parse(listedJson.stdout).entries[0].serial, old3.serial);

  // A test-side TLS client presenting the revoked certificate is refused, with the line naming it.
  const fromTest = new RegExp(`refused a TLS link connection from 127\\.0\\.0\\.1:\\d+ \\(CN=node-3[^)]*\\): its certificate \\(serial ${old3.serial}\\) is revoked`);
  assert.notEqual(await tlsDial(c.host(1), c.port, ca.certPem, old3, 'node-3'), 'open');
  await until('node-2 logs refusing the test client', () => fromTest.test(n2.logs()));

  // A restart of node-2 keeps the list and the refusal.
  assert.equal(await n2.stop(), 0);
  restarted.push(n2);
  const n2b = await c.start(1, { dataDir: n2.dataDir });
  assert.ok(await listed(n2b), 'the restarted node-2 still lists node-3');
  await tlsDial(c.host(1), c.port, ca.certPem, old3, 'node-3');
  await until('the restarted node-2 refuses the revoked certificate', () => fromTest.test(n2b.logs()));
  await roundTrip(n1, 'echo-b', 'node-1');

  // node-3 re-issued a certificate after the revocation and restarted with it: it is back.
  certs[2] = await issue(ca, dir.path, 'node-3-reissued', 'node-3');
  assert.equal(await n3.stop(), 0);
  restarted.push(n3);
  const n3b = await c.start(2, { dataDir: n3.dataDir });
  await roundTrip(n1, 'echo-c', 'node-1');
  await roundTrip(n2b, 'echo-c', 'node-2');
  await roundTrip(n3b, 'echo-b', 'node-3');

  // A node that joins after the revocation is sent the whole list by the members (anti-entropy on join).
  certs[3] = await issue(ca, dir.path, 'node-4', 'node-4');
  const n4 = await c.start(3);
  await until('node-4, joined after the revocation, lists node-3', () => listed(n4));
});

test('api revocation - a revoked client certificate gets 403 CAXTON_ERR_CERT_REVOKED, recorded in the audit log; another keeps working', async (t) => {
  const dir = tempDir('caxton-revoke-api-');
  t.after(() => dir.cleanup());
  const f = (name: string) => join(dir.path, name);
  const ca = await createCa();
  writePemFile(f('ca.crt'), ca.certPem);
  const pair = (issued: { certPem: string; keyPem: string }, name: string) => {
    writePemFile(f(`${name}.crt`), issued.certPem);
    writePemFile(f(`${name}.key`), issued.keyPem, { secret: true });
    return describeCert(issued.certPem).serial;
  };
  pair(await issueNodeCert(ca, { nodeId: 'test-node', sans: ['127.0.0.1'] }), 'api');
  pair(await issueClientCert(ca, { name: 'alice', role: 'admin' }), 'alice');
  const bobSerial = pair(await issueClientCert(ca, { name: 'bob', role: 'admin' }), 'bob');
  const s = await startServer({
    args: ['--set', 'security.api.tls.enabled=true', '--set', `security.api.tls.cert=${f('api.crt')}`, '--set', `security.api.tls.key=${f('api.key')}`, '--set', `security.api.tls.ca_cert=${f('ca.crt')}`, '--set', 'security.api.tls.client_auth=required'],
  });
  t.after(async () => {
    await s.stop();
    s.cleanup();
  });
  const call = (client: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> =>
    new Promise((resolve, reject) => {
      const text = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        `${s.apiUrl}/api/v1${path}`,
        { method, agent: false, ca: readFileSync(f('ca.crt')), cert: readFileSync(f(`${client}.crt`)), key: readFileSync(f(`${client}.key`)), headers: text === undefined ? {} : { 'content-type': 'application/json' } },
        (res) => {
          let out = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (out += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(out) }));
        },
      );
      req.on('error', reject);
      req.end(text);
    });

  assert.equal((await call('bob', 'GET', '/agents')).status, 200);
  // Bad requests name what is wrong, and revoke nothing.
  for (const [body, re] of [
    [{ serial: 'not-hex' }, /body\.serial must be a certificate serial number in hex/],
    [{ node: 'x', serial: 'AB' }, /give exactly one of node .* or serial/],
    [{}, /give exactly one of node .* or serial/],
    [{ node: 'test-node' }, /node test-node is the node asked: it cannot revoke itself/],
  ] as const) {
    const bad = await call('alice', 'POST', '/security/revoke', body);
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.equal(bad.body.error.code, 'CAXTON_ERR_API_INVALID_REQUEST');
    assert.match(bad.body.error.message, re);
  }
  assert.deepEqual((await call('alice', 'GET', '/security/revoked')).body.entries, []);
  const r = await call('alice', 'POST', '/security/revoke', { serial: bobSerial.toLowerCase(), reason: 'laptop stolen' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.revoked[0].serial, bobSerial);
  assert.match(r.body.revoked[0].revoked_by, /^certificate alice@/);

  const refused = await call('bob', 'POST', '/keys', { name: 'bob-key', role: 'viewer' });
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  assert.equal(refused.body.error.code, 'CAXTON_ERR_CERT_REVOKED');
  assert.match(refused.body.error.message, new RegExp(`client certificate "bob" is refused: its certificate \\(serial ${bobSerial}\\) is revoked \\(laptop stolen\\)`));
  assert.equal((await call('bob', 'GET', '/agents')).body.error.code, 'CAXTON_ERR_CERT_REVOKED');
  assert.equal((await call('alice', 'GET', '/agents')).status, 200);

  const audit = await call('alice', 'GET', '/audit');
  const entries = audit.body.entries as { actor: string; action: string; result: string; error_code: string | null; target: string | null }[];
  assert.ok(entries.some((e) => e.action === 'security.revoke' && e.actor === 'alice' && e.result === 'ok' && e.target === bobSerial.toLowerCase()), JSON.stringify(entries));
  assert.ok(entries.some((e) => e.action === 'key.create' && e.actor === 'bob' && e.error_code === 'CAXTON_ERR_CERT_REVOKED'), JSON.stringify(entries));
});
