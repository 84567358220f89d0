/**
 * Certificate reload and rotation without a restart (issue 13, deliver 1 and 3; docs/security.md,
 * "Reloading certificates", "cert-status", "rotate-certs"), on real `caxton server start` processes
 * with mTLS between nodes: `cert-status` with its 30-day warning, a reload on SIGHUP, a bad new file
 * refused while the old certificate stays, a reload when the files change, and `rotate-certs` under
 * at-least-once cross-node traffic with every message counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, renameSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { createCa, issueNodeCert, writePemFile, type CaMaterial } from '../../../src/security/pki.js';
import { caPaths } from '../../../src/security/ca-files.js';
import { api, runCli, type RunningServer } from '../../helpers/server.js';
import { startServerCluster, type ServerCluster } from '../../helpers/server-cluster.js';
import { until } from '../../helpers/until.js';
import { agentWasm } from '../../helpers/agents.js';
import { tempDir } from '../../helpers/tmp.js';

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

interface Files {
  crt: string;
  key: string;
}

async function issueInto(ca: CaMaterial, dir: string, nodeId: string, days?: number): Promise<Files & { fingerprint: string }> {
  const c = await issueNodeCert(ca, { nodeId, sans: ['127.0.0.1'], ...(days === undefined ? {} : { days }) });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const crt = join(dir, `${nodeId}.crt`);
  const key = join(dir, `${nodeId}.key`);
  writePemFile(key, c.keyPem, { secret: true, force: true });
  writePemFile(crt, c.certPem, { force: true });
  return { crt, key, fingerprint: c.fingerprint };
}

function mtlsArgs(caCrt: string, f: Files): string[] {
  return ['--set', 'security.cluster.mtls.enabled=true', '--set', `security.cluster.mtls.ca_cert=${caCrt}`, '--set', `security.cluster.mtls.node_cert=${f.crt}`, '--set', `security.cluster.mtls.node_key=${f.key}`];
}

/** The fingerprint of the certificate a node's link serves to a new connection now (TLS to its gossip port). */
function servedFingerprint(host: string, port: number, caPem: string, client: Files): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, ca: caPem, cert: readFileSync(client.crt, 'utf8'), key: readFileSync(client.key, 'utf8'), minVersion: 'TLSv1.3', rejectUnauthorized: false }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.on('error', reject);
    setTimeout(() => s.destroy(new Error('no TLS handshake within 5 s')), 5000).unref();
  });
}

async function roundTrip(n1: RunningServer, receiver: string): Promise<void> {
  await until(`${receiver} on node-2 answers a request sent to node-1`, async () => {
    const r = await api(n1, 'POST', '/messages?wait_reply=true&timeout_ms=3000', { performative: 'request', receiver, content: 'ping' });
    return r.status === 200 && r.body.reply?.sender === receiver;
  });
}

function cli(n: RunningServer, args: string[]) {
  return runCli([...args, '--api-url', n.apiUrl, '--api-key', n.adminKey]);
}

async function nodeFingerprint(n: RunningServer, node: string): Promise<string | undefined> {
  const r = await api(n, 'GET', '/security/certs');
  return (r.body.nodes as { node: string; cert: { fingerprint: string } | null }[] | undefined)?.find((x) => x.node === node)?.cert?.fingerprint;
}

