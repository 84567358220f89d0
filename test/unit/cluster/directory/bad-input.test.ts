import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaxtonError } from '../../../../src/errors.js';
import { agent, Harness } from './harness.js';

const entry = (over: Record<string, unknown> = {}) => ({
  kind: 'cap', key: 'c', agent: 'a', id: 'id-a', node: 'node-2', state: 'running', epoch: 1, inc: 5, ctr: 1, ...over,
});

/** Posts that a peer must refuse, each with the words its logged reason must contain. */
const badPosts: [kind: string, body: unknown, reason: RegExp][] = [
  ['dir.update', null, /dir\.update must be an object/],
  ['dir.update', 'garbage', /dir\.update must be an object/],
  ['dir.update', { entries: 'x' }, /entries must be an array/],
  ['dir.update', { entries: [entry({ kind: 'nope' })] }, /kind must be "name", "cap" or "topic"/],
  ['dir.update', { entries: [entry({ key: '' })] }, /\.key must be a string/],
  ['dir.update', { entries: [entry({ epoch: -1 })] }, /\.epoch must be a non-negative integer/],
  ['dir.update', { entries: [entry({ ctr: 1.5 })] }, /\.ctr must be a non-negative integer/],
  ['dir.update', { entries: [entry({ inc: '5' })] }, /\.inc must be a non-negative integer/],
  ['dir.update', { entries: [entry({ tombstone: 'yes' })] }, /tombstone must be true or absent/],
  ['dir.update', { entries: [entry({ kind: 'name', key: 'b', agent: 'a' })] }, /key must equal .*agent/],
  ['dir.update', { entries: [entry({ kind: 'name', key: 'a', capabilities: [1] })] }, /capabilities\[0\] must be a string/],
  ['dir.update', { entries: [entry({ agent: 'x'.repeat(600) })] }, /agent must be a string of 1 to 512/],
  ['dir.update', { entries: Array.from({ length: 5000 }, () => entry()) }, /more than 4096/],
  // An authority announces only its own agents: node-2 cannot speak for node-3.
  ['dir.update', { entries: [entry({ node: 'node-3' })] }, /carries an entry of node node-3/],
  ['dir.sync', { round: 1, inc: 1, ctr: 1, chunks: 1 }, /entries must be an array/],
  ['dir.sync', { round: 0, inc: 1, ctr: 1, chunks: 1, entries: [] }, /round and dir\.sync\.chunks must be 1 or more/],
  ['dir.sync', { round: 1, inc: 1, ctr: 1, entries: [] }, /chunks must be a non-negative integer/],
  ['dir.sync', [], /dir\.sync must be an object/],
  ['dir.moved', { name: 'a' }, /dir\.moved\.node must be a string/],
  ['dir.moved', 42, /dir\.moved must be an object/],
];

test('directory - malformed posts from a peer are refused with a logged reason, and the node keeps serving', async () => {
  const h = new Harness(3);
  try {
    await h.advance(600);
    h.d('node-1').upsert(agent('good', { capabilities: ['c'] }));
    await h.settle();
    const from = h.peers.get('node-2');
    for (const [kind, body, reason] of badPosts) {
      const before = h.warns.length;
      const refusedBefore = h.d('node-3').stats.refused;
      assert.equal(from?.post('node-3', kind, body), true);
      await h.settle();
      assert.equal(h.d('node-3').stats.refused, refusedBefore + 1, `${kind} ${JSON.stringify(body)?.slice(0, 80)} refused`);
      const w = h.warns.slice(before).find((x) => x.node === 'node-3');
      assert.ok(w !== undefined, `a warning for ${kind}`);
      assert.equal(w.obj['from'], 'node-2');
      assert.equal(w.obj['kind'], kind);
      assert.match(String(w.obj['reason']), reason);
    }
    // Nothing of it was kept, and the node still answers.
    assert.equal([...h.d('node-3').held()].filter((e) => e.agent === 'a').length, 0);
    assert.deepEqual((await h.d('node-2').providers('c')).map((p) => p.agent), ['good']);
    assert.equal((await h.d('node-3').verify()).ok, true);
  } finally {
    h.close();
  }
});

test('directory - malformed calls are answered with CAXTON_ERR_CLUSTER_FRAME naming the field, and logged', async () => {
  const h = new Harness(3);
  try {
    const peers = h.peers.get('node-1');
    const cases: [method: string, body: unknown, reason: RegExp][] = [
      ['dir.lookup', null, /dir\.lookup must be an object/],
      ['dir.lookup', { kind: 'cap' }, /dir\.lookup\.key must be a string/],
      ['dir.lookup', { kind: 'agents', key: 'x' }, /dir\.lookup\.kind must be/],
      ['dir.verify', { deep: 'yes' }, /dir\.verify\.deep must be a boolean/],
      ['dir.verify', 'x', /dir\.verify must be an object/],
    ];
    for (const [method, body, reason] of cases) {
      await assert.rejects(peers!.call('node-2', method, body), (e: unknown) => {
        assert.ok(e instanceof CaxtonError);
        assert.equal(e.code, 'CAXTON_ERR_CLUSTER_FRAME');
        assert.match(e.message, reason);
        return true;
      });
    }
    assert.equal(h.d('node-2').stats.refused, cases.length);
    assert.equal(h.warns.filter((w) => w.node === 'node-2').length, cases.length);
    assert.deepEqual(await peers!.call('node-2', 'dir.lookup', { kind: 'cap', key: 'c' }), { entries: [] });
  } finally {
    h.close();
  }
});

test('directory - a peer answering lookups or verify with garbage: the asker fails over or reports it, never crashes', async () => {
  const h = new Harness(3);
  try {
    await h.advance(600);
    h.d('node-1').upsert(agent('good', { capabilities: ['c'] }));
    await h.settle();
    // node-3 runs something else that answers the directory's calls with nonsense.
    h.peers.get('node-3')?.onCall('dir.lookup', () => ({ entries: [{ kind: 'cap' }] }));
    h.peers.get('node-3')?.onCall('dir.verify', () => 'nonsense');
    for (const n of ['node-1', 'node-2']) {
      // The other holder answers (or this node is one): providers still come back when one holder lies.
      const holders = h.d(n).holdersOf('cap:c');
      const ps = await h.d(n).providers('c').catch((e: unknown) => e);
      if (holders.every((x) => x === 'node-3')) assert.ok(ps instanceof CaxtonError);
      else assert.deepEqual((ps as { agent: string }[]).map((p) => p.agent), ['good']);
    }
    const r = await h.d('node-1').verify();
    const row = r.rows.find((x) => x.node === 'node-3');
    assert.equal(row?.status, 'unreachable');
    assert.match(row?.error ?? '', /dir\.verify answer from node-3 must be an object/);
    assert.equal(r.ok, false);
  } finally {
    h.close();
  }
});

test('directory - options out of range are refused at construction', () => {
  assert.throws(() => new Harness(1, { holders: 0 }), /holders must be an integer of 1 or more/);
});
