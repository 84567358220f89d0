import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evenly, rank } from '../../../../src/cluster/placement/rendezvous.js';
import { CaxtonError } from '../../../../src/errors.js';
import { agent, Harness, nameOwnedBy } from './harness.js';

test('directory verify - counts missing, stale and extra entries at the holder that has them, until anti-entropy repairs', async () => {
  const h = new Harness(5);
  try {
    await h.advance(600);
    const auth = 'node-1';
    const x = 'node-3'; // the holder that will miss posts
    const all = evenly(h.names);
    const caps = Array.from({ length: 1000 }, (_, i) => `c${i}`).filter((c) => rank(`cap:${c}`, all, 2).includes(x));
    const [ck, co, cn] = caps as [string, string, string];
    // Agents on their HRW owner: cap entries only, so the counts below are exact.
    const [keep, old, fresh] = [nameOwnedBy(h.d(auth), auth, 'keep'), nameOwnedBy(h.d(auth), auth, 'old'), nameOwnedBy(h.d(auth), auth, 'new')];
    h.d(auth).upsert(agent(keep, { capabilities: [ck] }));
    h.d(auth).upsert(agent(old, { capabilities: [co] }));
    await h.settle();
    // Posts from the authority to x get lost: an update (stale), a removal (extra), a new agent (missing).
    h.net.cut(auth, x);
    h.d(auth).upsert(agent(keep, { capabilities: [ck], state: 'suspended' }));
    h.d(auth).remove(old);
    h.d(auth).upsert(agent(fresh, { capabilities: [cn] }));
    await h.settle();
    h.net.heal();
    const kHolder = x;

    const report = await h.verify('node-2');
    assert.equal(report.ok, false);
    const sum = (k: 'missing' | 'stale' | 'extra') => report.rows.reduce((s, r) => s + (r[k] ?? 0), 0);
    assert.equal(sum('stale'), 1, JSON.stringify(report.rows));
    assert.equal(sum('extra'), 1);
    assert.equal(sum('missing'), 1);
    assert.equal(report.rows.find((r) => r.node === kHolder)?.status, 'drift');
    // Without --deep: the same nodes, by digest only.
    const shallow = await h.d('node-3').verify();
    assert.deepEqual(shallow.rows.filter((r) => r.status === 'drift').map((r) => r.node), report.rows.filter((r) => r.status === 'drift').map((r) => r.node));
    assert.equal(shallow.rows[0]?.missing, undefined);
    // --node: that node's row and the rows of nodes it is authority or holder for.
    const one = await h.d('node-2').verify({ deep: true, node: kHolder as string });
    assert.ok(one.rows.some((r) => r.node === kHolder));
    assert.deepEqual(one.rows.filter((r) => r.status === 'drift').map((r) => r.node), [x]);
    await assert.rejects(h.d('node-2').verify({ node: 'node-9' }), (e: unknown) => e instanceof CaxtonError && e.code === 'CAXTON_ERR_CLUSTER_UNKNOWN_NODE');

    await h.rounds(1);
    const repaired = await h.verify('node-4');
    assert.equal(repaired.ok, true, JSON.stringify(repaired.rows));
    assert.deepEqual(repaired.rows.map((r) => r.node), h.names);
  } finally {
    h.close();
  }
});

test('directory verify - a node out of the view (isolated) is verified when named in `nodes`: it keeps no entry once pruned', async () => {
  const h = new Harness(4);
  try {
    await h.advance(600);
    const all = h.names;
    // Capabilities node-4 holds (one of the top 2 of their key), one per authority.
    const caps = Array.from({ length: 1000 }, (_, i) => `c${i}`).filter((c) => rank(`cap:${c}`, evenly(all), 2).includes('node-4'));
    all.forEach((n, i) => h.d(n).upsert(agent(nameOwnedBy(h.d(n), n, 'a'), { capabilities: [caps[i] as string] })));
    await h.settle();
    const held4 = [...h.d('node-4').held()].length;
    assert.ok(held4 > 0, 'node-4 holds entries before it leaves the view');
    // node-4 is isolated: out of every view, its own included, still up and answering.
    for (const a of [...h.d('node-4').hosted()]) h.d('node-4').remove(a.name);
    h.setView(['node-1', 'node-2', 'node-3'], all);
    await h.settle();
    const byView = await h.d('node-1').verify({ deep: true });
    assert.deepEqual(byView.rows.map((r) => r.node), ['node-1', 'node-2', 'node-3'], 'the alive view alone leaves node-4 out');
    await assert.rejects(h.d('node-1').verify({ node: 'node-4' }), (e: unknown) => e instanceof CaxtonError && e.code === 'CAXTON_ERR_CLUSTER_UNKNOWN_NODE');
    // Named, it is asked: until the next complete round it still holds what the authorities moved elsewhere.
    const before = await h.d('node-1').verify({ deep: true, node: 'node-4', nodes: all });
    const row = before.rows.find((r) => r.node === 'node-4');
    assert.equal(row?.status, 'drift', JSON.stringify(before.rows));
    assert.ok((row?.extra ?? 0) > 0);
    await h.rounds(1);
    const after = await h.d('node-1').verify({ deep: true, node: 'node-4', nodes: all });
    assert.equal(after.ok, true, JSON.stringify(after.rows));
    assert.deepEqual(after.rows.find((r) => r.node === 'node-4'), { node: 'node-4', status: 'ok', hosted: 0, held: 0, mismatched: 0, missing: 0, stale: 0, extra: 0, conflicting: 0 });
    const state = await h.d('node-2').compareState(all);
    assert.deepEqual(state.map((r) => [r.node, r.alive, r.majorityView]), [['node-1', 3, true], ['node-2', 3, true], ['node-3', 3, true], ['node-4', 3, true]]);
  } finally {
    h.close();
  }
});

test('directory compare-state - shows which nodes see a different cluster and which cannot be reached', async () => {
  const h = new Harness(5);
  try {
    h.d('node-4').upsert(agent('x'));
    h.setView(['node-1', 'node-2', 'node-3', 'node-4'], ['node-1', 'node-2', 'node-3']);
    h.net.down('node-5');
    const rows = await h.d('node-1').compareState();
    assert.deepEqual(rows.map((r) => [r.node, r.status]), [
      ['node-1', 'ok'],
      ['node-2', 'ok'],
      ['node-3', 'ok'],
      ['node-4', 'ok'],
    ]);
    assert.deepEqual(rows.map((r) => r.majorityView), [true, true, true, false]);
    assert.equal(rows.find((r) => r.node === 'node-4')?.alive, 5);
    assert.equal(rows.find((r) => r.node === 'node-4')?.hosted, 1);
    // node-4 still sees node-5 and asks it: unreachable.
    const fromFour = await h.d('node-4').compareState();
    assert.equal(fromFour.find((r) => r.node === 'node-5')?.status, 'unreachable');
    assert.match(fromFour.find((r) => r.node === 'node-5')?.error ?? '', /cannot be reached/);
  } finally {
    h.close();
  }
});