test('cert reload - cert-status warns under 30 days; SIGHUP reloads a new certificate (new connections use it, messages still flow); a file of another CA is refused and the old stays; a changed file reloads by itself', { timeout: 180_000 }, async (t) => {
  const dir = tempDir('caxton-certreload-');
  t.after(() => dir.cleanup());
  const ca = await createCa();
  const other = await createCa();
  const caCrt = join(dir.path, 'ca.crt');
  writePemFile(caCrt, ca.certPem);
  // node-2's files are reached through a symlinked directory, as a Kubernetes secret volume does: a
  // switch of the link changes no file in the watched directory, so only SIGHUP reloads it.
  const n1Files = await issueInto(ca, join(dir.path, 'n1'), 'node-1');
  const first = await issueInto(ca, join(dir.path, 'v1'), 'node-2', 10);
  const live = join(dir.path, 'node-2-certs');
  symlinkSync(join(dir.path, 'v1'), live);
  const n2Files = { crt: join(live, 'node-2.crt'), key: join(live, 'node-2.key') };
  const c: ServerCluster = await startServerCluster({ size: 2, base: 176, nodeArgs: (i) => mtlsArgs(caCrt, i === 0 ? n1Files : n2Files) });
  t.after(() => c.stop());
  const [n1, n2] = c.nodes as [RunningServer, RunningServer];
  await until('node-1 admin key works on node-2', async () => (await api(n2, 'GET', '/status', undefined, n1.adminKey)).status === 200);
  assert.equal((await api(n1, 'POST', '/agents', { name: 'echo-r', module: b64(agentWasm('echo')), target_node: 'node-2' })).status, 201);
  await roundTrip(n1, 'echo-r');

  // cert-status: every node's certificate, and the runbook's warning for node-2's (10 days).
  const st = await cli(n1, ['security', 'cert-status']);
  assert.equal(st.code, 1, st.stdout + st.stderr);
  assert.match(st.stdout, /^NODE\s+CERT\s+SUBJECT\s+ISSUER\s+NOT-AFTER\s+DAYS-LEFT\s+FINGERPRINT$/m);
  assert.match(st.stdout, /^node-1\s+node\s+CN=node-1\s+CN=Caxton Cluster CA\s+\S+\s+36[45]\s+[0-9A-F:]{95}$/m);
  assert.match(st.stdout, new RegExp(`^node-2\\s+node\\s+CN=node-2\\s+CN=Caxton Cluster CA\\s+\\S+\\s+(9|10)\\s+${first.fingerprint}$`, 'm'));
  assert.match(st.stdout, /^WARNING: node-2 node certificate expires in (9|10) days \(not after /m);
  assert.doesNotMatch(st.stdout, /WARNING: node-1/);
  const sj = await cli(n1, ['security', 'cert-status', '-o', 'json']);
  assert.equal(sj.code, 1);
  const j = JSON.parse(sj.stdout) as { nodes: { node: string; cert: { fingerprint: string; days_left: number } }[]; missing: unknown[]; warnings: string[] };
  assert.deepEqual(j.nodes.map((n) => n.node).sort(), ['node-1', 'node-2']);
  assert.deepEqual(j.missing, []);
  assert.equal(j.warnings.length, 1);

  // SIGHUP: node-2 gets a 365-day certificate through the symlink switch, and only the signal reloads it.
  const second = await issueInto(ca, join(dir.path, 'v2'), 'node-2');
  symlinkSync(join(dir.path, 'v2'), `${live}.new`);
  renameSync(`${live}.new`, live);
  assert.equal(await servedFingerprint(c.host(1), c.port, ca.certPem, n1Files), first.fingerprint, 'no reload before the signal');
  process.kill(n2.pid, 'SIGHUP');
  await until('cert-status shows node-2 new fingerprint', async () => (await nodeFingerprint(n1, 'node-2')) === second.fingerprint);
  assert.match(n2.logs(), new RegExp(`"reason":"SIGHUP".*"fingerprint":"${second.fingerprint}".*"notAfter":"[^"]+".*certificate reloaded`));
  assert.equal(await servedFingerprint(c.host(1), c.port, ca.certPem, n1Files), second.fingerprint, 'a new connection gets the new certificate');
  await roundTrip(n1, 'echo-r');
  const ok = await cli(n1, ['security', 'cert-status']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.doesNotMatch(ok.stdout, /WARNING/);

  // A bad new file (another CA's certificate) written over the live one: refused, named, the old stays.
  const v2crt = join(dir.path, 'v2', 'node-2.crt');
  const v2key = join(dir.path, 'v2', 'node-2.key');
  const foreign = await issueNodeCert(other, { nodeId: 'node-2' });
  writePemFile(v2key, foreign.keyPem, { secret: true, force: true });
  writePemFile(v2crt, foreign.certPem, { force: true });
  process.kill(n2.pid, 'SIGHUP');
  await until('node-2 logs the refusal naming the file', async () => n2.logs().includes(`certificate reload refused: ${n2Files.crt}: was not issued by the CA in ${caCrt}`));
  assert.equal(await nodeFingerprint(n1, 'node-2'), second.fingerprint);
  assert.equal(await servedFingerprint(c.host(1), c.port, ca.certPem, n1Files), second.fingerprint, 'the old certificate is still served');
  await roundTrip(n1, 'echo-r');

  // A file change in a watched directory reloads by itself (node-1's, no signal).
  const n1New = await issueInto(ca, join(dir.path, 'n1'), 'node-1');
  await until('node-1 reloads its changed files', async () => (await nodeFingerprint(n2, 'node-1')) === n1New.fingerprint);
  assert.match(n1.logs(), /"reason":"files changed".*certificate reloaded/);
  assert.equal(await servedFingerprint(c.host(0), c.port, ca.certPem, n1New), n1New.fingerprint);
  await roundTrip(n1, 'echo-r');
});

test('rotate-certs - every node gets a new certificate, one at a time, while at-least-once increments cross nodes: none lost, none twice', { timeout: 180_000 }, async (t) => {
  const dir = tempDir('caxton-rotate-');
  t.after(() => dir.cleanup());
  const caDir = join(dir.path, 'ca');
  mkdirSync(caDir, { mode: 0o700 });
  const ca = await createCa();
  writePemFile(caPaths(caDir).key, ca.keyPem, { secret: true });
  writePemFile(caPaths(caDir).cert, ca.certPem);
  const files = [await issueInto(ca, join(dir.path, 'n1'), 'node-1'), await issueInto(ca, join(dir.path, 'n2'), 'node-2')];
  // The traffic below and rotate-certs' polling share node-1's admin key as fast as the node answers:
  // the API's rate limit (100/s) is not what this test is about.
  const c = await startServerCluster({ size: 2, base: 180, args: ['--set', 'security.api.rate_limit.enabled=false'], nodeArgs: (i) => mtlsArgs(caPaths(caDir).cert, files[i] as Files) });
  t.after(() => c.stop());
  const [n1, n2] = c.nodes as [RunningServer, RunningServer];
  const key = n1.adminKey;
  await until('node-1 admin key works on node-2', async () => (await api(n2, 'GET', '/status', undefined, key)).status === 200);
  const d = await api(n1, 'POST', '/agents', { name: 'counter-r', module: b64(agentWasm('counter')), target_node: 'node-2' }, key);
  assert.equal(d.status, 201, JSON.stringify(d.body));
  const get = async () => {
    const r = await api(n1, 'POST', '/messages?wait_reply=true&timeout_ms=5000', { performative: 'request', receiver: 'counter-r', content: { op: 'get' } }, key).catch(() => undefined);
    return r?.status === 200 && r.body.reply?.performative === 'inform' ? (r.body.reply.content as { count: number }).count : undefined;
  };
  await until('the counter answers from node-1', async () => (await get()) === 0);

  let sent = 0;
  let accepted = 0;
  const statuses: number[] = [];
  let rotating = true;
  const traffic = (async () => {
    // Bounded: at most 400 increments, and always 20 after the rotation finished.
    let after = 0;
    while (sent < 400 && (rotating || after < 20)) {
      if (!rotating) after++;
      sent++;
      const r = await api(n1, 'POST', '/messages?wait_reply=true&timeout_ms=10000', { performative: 'request', receiver: 'counter-r', delivery: 'at-least-once', content: { op: 'increment' } }, key).catch(() => undefined);
      statuses.push(r?.status ?? 0);
      if (r?.status === 200 && r.body.reply?.performative === 'inform') accepted++;
    }
  })();
  // Neither form of the CA given: a usage error, nothing rotated.
  const usage = await cli(n1, ['security', 'rotate-certs']);
  assert.equal(usage.code, 2, usage.stderr);
  assert.match(usage.stderr, /give the CA as --ca <dir>, or as --ca-cert <file> --ca-key <file>/);
  // The runbook's form: the CA certificate and key as two files (the API is http://: --ca-cert only issues).
  const rot = await cli(n1, ['security', 'rotate-certs', '--ca-cert', join(caDir, 'ca.crt'), '--ca-key', join(caDir, 'ca.key')]);
  rotating = false;
  await traffic;
  assert.equal(rot.code, 0, rot.stdout + rot.stderr);
  assert.match(rot.stdout, /^✓ node-1: new certificate in use, serial [0-9A-F]+, not after \S+, fingerprint [0-9A-F:]{95}$/m);
  assert.match(rot.stdout, /^✓ node-2: new certificate in use/m);
  assert.match(rot.stdout, /^✓ rotated 2 node certificates$/m);

  await until('node-1 has nothing left to redeliver', async () => (await api(n1, 'GET', '/status', undefined, key)).body.outbox_pending === 0, 60_000, 250);
  const final = await until('the counter answers', get, 30_000, 250);
  t.diagnostic(`increments sent ${sent}, accepted ${accepted}, final count ${final}`);
  assert.ok(sent > 20, `traffic ran during the rotation (${sent} sent)`);
  assert.deepEqual(statuses.filter((s) => s !== 200), [], 'every increment was answered');
  assert.equal(accepted, sent);
  assert.equal(final, accepted, `none lost, none twice (${sent} sent, ${accepted} accepted, count ${final})`);

  // The new certificates are in use, on disk (key 0600) and served to new connections.
  const after = await api(n1, 'GET', '/security/certs', undefined, key);
  for (const [i, f] of files.entries()) {
    const fp = (after.body.nodes as { node: string; cert: { fingerprint: string; sans: string[] } }[]).find((n) => n.node === c.name(i))?.cert;
    assert.notEqual(fp?.fingerprint, f.fingerprint, `${c.name(i)} has a new certificate`);
    assert.deepEqual(fp?.sans, [`DNS:${c.name(i)}`, 'IP:127.0.0.1'], 'the same names as before');
    assert.equal(await servedFingerprint(c.host(i), c.port, ca.certPem, files[1 - i] as Files).catch(() => 'no handshake'), fp?.fingerprint);
  }
  // The audit log of the node the CLI talked to records both pushes, with no key in it.
  const audit = await api(n1, 'GET', '/audit?action=security.node-cert', undefined, key);
  assert.deepEqual((audit.body.entries as { target: string; result: string }[]).map((e) => `${e.target} ${e.result}`), ['node-1 ok', 'node-2 ok']);
  assert.doesNotMatch(JSON.stringify(audit.body), /PRIVATE KEY|BEGIN/);
  // And a push the node refuses: a certificate of another CA, named.
  const other = await createCa();
  const bad = await issueNodeCert(other, { nodeId: 'node-2' });
  const refused = await api(n1, 'POST', '/security/node-cert', { node: 'node-2', cert: bad.certPem, key: bad.keyPem }, key);
  assert.equal(refused.status, 400, JSON.stringify(refused.body));
  assert.equal(refused.body.error.code, 'CAXTON_ERR_TLS_CERT_REFUSED');
  assert.match(refused.body.error.message, /node node-2 refused the new node certificate: the certificate was not issued by the CA/);
});
