/**
 * The revocation list (src/security/revocation.ts) on a real SQLite database: which certificates it
 * refuses (a serial; a node's certificates issued before its revocation, not a re-issue after it),
 * merging as a union, a reopened database keeping the list, and peer rows that do not parse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { openDatabase } from '../../../src/storage/index.js';
import { createCa, issueNodeCert } from '../../../src/security/pki.js';
import { RevocationList, normalizeSerial, parseRevokedRows, type RevokedEntry } from '../../../src/security/revocation.js';
import { isCaxtonError } from '../../../src/errors.js';
import { tempDir } from '../../helpers/tmp.js';

const MIN = 60_000;

test('revocation list - a serial is refused whoever it names; a node is refused for certificates issued before its revocation, not after', async (t) => {
  const dir = tempDir('caxton-revocation-');
  t.after(() => dir.cleanup());
  const path = join(dir.path, 'caxton.db');
  const ca = await createCa();
  const now = Date.now();
  const old3 = new X509Certificate((await issueNodeCert(ca, { nodeId: 'node-3', validFrom: new Date(now - 60 * MIN) })).certPem);
  const other3 = new X509Certificate((await issueNodeCert(ca, { nodeId: 'node-3', validFrom: new Date(now - 30 * MIN) })).certPem);
  const reissued3 = new X509Certificate((await issueNodeCert(ca, { nodeId: 'node-3', validFrom: new Date(now + 1000) })).certPem);
  const n2 = new X509Certificate((await issueNodeCert(ca, { nodeId: 'node-2' })).certPem);

  const db = openDatabase(path);
  const list = new RevocationList(db);
  assert.equal(list.check(old3), undefined);
  const rows: RevokedEntry[] = [
    { serial: old3.serialNumber.toUpperCase(), node: 'node-3', reason: 'key lost', revokedAt: now, revokedBy: 'key admin@node-1' },
    { serial: n2.serialNumber.toUpperCase(), node: '', reason: '', revokedAt: now, revokedBy: 'key admin@node-1' },
  ];
  assert.equal(list.merge(rows).length, 2);
  assert.equal(list.merge(rows).length, 0, 'the same rows again change nothing');
  assert.match(list.check(old3) ?? '', /its certificate \(serial [0-9A-F]+\) is revoked \(key lost\)/);
  assert.match(list.check(other3) ?? '', /for node node-3 is revoked: it was issued before node node-3 was revoked/);
  assert.equal(list.check(reissued3), undefined, 'a certificate issued after the revocation is a re-issue');
  assert.match(list.check(n2) ?? '', /is revoked$/);
  db.close();

  const again = new RevocationList(openDatabase(path));
  assert.deepEqual(again.entries(), list.entries());
  assert.ok(again.check(other3) !== undefined && again.check(reissued3) === undefined);
});

test('revocation list - peer rows that do not parse are refused whole; serials are read in their usual spellings', () => {
  assert.equal(normalizeSerial('0x4f:2a:01'), '4F2A01');
  assert.equal(normalizeSerial('not hex'), undefined);
  const good = { serial: 'AB01', node: '', reason: '', revokedAt: 1, revokedBy: 'x' };
  assert.equal(parseRevokedRows({ entries: [good] }).length, 1);
  for (const bad of [{}, { entries: 'x' }, { entries: [good, { ...good, serial: 'zz' }] }, { entries: [{ ...good, revokedAt: -1 }] }]) {
    assert.throws(() => parseRevokedRows(bad), (e) => isCaxtonError(e, 'CAXTON_ERR_API_INVALID_REQUEST'));
  }
});
