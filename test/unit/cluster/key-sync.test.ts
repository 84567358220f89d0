import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeySync, KEYS_SYNC, KEYS_UPDATE } from '../../../src/cluster/key-sync.js';
import { ApiKeyStore, openDatabase, type SqliteDatabase } from '../../../src/storage/index.js';
import { authorize, ensureAdminKey } from '../../../src/api/auth.js';
import { isCaxtonError } from '../../../src/errors.js';
import { MemoryNetwork, type MemoryPeers } from '../../helpers/memory-peers.js';
import { prng } from '../../helpers/prng.js';
import { tempDir } from '../../helpers/tmp.js';
import { until } from '../../helpers/until.js';
import { readFileSync } from 'node:fs';

interface TestNode {
  readonly name: string;
  readonly db: SqliteDatabase;
  readonly store: ApiKeyStore;
  readonly sync: KeySync;
  readonly peers: MemoryPeers;
  readonly warnings: { obj: Record<string, unknown>; msg: string }[];
}

function makeNode(net: MemoryNetwork, name: string, members: () => string[], intervalMs: number, seed: number): TestNode {
  const db = openDatabase(':memory:');
  const store = new ApiKeyStore(db, name);
  const peers = net.add(name);
  const warnings: TestNode['warnings'] = [];
  const sync = new KeySync({
    peers,
    store,
    members: () => members().filter((m) => m !== name),
    logger: { warn: (obj, msg) => warnings.push({ obj: obj as Record<string, unknown>, msg }), debug: () => {} },
    intervalMs,
    random: prng(seed),
  });
  return { name, db, store, sync, peers, warnings };
}

function makeCluster(names: string[], intervalMs: number): { net: MemoryNetwork; nodes: TestNode[]; close(): void } {
  const net = new MemoryNetwork();
  const nodes = names.map((n, i) => makeNode(net, n, () => names, intervalMs, i + 1));
  return {
    net,
    nodes,
    close() {
      for (const n of nodes) {
        n.sync.stop();
        n.db.close();
      }
    },
  };
}

/** Every node's entries, the same on all when converged. */
const snapshot = (n: TestNode) =>
  JSON.stringify(
    n.store
      .entries()
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((e) => [e.id, e.name, e.role, e.hash, e.createdAt, e.version, e.origin, e.revoked]),
  );
const converged = (nodes: TestNode[]) => new Set(nodes.map(snapshot)).size === 1;

