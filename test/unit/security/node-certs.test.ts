/**
 * NodeCerts (src/security/node-certs.ts) on real files: a pushed node certificate is checked as at the
 * start and refused with nothing written, or written (key 0600) and reloaded; a reload of bad files
 * keeps the material in use; a file change reloads by itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/observability/logger.js';
import { createCa, issueNodeCert, writePemFile, type CaMaterial } from '../../../src/security/pki.js';
import { NodeCerts } from '../../../src/security/node-certs.js';
import type { LinkTlsMaterial } from '../../../src/cluster/transport/link-tls.js';
import { isCaxtonError } from '../../../src/errors.js';
import { tempDir } from '../../helpers/tmp.js';
import { until } from '../../helpers/until.js';

const DAY = 86_400_000;

async function setup(t: { after(fn: () => void): void }) {
  const dir = tempDir('caxton-nodecerts-');
  t.after(() => dir.cleanup());
  const ca = await createCa();
  const files = { caCert: join(dir.path, 'ca.crt'), nodeCert: join(dir.path, 'node-1.crt'), nodeKey: join(dir.path, 'node-1.key') };
  writePemFile(files.caCert, ca.certPem);
  const first = await issueNodeCert(ca, { nodeId: 'node-1' });
  writePemFile(files.nodeKey, first.keyPem, { secret: true });
  writePemFile(files.nodeCert, first.certPem);
  let text = '';
  const logger = createLogger({ level: 'info', destination: new Writable({ write: (c: Buffer, _e, cb) => ((text += c.toString()), cb()) }) });
  // What the link was handed: the material a new connection would use.
  const applied: LinkTlsMaterial[] = [];
  const certs = new NodeCerts({ nodeId: 'node-1', logger, link: { files, cert: first.certPem, apply: (m) => applied.push(m) }, debounceMs: 100 });
  t.after(() => certs.close());
  return { dir: dir.path, ca, files, first, certs, applied, logs: () => text };
}

async function refusal(certs: NodeCerts, ca: CaMaterial, opts: { nodeId?: string; validFrom?: Date; days?: number; otherKey?: boolean }): Promise<string> {
  const c = await issueNodeCert(ca, { nodeId: opts.nodeId ?? 'node-1', ...(opts.validFrom === undefined ? {} : { validFrom: opts.validFrom }), ...(opts.days === undefined ? {} : { days: opts.days }) });
  const key = opts.otherKey === true ? (await issueNodeCert(ca, { nodeId: 'node-1' })).keyPem : c.keyPem;
  try {
    certs.installNodeCert(c.certPem, key);
  } catch (e) {
    assert.ok(isCaxtonError(e, 'CAXTON_ERR_TLS_CERT_REFUSED'), String(e));
    return e.message;
  }
  throw new Error('not refused');
}

test('node certs - a pushed certificate of another CA, for another node, expired, or with another key is refused and nothing is written', async (t) => {
  const s = await setup(t);
  const other = await createCa();
  assert.match(await refusal(s.certs, other, {}), /^node node-1 refused the new node certificate: the certificate was not issued by the CA in /);
  assert.match(await refusal(s.certs, s.ca, { nodeId: 'node-2' }), /the certificate is for CN "node-2" and DNS node-2, not for this node "node-1"/);
  assert.match(await refusal(s.certs, s.ca, { validFrom: new Date(Date.now() - 10 * DAY), days: 2 }), /the certificate \(node certificate\) expired on /);
  assert.match(await refusal(s.certs, s.ca, { otherKey: true }), /the key is not the private key of the certificate sent with it/);
  assert.equal(readFileSync(s.files.nodeCert, 'utf8'), s.first.certPem);
  assert.equal(readFileSync(s.files.nodeKey, 'utf8'), s.first.keyPem);
  assert.deepEqual(readdirSync(s.dir).sort(), ['ca.crt', 'node-1.crt', 'node-1.key'], 'no temporary file is left');
  assert.equal(s.applied.length, 0);
  assert.equal(s.certs.view().cert?.fingerprint, s.first.fingerprint);
});

test('node certs - a good pushed certificate is written (key 0600) and handed to the link; its view is the new one', async (t) => {
  const s = await setup(t);
  const c = await issueNodeCert(s.ca, { nodeId: 'node-1', sans: ['10.0.0.5'] });
  const v = s.certs.installNodeCert(c.certPem, c.keyPem);
  assert.equal(v.fingerprint, c.fingerprint);
  assert.equal(readFileSync(s.files.nodeCert, 'utf8'), c.certPem);
  assert.equal(readFileSync(s.files.nodeKey, 'utf8'), c.keyPem);
  assert.equal(statSync(s.files.nodeKey).mode & 0o777, 0o600);
  assert.deepEqual(s.applied.map((m) => m.cert), [c.certPem]);
  assert.equal(s.certs.view().cert?.fingerprint, c.fingerprint);
  assert.deepEqual(s.certs.view().cert?.sans, ['DNS:node-1', 'IP:10.0.0.5']);
  assert.match(s.logs(), new RegExp(`"fingerprint":"${c.fingerprint}".*certificate reloaded`));
});

test('node certs - a reload of a bad file keeps the material in use and names the file; a changed file reloads by itself', async (t) => {
  const s = await setup(t);
  writePemFile(s.files.nodeCert, 'not a certificate\n', { force: true });
  const r = s.certs.reload('SIGHUP');
  assert.equal(r.link?.result, 'refused');
  assert.match(s.logs(), new RegExp(`certificate reload refused: ${s.files.nodeCert}: \\(node certificate\\) is not a PEM certificate`));
  assert.equal(s.applied.length, 0);
  assert.equal(s.certs.view().cert?.fingerprint, s.first.fingerprint);

  s.certs.watch();
  const c = await issueNodeCert(s.ca, { nodeId: 'node-1' });
  writePemFile(s.files.nodeKey, c.keyPem, { secret: true, force: true });
  writePemFile(s.files.nodeCert, c.certPem, { force: true });
  await until('the watcher reloads the new pair', async () => s.certs.view().cert?.fingerprint === c.fingerprint, 10_000, 50);
  assert.deepEqual(s.applied.map((m) => m.cert), [c.certPem], 'handed over once, as a pair');
});
