import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataDirLock, LOCK_FILE, readDataDirLock } from '../../../src/storage/data-dir-lock.js';
import { CaxtonError } from '../../../src/errors.js';
import { tempDir } from '../../helpers/tmp.js';

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid as number;
}

test('data-dir lock - a node holds the lock with its pid and API URL, and stop releases it', (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  assert.equal(readDataDirLock(dir.path), undefined);
  const lock = DataDirLock.acquire(dir.path, 'node-1');
  lock.setApiUrl('http://127.0.0.1:8080');
  const held = readDataDirLock(dir.path);
  assert.equal(held?.live, true);
  assert.deepEqual({ pid: held?.info.pid, node: held?.info.node, api: held?.info.api_url }, { pid: process.pid, node: 'node-1', api: 'http://127.0.0.1:8080' });
  lock.release();
  lock.release();
  assert.equal(existsSync(join(dir.path, LOCK_FILE)), false);
});

test('data-dir lock - a lock whose process is gone is stale and taken over; a live one of another process is refused', (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const path = join(dir.path, LOCK_FILE);
  writeFileSync(path, JSON.stringify({ pid: deadPid(), node: 'old', started_at: '2024-01-15T02:00:00Z', api_url: '' }));
  assert.equal(readDataDirLock(dir.path)?.live, false);
  const lock = DataDirLock.acquire(dir.path, 'new');
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).node, 'new');
  lock.release();
  // pid 1 (init) is alive and is not this process.
  writeFileSync(path, JSON.stringify({ pid: 1, node: 'other', started_at: '2024-01-15T02:00:00Z', api_url: 'http://10.0.0.1:8080' }));
  assert.throws(() => DataDirLock.acquire(dir.path, 'second'), (e: unknown) => e instanceof CaxtonError && e.code === 'CAXTON_ERR_DATA_DIR_LOCKED' && /node other \(pid 1, .*API http:\/\/10\.0\.0\.1:8080\)/.test(e.message));
  // A garbled file (a node killed while writing it) is no lock.
  writeFileSync(path, '{"pid": 12');
  assert.equal(readDataDirLock(dir.path), undefined);
});

test('data-dir lock - release leaves a lock another process has taken since', (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const lock = DataDirLock.acquire(dir.path, 'a');
  const path = join(dir.path, LOCK_FILE);
  writeFileSync(path, JSON.stringify({ pid: 1, node: 'b', started_at: 'later', api_url: '' }));
  lock.release();
  assert.equal(existsSync(path), true);
});