test('key sync - a key created on one of 5 nodes, then its revocation, reach every node by posts alone', async () => {
  const c = makeCluster(['n1', 'n2', 'n3', 'n4', 'n5'], 60_000); // no anti-entropy round in this test
  try {
    const [n1, , n3] = c.nodes as [TestNode, TestNode, TestNode];
    const rec = n1.store.add({ id: 'k1', name: 'ci', role: 'developer' }, 'secret-1');
    await until('the key on every node', () => c.nodes.every((n) => n.store.find('secret-1')?.id === rec.id));
    assert.ok(n3.store.remove(rec.id));
    await until('the revocation on every node', () => c.nodes.every((n) => n.store.find('secret-1') === undefined));
    for (const n of c.nodes) {
      assert.throws(() => authorize(n.store, 'secret-1', 'read'), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_API_UNAUTHORIZED'), n.name);
    }
    assert.ok(converged(c.nodes));
  } finally {
    c.close();
  }
});

test('key sync - after a partition heals, anti-entropy brings both sides to the same keys', async () => {
  const c = makeCluster(['n1', 'n2', 'n3', 'n4', 'n5'], 20);
  try {
    const [n1, n2, , n4] = c.nodes as [TestNode, TestNode, TestNode, TestNode];
    n1.store.add({ id: 'old', name: 'old', role: 'admin' }, 'secret-old');
    await until('the first key everywhere', () => c.nodes.every((n) => n.store.find('secret-old') !== undefined));
    c.net.partition(['n1', 'n2'], ['n3', 'n4', 'n5']);
    for (const n of c.nodes) n.sync.start();
    // Each side changes things the other cannot hear about.
    assert.ok(n2.store.remove('old'));
    n4.store.add({ id: 'new', name: 'new', role: 'viewer' }, 'secret-new');
    await until('each side settled', () => n1.store.find('secret-old') === undefined && c.nodes.slice(2).every((n) => n.store.find('secret-new') !== undefined));
    assert.ok(c.nodes.slice(2).every((n) => n.store.find('secret-old') !== undefined), 'the majority side has not heard of the revocation');
    c.net.heal();
    await until('every node converged', () => converged(c.nodes));
    for (const n of c.nodes) {
      assert.equal(n.store.find('secret-old'), undefined, `${n.name}: revoked`);
      assert.equal(n.store.find('secret-new')?.role, 'viewer', `${n.name}: created`);
    }
  } finally {
    c.close();
  }
});

test('key sync - conflicting changes made apart converge to one result, a revocation beating an older role change', async () => {
  const c = makeCluster(['n1', 'n2', 'n3', 'n4', 'n5'], 20);
  try {
    const [n1, n2, n3, n4, n5] = c.nodes as [TestNode, TestNode, TestNode, TestNode, TestNode];
    n1.store.add({ id: 'k', name: 'k', role: 'viewer' }, 'sk');
    n1.store.add({ id: 'j', name: 'j', role: 'viewer' }, 'sj');
    await until('both keys everywhere', () => c.nodes.every((n) => n.store.find('sk') !== undefined && n.store.find('sj') !== undefined));
    c.net.partition(['n1'], ['n2'], ['n3'], ['n4', 'n5']);
    // k: three concurrent changes at the same Lamport version; the revocation comes from the node with
    // the smallest name, so it wins by the revocation rule, not by the origin tie-break.
    n1.store.remove('k');
    n2.store.setRole('k', 'operator');
    n3.store.setRole('k', 'admin');
    // j: a role change, then n5 changes it again after hearing it (a later version).
    n4.store.setRole('j', 'admin');
    await until('n5 heard n4', () => n5.store.find('sj')?.role === 'admin');
    n5.store.setRole('j', 'operator');
    for (const n of c.nodes) n.sync.start();
    c.net.heal();
    await until('every node converged', () => converged(c.nodes));
    for (const n of c.nodes) {
      assert.equal(n.store.find('sk'), undefined, `${n.name}: the revocation wins at equal version`);
      assert.equal(n.store.find('sj')?.role, 'operator', `${n.name}: the later version wins`);
    }
  } finally {
    c.close();
  }
});

test('key sync - malformed bodies from a peer are refused whole with a logged reason', async () => {
  const c = makeCluster(['n1', 'n2'], 60_000);
  try {
    const [n1] = c.nodes as [TestNode];
    const evil = c.net.add('evil');
    n1.store.add({ id: 'a', name: 'a', role: 'viewer' }, 'sa');
    const before = snapshot(n1);
    const good = { id: 'g', name: 'g', role: 'admin', hash: 'a'.repeat(64), created_at: 1, version: 99, origin: 'evil', revoked: 0 };
    const bad: [unknown, RegExp][] = [
      ['not an object', /body is not an object/],
      [{ entries: 'x' }, /entries must be an array/],
      [{ entries: [good, { ...good, id: 'h', role: 'root' }] }, /entries\[1\]\.role is not a role/],
      [{ entries: [{ ...good, hash: 'XYZ' }] }, /entries\[0\]\.hash/],
      [{ entries: [{ ...good, version: 0 }] }, /entries\[0\]\.version/],
      [{ entries: [{ ...good, revoked: true }] }, /entries\[0\]\.revoked/],
      [{ entries: [{ ...good, name: 'has space' }] }, /entries\[0\]\.name/],
    ];
    for (const [body] of bad) assert.ok(evil.post('n1', KEYS_UPDATE, body));
    await until('every bad post handled', () => n1.warnings.length >= bad.length);
    for (let i = 0; i < bad.length; i++) {
      const w = n1.warnings[i] as TestNode['warnings'][number];
      assert.equal(w.msg, 'refused an API key update from a peer');
      assert.equal(w.obj['from'], 'evil');
      assert.match(String(w.obj['reason']), (bad[i] as [unknown, RegExp])[1]);
    }
    assert.equal(snapshot(n1), before, 'nothing of a refused body was applied (not even its good entry)');
    assert.equal(n1.sync.refused, bad.length);
    await assert.rejects(evil.call('n1', KEYS_SYNC, { digest: [['a', 'one', 'x', 0, '0'.repeat(16)]] }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_FRAME') && /digest\[0\]\[1\] \(version\)/.test((e as Error).message));
    // A peer answering a sync with garbage: refused too, and the round reports a failure.
    evil.onCall(KEYS_SYNC, () => ({ entries: [{ ...good, created_at: -5 }], want: [] }));
    await assert.rejects(n1.sync.syncWith('evil'), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_FRAME'));
    assert.match(String(n1.warnings.at(-1)?.obj['reason']), /entries\[0\]\.created_at/);
    assert.equal(snapshot(n1), before);
    // The node still syncs with a sane peer.
    await c.nodes[1]?.sync.syncWith('n1');
    assert.ok(c.nodes[1]?.store.find('sa'));
  } finally {
    c.close();
  }
});

test('key sync - joining a cluster: the joined node\'s admin key works on the newcomer and the newcomer\'s on the cluster', async () => {
  const dirs = [tempDir(), tempDir()];
  const net = new MemoryNetwork();
  const names = ['old', 'newcomer'];
  const nodes = names.map((name, i) => {
    const db = openDatabase(':memory:');
    const store = new ApiKeyStore(db, name);
    ensureAdminKey(store, (dirs[i] as ReturnType<typeof tempDir>).path); // each node's first start
    const sync = new KeySync({ peers: net.add(name), store, members: () => names.filter((n) => n !== name), logger: { warn: () => {}, debug: () => {} }, intervalMs: 60_000 });
    return { db, store, sync, key: readFileSync(`${(dirs[i] as ReturnType<typeof tempDir>).path}/admin.key`, 'utf8').trim() };
  });
  try {
    const [old, fresh] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    assert.throws(() => authorize(fresh.store, old.key, 'admin'));
    // What the integrator does when a member joins: one exchange with it.
    await fresh.sync.syncWith('old');
    await until('the newcomer\'s key on the old node', () => old.store.find(fresh.key) !== undefined);
    for (const n of nodes) {
      assert.equal(authorize(n.store, old.key, 'admin').role, 'admin');
      assert.equal(authorize(n.store, fresh.key, 'admin').role, 'admin');
    }
  } finally {
    for (const n of nodes) {
      n.sync.stop();
      n.db.close();
    }
    for (const d of dirs) d.cleanup();
  }
});
