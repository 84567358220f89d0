import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase, SqliteAgentStateStore } from '../../../../src/storage/index.js';
import { createBackup, restoreBackup } from '../../../../src/storage/backup/index.js';
import { changedPages } from '../../../../src/storage/backup/pages.js';
import { tempDir } from '../../../helpers/tmp.js';

const h = (...bytes: number[]) => Buffer.concat(bytes.map((b) => Buffer.alloc(32, b)));

test('backup pages - changed pages are those whose hash differs and those past the parent\'s end', () => {
  assert.deepEqual(changedPages(h(1, 2, 3), h(1, 2, 3)), []);
  assert.deepEqual(changedPages(h(1, 9, 3, 4), h(1, 2, 3)), [2, 4]);
  assert.deepEqual(changedPages(h(1, 2), h(1, 2, 3)), [], 'a shrunk database stores no page: the restore cuts the file');
});

function kv(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT agent, hex(key) k, hex(value) v FROM agent_kv ORDER BY agent, key').all() as { agent: string; k: string; v: string }[]).map((r) => `${r.agent} ${r.k} ${r.v}`);
  } finally {
    db.close();
  }
}

test('backup pages - incrementals across deletes, a VACUUM that shrinks the file and a new page size restore the same rows', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const data = join(dir.path, 'data');
  const dest = join(dir.path, 'dest');
  const dbPath = join(data, 'caxton.db');
  mkdirSync(data);
  const db = openDatabase(dbPath);
  writeFileSync(join(data, 'admin.key'), 'k\n');
  const state = new SqliteAgentStateStore(db);
  const put = (n: number, from = 0) => db.transaction(() => {
    for (let i = from; i < from + n; i++) state.set(`a${i % 7}`, Buffer.from(`k${i}`), randomBytes(700));
  })();
  const take = (type: 'full' | 'incremental') => createBackup({ dataDir: data, databasePath: dbPath, nodeId: 'n', version: 'x', type, destination: dest, compress: type === 'incremental', includeCaKey: false, files: {} });
  const check = async (id: string) => {
    const target = join(dir.path, `restore-${id}`);
    await restoreBackup({ source: dest, id, target });
    assert.deepEqual(kv(join(target, 'caxton.db')), kv(dbPath), id);
  };
  put(2000);
  await take('full');
  db.transaction(() => {
    for (let i = 0; i < 1500; i++) state.delete(`a${i % 7}`, Buffer.from(`k${i}`));
  })();
  const afterDeletes = await take('incremental');
  await check(afterDeletes.id);
  db.exec('VACUUM');
  const shrunk = await take('incremental');
  assert.ok(shrunk.page_count < afterDeletes.page_count, `${shrunk.page_count} < ${afterDeletes.page_count} pages`);
  await check(shrunk.id);
  db.pragma('journal_mode = DELETE');
  db.pragma('page_size = 8192');
  db.exec('VACUUM');
  db.pragma('journal_mode = WAL');
  put(100, 5000);
  const resized = await take('incremental');
  assert.equal(resized.pages_stored, resized.page_count, 'a new page size stores every page');
  await check(resized.id);
  db.close();
});
