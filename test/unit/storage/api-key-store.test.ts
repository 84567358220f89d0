import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ApiKeyStore, openDatabase, type ApiKeyEntry } from '../../../src/storage/index.js';
import { hashKey } from '../../../src/storage/api-key-store.js';
import { tempDir } from '../../helpers/tmp.js';
import { prng } from '../../helpers/prng.js';

const entry = (over: Partial<ApiKeyEntry> & { id: string }): ApiKeyEntry => ({
  name: `k-${over.id}`,
  role: 'viewer',
  hash: hashKey(`key-${over.id}`),
  createdAt: 1000,
  version: 1,
  origin: 'n1',
  revoked: false,
  ...over,
});

test('api key store - a revocation is a tombstone that survives a reopen and beats an older copy', () => {
  const dir = tempDir();
  try {
    const path = join(dir.path, 'caxton.db');
    let db = openDatabase(path);
    let store = new ApiKeyStore(db, 'n1');
    const rec = store.add({ id: 'a', name: 'ci', role: 'developer' }, 'secret-a');
    const created = store.entry('a') as ApiKeyEntry;
    assert.equal(created.origin, 'n1');
    assert.ok(store.find('secret-a'));
    assert.ok(store.remove(rec.id));
    assert.equal(store.find('secret-a'), undefined);
    assert.equal(store.remove(rec.id), false, 'already revoked');
    db.close();
    db = openDatabase(path);
    store = new ApiKeyStore(db, 'n1');
    assert.equal(store.find('secret-a'), undefined, 'still revoked after a reopen');
    assert.deepEqual(store.list(), []);
    assert.equal(store.entry('a')?.revoked, true);
    // The creation arriving late from a peer does not bring the key back.
    assert.deepEqual(store.merge([created]).applied, []);
    assert.equal(store.find('secret-a'), undefined);
    // The next local change counts past everything seen.
    assert.ok(store.clock >= 2);
    db.close();
  } finally {
    dir.cleanup();
  }
});

test('api key store - merge keeps the same winner whatever the order of arrival', () => {
  const h = hashKey('shared');
  const versions: ApiKeyEntry[] = [
    entry({ id: 'k', hash: h, version: 3, origin: 'n2', role: 'operator' }),
    entry({ id: 'k', hash: h, version: 3, origin: 'n1', role: 'admin' }),
    entry({ id: 'k', hash: h, version: 3, origin: 'n1', revoked: true }),
    entry({ id: 'k', hash: h, version: 2, origin: 'n3', revoked: true }),
    entry({ id: 'k', hash: h, version: 4, origin: 'n0', role: 'developer' }),
    entry({ id: 'k', hash: h, version: 4, origin: 'n0', role: 'viewer' }), // same version and origin, other content
    entry({ id: 'j', version: 1 }),
  ];
  const rng = prng(7);
  const results = new Set<string>();
  for (let round = 0; round < 30; round++) {
    const db = openDatabase(':memory:');
    const store = new ApiKeyStore(db, 'x');
    const order = [...versions];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [order[i], order[j]] = [order[j] as ApiKeyEntry, order[i] as ApiKeyEntry];
    }
    // One at a time, or in batches of two: the result does not depend on it.
    for (let i = 0; i < order.length; i += 1 + (round % 2)) store.merge(order.slice(i, i + 1 + (round % 2)));
    results.add(JSON.stringify(store.entries().sort((a, b) => (a.id < b.id ? -1 : 1))));
    db.close();
  }
  assert.equal(results.size, 1, 'one outcome');
  const [k] = JSON.parse([...results][0] as string).filter((e: ApiKeyEntry) => e.id === 'k') as ApiKeyEntry[];
  assert.equal(k?.version, 4);
});

test('api key store - an entry whose hash belongs to another key is refused', () => {
  const db = openDatabase(':memory:');
  const store = new ApiKeyStore(db, 'n1');
  store.add({ id: 'a', name: 'a', role: 'admin' }, 'same-secret');
  const { applied, conflicts } = store.merge([entry({ id: 'b', hash: hashKey('same-secret'), role: 'viewer', version: 9 })]);
  assert.deepEqual(applied, []);
  assert.equal(conflicts.length, 1);
  assert.equal(store.find('same-secret')?.id, 'a');
  db.close();
});

test('api key store - a role change is versioned and reported to listeners; merged entries are not', () => {
  const db = openDatabase(':memory:');
  const store = new ApiKeyStore(db, 'n1');
  const seen: ApiKeyEntry[] = [];
  store.onChange((c) => seen.push(...c));
  store.add({ id: 'a', name: 'a', role: 'viewer' }, 'sa');
  const v1 = store.entry('a')?.version as number;
  assert.equal(store.setRole('a', 'operator')?.role, 'operator');
  assert.equal(store.entry('a')?.version, v1 + 1);
  assert.equal(store.find('sa')?.role, 'operator');
  store.merge([entry({ id: 'z', version: 50 })]);
  assert.deepEqual(seen.map((e) => [e.id, e.role]), [['a', 'viewer'], ['a', 'operator']]);
  store.add({ id: 'b', name: 'b', role: 'viewer' }, 'sb');
  assert.equal(store.entry('b')?.version, 51, 'Lamport: past the highest version seen');
  db.close();
});
