/**
 * Node start with security.cluster.mtls (issue 13, deliver 2), through the real CLI: each bad file
 * stops `caxton server start` with an error naming the file and the problem, and a non-zero exit; a
 * node in a cluster without mTLS says in its log and in /cluster/status that node-to-node traffic is
 * not encrypted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createCa, issueNodeCert, writePemFile, type CaMaterial } from '../../../src/security/pki.js';
import { api, startServer } from '../../helpers/server.js';
import { freePort } from '../../unit/cluster/serf/serf-harness.js';
import { tempDir } from '../../helpers/tmp.js';

const DAY = 86_400_000;
const HOST = '127.0.0.170';

async function issue(ca: CaMaterial, dir: string, file: string, nodeId: string, validity: { validFrom?: Date; days?: number } = {}): Promise<{ crt: string; key: string }> {
  const c = await issueNodeCert(ca, { nodeId, ...validity });
  const crt = join(dir, `${file}.crt`);
  const key = join(dir, `${file}.key`);
  writePemFile(crt, c.certPem);
  writePemFile(key, c.keyPem, { secret: true });
  return { crt, key };
}

async function start(files: { ca: string; crt: string; key: string }, extra: readonly string[] = []): Promise<string> {
  const port = await freePort(HOST);
  const args = ['--bootstrap', '--bind-addr', `${HOST}:${port}`, '--node-id', 'node-1', '--set', 'security.cluster.mtls.enabled=true', '--set', `security.cluster.mtls.ca_cert=${files.ca}`, '--set', `security.cluster.mtls.node_cert=${files.crt}`, '--set', `security.cluster.mtls.node_key=${files.key}`, ...extra];
  const s = await startServer({ args }).then(
    async (running) => {
      await running.stop();
      running.cleanup();
      return undefined;
    },
    (e: Error) => e.message,
  );
  assert.notEqual(s, undefined, 'the server started with a bad TLS file');
  return s as string;
}

test('cluster mtls - server start refuses each bad TLS file with the file and the problem', async (t) => {
  const dir = tempDir('caxton-mtls-start-');
  t.after(() => dir.cleanup());
  const ca = await createCa();
  const other = await createCa();
  const caCrt = join(dir.path, 'ca.crt');
  writePemFile(caCrt, ca.certPem);
  const otherCrt = join(dir.path, 'other-ca.crt');
  writePemFile(otherCrt, other.certPem);
  const good = await issue(ca, dir.path, 'node-1', 'node-1');
  const expired = await issue(ca, dir.path, 'expired', 'node-1', { validFrom: new Date(Date.now() - 10 * DAY), days: 2 });
  const wrongNode = await issue(ca, dir.path, 'node-9', 'node-9');
  const foreign = await issue(other, dir.path, 'foreign', 'node-1');
  const another = await issue(ca, dir.path, 'another', 'node-1');
  const open = await issue(ca, dir.path, 'open', 'node-1');
  chmodSync(open.key, 0o644);
  const aDir = join(dir.path, 'a-directory.crt');
  mkdirSync(aDir);

  const cases: { what: string; files: { ca: string; crt: string; key: string }; file: string; problem: RegExp }[] = [
    { what: 'missing CA', files: { ca: join(dir.path, 'nope.crt'), crt: good.crt, key: good.key }, file: join(dir.path, 'nope.crt'), problem: /does not exist|missing/ },
    { what: 'unreadable certificate', files: { ca: caCrt, crt: aDir, key: good.key }, file: aDir, problem: /not a regular file|cannot be read|unreadable/ },
    { what: 'world-readable key', files: { ca: caCrt, crt: open.crt, key: open.key }, file: open.key, problem: /mode 0644, readable beyond its owner; run chmod 600/ },
    { what: 'expired certificate', files: { ca: caCrt, crt: expired.crt, key: expired.key }, file: expired.crt, problem: /expired/ },
    { what: 'not for this node', files: { ca: caCrt, crt: wrongNode.crt, key: wrongNode.key }, file: wrongNode.crt, problem: /not for this node "node-1"/ },
    { what: 'another CA', files: { ca: caCrt, crt: foreign.crt, key: foreign.key }, file: foreign.crt, problem: /was not issued by the CA/ },
    { what: 'the key of another certificate', files: { ca: caCrt, crt: good.crt, key: another.key }, file: another.key, problem: /is not the private key of the certificate/ },
  ];
  for (const c of cases) {
    const out = await start(c.files);
    assert.match(out, /server exited with [1-9]\d* before it started/, `${c.what}: a non-zero exit`);
    assert.ok(out.includes(c.file), `${c.what}: the error names ${c.file}:\n${out}`);
    assert.match(out, c.problem, `${c.what}:\n${out}`);
  }
  // verify_peer cannot be turned off under mTLS: it would accept any certificate.
  const vp = await start({ ca: caCrt, crt: good.crt, key: good.key }, ['--set', 'security.cluster.mtls.verify_peer=false']);
  assert.match(vp, /security\.cluster\.mtls\.verify_peer is false/);
});

test('cluster mtls - a node in a cluster without mTLS says node-to-node traffic is not encrypted (log and /cluster/status)', async (t) => {
  const port = await freePort('127.0.0.171');
  const s = await startServer({ args: ['--bootstrap', '--bind-addr', `127.0.0.171:${port}`, '--node-id', 'node-1'] });
  t.after(async () => {
    await s.stop();
    s.cleanup();
  });
  assert.match(s.logs(), /"level":40.*node-to-node traffic \(routing, replication, module transfer\) is not encrypted/);
  const st = await api(s, 'GET', '/cluster/status');
  assert.equal(st.body.mtls, false);
});
