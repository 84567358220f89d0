import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase, SCHEMA_VERSION, SqliteAgentStateStore } from '../../../src/storage/index.js';
import { isCaxtonError } from '../../../src/errors.js';
import { tempDir } from '../../helpers/tmp.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

test('agent state store - set, get, overwrite, delete, keys and clear', () => {
  const dir = tempDir();
  try {
    const store = new SqliteAgentStateStore(join(dir.path, 'node.db'));
    const k = enc.encode('count');
    assert.equal(store.get('a', k), undefined);
    store.set('a', k, enc.encode('1'));
    store.set('a', k, enc.encode('2'));
    store.set('a', enc.encode('other'), enc.encode('x'));
    store.set('b', k, enc.encode('9'));
    assert.equal(dec.decode(store.get('a', k)), '2');
    assert.equal(dec.decode(store.get('b', k)), '9', 'agents have separate namespaces');
    assert.deepEqual(store.keys('a').map((x) => dec.decode(x)), ['count', 'other']);
    store.delete('a', k);
    assert.equal(store.get('a', k), undefined);
    store.clear('a');
    assert.deepEqual(store.keys('a'), []);
    assert.equal(dec.decode(store.get('b', k)), '9', 'clear touches one agent only');
    store.close();
  } finally {
    dir.cleanup();
  }
});

test('agent state store - binary keys and values round-trip byte for byte', () => {
  const dir = tempDir();
  try {
    const store = new SqliteAgentStateStore(join(dir.path, 'node.db'));
    const key = new Uint8Array([0, 255, 1, 0]);
    const value = new Uint8Array(70_000).map((_, i) => (i * 31) & 0xff);
    store.set('bin', key, value);
    assert.deepEqual(new Uint8Array(store.get('bin', key)!), value);
    // A view into a larger buffer (as host functions pass guest memory) stores only its window.
    const big = new Uint8Array(100).fill(7);
    store.set('bin', key, big.subarray(10, 20));
    assert.equal(store.get('bin', key)!.length, 10);
    store.close();
  } finally {
    dir.cleanup();
  }
});

test('agent state store - writes survive reopening and are visible to a second connection', () => {
  const dir = tempDir();
  try {
    const path = join(dir.path, 'node.db');
    const w1 = new SqliteAgentStateStore(path);
    const w2 = new SqliteAgentStateStore(path);
    w1.set('agent', enc.encode('k'), enc.encode('v1'));
    assert.equal(dec.decode(w2.get('agent', enc.encode('k'))), 'v1', 'other connections (worker threads) see committed writes');
    w1.close();
    w2.close();
    const again = new SqliteAgentStateStore(path);
    assert.equal(dec.decode(again.get('agent', enc.encode('k'))), 'v1');
    again.close();
  } finally {
    dir.cleanup();
  }
});

test('database - migrations record the schema version and a newer database is refused', () => {
  const dir = tempDir();
  try {
    const path = join(dir.path, 'node.db');
    const db = openDatabase(path);
    assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    assert.throws(() => openDatabase(path), (e) => isCaxtonError(e, 'CAXTON_ERR_STORAGE_UNAVAILABLE') && /newer than this Caxton/.test(e.message));
  } finally {
    dir.cleanup();
  }
});

test('database - an unopenable path is a storage error that names the path', () => {
  assert.throws(
    () => openDatabase('/proc/definitely/not/here.db'),
    (e) => isCaxtonError(e, 'CAXTON_ERR_STORAGE_UNAVAILABLE') && e.message.includes('/proc/definitely/not/here.db'),
  );
});
