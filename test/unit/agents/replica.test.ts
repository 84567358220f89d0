/** The replica's rules (src/agents/replication/replica.ts) on a real SQLite database. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase } from '../../../src/storage/database.js';
import { ReplicaStore } from '../../../src/storage/replica-store.js';
import { ReplicaSide } from '../../../src/agents/replication/replica.js';
import { ACK_BEHIND, ACK_FENCED, ACK_OK, b64, parseAcks, parseDeltas, type WireDelta } from '../../../src/agents/replication/protocol.js';
import { CaxtonError } from '../../../src/errors.js';

const enc = (s: string): string => b64(new TextEncoder().encode(s));
const set = (s: number, k: string, v: string, extra: Partial<WireDelta> = {}): WireDelta => ({ s, w: [enc(k), enc(v)], ...extra });

function replica(): { side: ReplicaSide; store: ReplicaStore; kv(agent: string): Record<string, string> } {
  const store = new ReplicaStore(openDatabase(':memory:'));
  const dec = new TextDecoder();
  return {
    side: new ReplicaSide(store),
    store,
    kv: (agent) => Object.fromEntries(store.kv(agent).map(([k, v]) => [dec.decode(k), dec.decode(v)])),
  };
}

test('replica - deltas apply in seq order; a gap is refused as behind and a repeat is acknowledged, not applied', () => {
  const r = replica();
  assert.deepEqual(r.side.apply('a', { b: [{ a: 'c', e: 1, d: [{ s: 1, f: 1, w: [] }, set(2, 'n', '1'), set(3, 'n', '2')] }] }), ['c', 1, 3, ACK_OK]);
  // seq 5 without 4: nothing applied, the owner hears what the replica holds.
  assert.deepEqual(r.side.apply('a', { b: [{ a: 'c', e: 1, d: [set(5, 'n', '9')] }] }), ['c', 1, 3, ACK_BEHIND]);
  assert.deepEqual(r.kv('c'), { n: '2' });
  // A retransmitted 2 after 3 must not roll the value back.
  assert.deepEqual(r.side.apply('a', { b: [{ a: 'c', e: 1, d: [set(2, 'n', '1')] }] }), ['c', 1, 3, ACK_OK]);
  assert.deepEqual(r.kv('c'), { n: '2' });
  assert.deepEqual(r.side.apply('a', { b: [{ a: 'c', e: 1, d: [set(4, 'n', '3'), { s: 5, w: [enc('n'), null] }] }] }), ['c', 1, 5, ACK_OK]);
  assert.deepEqual(r.kv('c'), {});
});

test('replica - an incremental delta without a copy, or from a newer epoch, asks for a snapshot; a snapshot replaces the copy', () => {
  const r = replica();
  assert.deepEqual(r.side.apply('a', { b: [{ a: 'c', e: 1, d: [set(7, 'n', '1')] }] }), ['c', 1, -1, ACK_BEHIND]);
  assert.equal(r.store.head('c'), undefined);
  r.side.apply('a', { b: [{ a: 'c', e: 1, d: [{ s: 7, f: 1, w: [enc('old'), enc('x'), enc('n'), enc('1')] }] }] });
  assert.deepEqual(r.kv('c'), { n: '1', old: 'x' });
  assert.deepEqual(r.side.apply('b', { b: [{ a: 'c', e: 2, d: [set(8, 'n', '5')] }] }), ['c', 2, -1, ACK_BEHIND]);
  assert.deepEqual(r.side.apply('b', { b: [{ a: 'c', e: 2, d: [{ s: 8, f: 1, w: [enc('n'), enc('5')] }] }] }), ['c', 2, 8, ACK_OK]);
  assert.deepEqual(r.kv('c'), { n: '5' }, 'the snapshot dropped what it did not name');
  assert.deepEqual(r.store.head('c'), { owner: 'b', epoch: 2, seq: 8 });
});

test('replica - a fence raises the epoch above every one seen and returns the copy; the old owner is refused from then on', () => {
  const r = replica();
  r.side.apply('a', { b: [{ a: 'c', e: 3, d: [{ s: 1, f: 1, w: [] }, set(2, 'n', '1', { m: 'm-1' }), set(3, 'n', '2', { m: 'm-2' })] }] });
  const reply = r.side.fence('b', 'c', 2);
  assert.equal(reply.epoch, 4, 'max(asked, seen + 1)');
  assert.equal(reply.priorEpoch, 3);
  assert.equal(reply.seq, 3);
  assert.deepEqual(reply.kv, [[enc('n'), enc('2')]]);
  assert.deepEqual(reply.applied, ['m-1', 'm-2']);
  assert.deepEqual(r.side.apply('a', { b: [{ a: 'c', e: 3, d: [set(4, 'n', '3')] }] }), ['c', 4, 3, ACK_FENCED]);
  assert.deepEqual(r.kv('c'), { n: '2' }, 'the stale owner wrote nothing');
  assert.equal(r.side.fence('b', 'c', 9).epoch, 9, 'an asked epoch above the seen one is taken as is');
});

test('replica - malformed replication frames are refused with CAXTON_ERR_CLUSTER_FRAME naming the node', () => {
  for (const body of [null, {}, { b: 'x' }, { b: [{ a: 1, e: 1, d: [] }] }, { b: [{ a: 'c', e: -1, d: [] }] }, { b: [{ a: 'c', e: 1, d: [{ s: 1, w: ['k'] }] }] }, { b: [{ a: 'c', e: 1, d: [{ s: 1, w: [null, 'v'] }] }] }]) {
    assert.throws(() => parseDeltas('n9', body), (e: unknown) => e instanceof CaxtonError && e.code === 'CAXTON_ERR_CLUSTER_FRAME' && /node n9/.test(e.message), JSON.stringify(body));
  }
  assert.throws(() => parseAcks('n9', { b: ['c', 1, 2] }), /CLUSTER_FRAME|repl\.acks/);
  assert.throws(() => parseAcks('n9', { b: ['c', 1, 2, 7] }), /repl\.acks/);
});

test('replica - timers follow the deltas: set, gone, replaced by a snapshot, and returned by a fence with the last id', () => {
  const r = replica();
  r.side.apply('a', { b: [{ a: 't', e: 1, d: [{ s: 1, f: 1, w: [], t: [3, 1000, 'm3'], l: 5 }, { s: 2, w: [], t: [6, 2000, 'm6', 3, 0, null] }] }] });
  assert.deepEqual(r.store.timers('t'), [[6, 2000, 'm6']]);
  assert.equal(r.store.timerLastId('t'), 6);
  r.side.apply('a', { b: [{ a: 't', e: 1, d: [{ s: 3, f: 1, w: [], t: [7, 3000, 'm7'], l: 9 }] }] });
  assert.deepEqual(r.store.timers('t'), [[7, 3000, 'm7']], 'the snapshot replaced the timers');
  const reply = r.side.fence('b', 't', 1);
  assert.deepEqual(reply.timers, [[7, 3000, 'm7']]);
  assert.equal(reply.lastTimerId, 9, 'ids handed out before are never reused');
  assert.throws(() => parseDeltas('n9', { b: [{ a: 't', e: 1, d: [{ s: 1, w: [], t: [1, 2] }] }] }), /timers of t/);
});
