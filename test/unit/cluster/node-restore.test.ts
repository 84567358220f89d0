/** src/cluster/node-restore.ts without a node: what a parked node accepts, and a backup it cannot find. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseRestoreRequest, restoreParked } from '../../../src/cluster/node-restore.js';
import { createLogger } from '../../../src/observability/logger.js';
import { Writable } from 'node:stream';
import { tempDir } from '../../helpers/tmp.js';

const quiet = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

test('node restore - a restore request is an id, an absolute location and the three S3 settings; anything else is named', () => {
  assert.deepEqual(parseRestoreRequest({ id: 'backup-20240115-0200' }), { id: 'backup-20240115-0200' });
  assert.deepEqual(parseRestoreRequest({ id: 'b1', from: 's3://bk/caxton', s3: { endpoint: 'http://127.0.0.1:9', forcePathStyle: true } }), { id: 'b1', from: 's3://bk/caxton', s3: { endpoint: 'http://127.0.0.1:9', forcePathStyle: true } });
  const bad = (body: unknown, what: RegExp) => assert.throws(() => parseRestoreRequest(body), (e: Error & { code?: string }) => e.code === 'CAXTON_ERR_API_INVALID_REQUEST' && what.test(e.message));
  bad({}, /id must be a backup id/);
  bad({ id: '../etc' }, /id must be a backup id/);
  bad({ id: 'b1', from: 'relative/dir' }, /from must be an absolute directory or s3:/);
  bad({ id: 'b1', s3: { accessKeyId: 'x' } }, /s3 has unknown fields: accessKeyId/);
  bad({ id: 'b1', s3: { forcePathStyle: 'yes' } }, /forcePathStyle a boolean/);
});

test('node restore - a backup the node\'s catalog does not list is refused with the catalog named, and nothing in the data dir changes', async () => {
  const dir = tempDir('caxton-node-restore-');
  try {
    writeFileSync(join(dir.path, 'caxton.db'), 'the node\'s database');
    const record = { stopped_at: '2026-01-01T00:00:00.000Z', reason: 'test', members: [{ name: 'node-1', api: '', gossip: '127.0.0.1:7946' }], agents: [{ name: 'a', node: 'node-1' }] };
    await assert.rejects(
      restoreParked({ nodeId: 'node-1', dataDir: dir.path, record, s3: {}, audit: { enabled: true, path: '' }, logger: quiet }, { id: 'backup-19990101-0000' }, { id: 'k', name: 'admin' }),
      (e: Error & { code?: string }) => e.code === 'CAXTON_ERR_BACKUP_NOT_FOUND' && e.message.includes(join(dir.path, 'backup-catalog.json')) && /--from/.test(e.message),
    );
    assert.equal(existsSync(join(dir.path, 'cluster-stopped.json')), false, 'the record is not rewritten');
  } finally {
    dir.cleanup();
  }
});
