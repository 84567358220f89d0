import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchModule, MODULE_CHUNK, MODULE_CHUNK_BYTES, MODULE_STAT, ModuleServer, sha256Hex } from '../../../src/agents/module-fetch.js';
import { DeploymentStore, openDatabase } from '../../../src/storage/index.js';
import { isCaxtonError, type CaxtonError } from '../../../src/errors.js';
import { MemoryNetwork } from '../../helpers/memory-peers.js';
import { agentWasm } from '../../helpers/agents.js';
import { bigModule } from '../../helpers/big-module.js';

/** A node with a real deployment store (SQLite) serving its modules. */
function node(net: MemoryNetwork, name: string) {
  const db = openDatabase(':memory:');
  const store = new DeploymentStore(db);
  const peers = net.add(name);
  const server = new ModuleServer(peers, store);
  return { name, db, store, peers, server };
}

test('module fetch - a module crosses from the peer that holds it, in bounded chunks when large, and hashes right', async () => {
  const net = new MemoryNetwork();
  const a = node(net, 'a');
  const b = node(net, 'b');
  try {
    const echo = new Uint8Array(agentWasm('echo'));
    const echoHash = await sha256Hex(echo);
    b.store.putModule(echoHash, echo);
    assert.deepEqual(await fetchModule(a.peers, echoHash, ['b']), echo);
    const big = bigModule(2 * MODULE_CHUNK_BYTES + 12345);
    const bigHash = await sha256Hex(big);
    b.store.putModule(bigHash, big);
    const calls = net.calls;
    const got = await fetchModule(a.peers, bigHash, ['b']);
    const chunks = Math.ceil(big.length / MODULE_CHUNK_BYTES);
    assert.ok(chunks >= 3, `${big.length} bytes`);
    assert.equal(net.calls - calls, 1 + chunks, 'one stat, then one call per chunk');
    assert.equal(await sha256Hex(got), bigHash);
  } finally {
    a.db.close();
    b.db.close();
  }
});

test('module fetch - a peer without the module, or unreachable, is passed over for the next one', async () => {
  const net = new MemoryNetwork();
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => node(net, n)) as [ReturnType<typeof node>, ReturnType<typeof node>, ReturnType<typeof node>, ReturnType<typeof node>];
  try {
    const m = new Uint8Array(agentWasm('counter'));
    const hash = await sha256Hex(m);
    d.store.putModule(hash, m);
    net.down('c');
    const passed: [string, string][] = [];
    const got = await fetchModule(a.peers, hash, ['b', 'c', 'd'], { onPeerFailed: (n, e) => passed.push([n, e.code]) });
    assert.deepEqual(got, m);
    assert.deepEqual(passed, [
      ['b', 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE'],
      ['c', 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE'],
    ]);
    // Nobody has it: one error naming each peer's reason.
    await assert.rejects(fetchModule(a.peers, 'f'.repeat(64), ['b', 'c']), (e: CaxtonError) => {
      assert.equal(e.code, 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE');
      assert.match(e.message, /b: node b does not hold module f{64}/);
      assert.match(e.message, /c: node c cannot be reached/);
      return true;
    });
  } finally {
    for (const n of [a, b, c, d]) n.db.close();
  }
});

test('module fetch - corrupted bytes are refused with CAXTON_ERR_MODULE_HASH_MISMATCH, and a good copy elsewhere is used', async () => {
  const net = new MemoryNetwork();
  const [a, bad, good] = ['a', 'bad', 'good'].map((n) => node(net, n)) as [ReturnType<typeof node>, ReturnType<typeof node>, ReturnType<typeof node>];
  try {
    const m = new Uint8Array(agentWasm('echo'));
    const hash = await sha256Hex(m);
    const corrupt = new Uint8Array(m);
    corrupt[corrupt.length >> 1] = (corrupt[corrupt.length >> 1] as number) ^ 0xff;
    // The corrupt node's database holds other bytes under the hash (disk corruption, or a lying peer).
    bad.store.putModule(hash, corrupt);
    good.store.putModule(hash, m);
    await assert.rejects(fetchModule(a.peers, hash, ['bad']), (e: CaxtonError) => {
      assert.equal(e.code, 'CAXTON_ERR_MODULE_HASH_MISMATCH');
      assert.match(e.message, new RegExp(`module bytes from node bad hash to [0-9a-f]{64}, not ${hash}: refused before admission`));
      assert.equal(e.details?.['node'], 'bad');
      return true;
    });
    const passed: string[] = [];
    assert.deepEqual(await fetchModule(a.peers, hash, ['bad', 'good'], { onPeerFailed: (_n, e) => passed.push(e.code) }), m);
    assert.deepEqual(passed, ['CAXTON_ERR_MODULE_HASH_MISMATCH']);
    // The mismatch is the error reported when it was the only copy on offer, over a missing one.
    await assert.rejects(fetchModule(a.peers, hash, ['a', 'bad']), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_MODULE_HASH_MISMATCH'));
  } finally {
    for (const n of [a, bad, good]) n.db.close();
  }
});

test('module fetch - size bounds: a module over maxBytes is refused before any chunk, a short chunk is a bad frame', async () => {
  const net = new MemoryNetwork();
  const a = node(net, 'a');
  const b = node(net, 'b');
  const liar = net.add('liar');
  try {
    const m = new Uint8Array(agentWasm('echo'));
    const hash = await sha256Hex(m);
    b.store.putModule(hash, m);
    const calls = net.calls;
    await assert.rejects(fetchModule(a.peers, hash, ['b'], { maxBytes: 1000 }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_MODULE_TOO_LARGE'));
    assert.equal(net.calls - calls, 1, 'only the stat');
    liar.onCall(MODULE_STAT, () => ({ size: m.length }));
    liar.onCall(MODULE_CHUNK, () => new Uint8Array(10));
    await assert.rejects(fetchModule(a.peers, hash, ['liar']), (e: CaxtonError) => e.code === 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE' && /answered module\.chunk at offset 0 with 10 bytes, expected/.test(e.message));
    liar.onCall(MODULE_STAT, () => ({ size: -1 }));
    await assert.rejects(fetchModule(a.peers, hash, ['liar']), (e: CaxtonError) => /answered module\.stat without a valid size/.test(e.message));
  } finally {
    a.db.close();
    b.db.close();
  }
});

test('module fetch - the server refuses malformed requests and serves offered bytes only while offered', async () => {
  const net = new MemoryNetwork();
  const a = node(net, 'a');
  const b = node(net, 'b');
  try {
    await assert.rejects(a.peers.call('b', MODULE_STAT, { hash: 'nope' }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_FRAME'));
    await assert.rejects(a.peers.call('b', MODULE_STAT, 'garbage'), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_FRAME'));
    const m = new Uint8Array(agentWasm('echo'));
    const hash = await sha256Hex(m);
    const withdraw = b.server.offer(hash, m);
    await assert.rejects(a.peers.call('b', MODULE_CHUNK, { hash, offset: m.length }), (e: CaxtonError) => e.code === 'CAXTON_ERR_CLUSTER_FRAME' && /offset must be/.test(e.message));
    await assert.rejects(a.peers.call('b', MODULE_CHUNK, { hash, offset: -1 }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_FRAME'));
    assert.deepEqual(await fetchModule(a.peers, hash, ['b']), m);
    withdraw();
    withdraw(); // idempotent
    await assert.rejects(fetchModule(a.peers, hash, ['b']), (e: CaxtonError) => /does not hold module/.test(e.message));
  } finally {
    a.db.close();
    b.db.close();
  }
});
