import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeState, type PushNodeState } from '../../../../src/cluster/wire/index.js';
import { verifyProtocol, type VersionedNode } from '../../../../src/cluster/membership/verify-protocol.js';

type Triple = [min: number, max: number, cur: number];

// memberlist TestVerifyProtocol: [min, max, cur] per node, checked for the core protocol and the
// delegate protocol, in both directions.
const cases: { a: Triple[]; b: Triple[]; ok: boolean; what: string }[] = [
  { what: 'identical', a: [[0, 0, 0]], b: [[0, 0, 0]], ok: true },
  { what: 'one understands newer, same speech', a: [[0, 0, 0]], b: [[0, 1, 0]], ok: true },
  { what: 'one speaks outside the range', a: [[0, 0, 0]], b: [[1, 1, 1]], ok: false },
  { what: 'transitively outside', a: [[0, 1, 0], [0, 2, 1]], b: [[1, 3, 1]], ok: false },
  { what: 'multi-node', a: [[0, 3, 2], [0, 2, 0]], b: [[0, 2, 1], [0, 5, 0]], ok: true },
];

function local(nodes: Triple[], core: boolean): VersionedNode[] {
  return nodes.map(([min, max, cur], i) => ({
    name: `local ${i}`,
    state: NodeState.Alive,
    vsn: core ? { pmin: min, pmax: max, pcur: cur, dmin: 0, dmax: 0, dcur: 0 } : { pmin: 0, pmax: 0, pcur: 0, dmin: min, dmax: max, dcur: cur },
  }));
}

function remote(nodes: Triple[], core: boolean): PushNodeState[] {
  return nodes.map(([min, max, cur], i) => ({
    Name: `node ${i}`,
    Addr: null,
    Port: 0,
    Meta: null,
    Incarnation: 0,
    State: NodeState.Alive,
    Vsn: Uint8Array.from(core ? [min, max, cur, 0, 0, 0] : [0, 0, 0, min, max, cur]),
  }));
}

test('verifyProtocol - memberlist TestVerifyProtocol table, core and delegate, both directions', () => {
  for (const c of cases) {
    for (const core of [true, false]) {
      assert.equal(verifyProtocol(local(c.a, core), remote(c.b, core)) === undefined, c.ok, `${c.what} A→B core=${core}`);
      assert.equal(verifyProtocol(local(c.b, core), remote(c.a, core)) === undefined, c.ok, `${c.what} B→A core=${core}`);
    }
  }
});

test('verifyProtocol - Caxton (speaks 2, 1..5) with Debian serf 0.9.4 ([1,5,2,2,5,5]) and a v1-only node', () => {
  const us: VersionedNode[] = [{ name: 'caxton', state: NodeState.Alive, vsn: { pmin: 1, pmax: 5, pcur: 2, dmin: 2, dmax: 5, dcur: 5 } }];
  const serf = remote([[1, 5, 2]], true).map((n) => ({ ...n, Name: 'serf1', Vsn: Uint8Array.of(1, 5, 2, 2, 5, 5) }));
  assert.equal(verifyProtocol(us, serf), undefined);
  const old = remote([[1, 1, 1]], true).map((n) => ({ ...n, Vsn: Uint8Array.of(1, 1, 1, 2, 5, 5) }));
  assert.match(verifyProtocol(us, old) ?? '', /protocol version \(2\) is incompatible: \[1, 1\]/);
  // Dead remote nodes do not narrow the range...
  const deadOld = old.map((n) => ({ ...n, State: NodeState.Dead }));
  assert.equal(verifyProtocol(us, deadOld), undefined);
  // ...but what they speak is still checked against it.
  const deadFuture = remote([[1, 6, 6]], true).map((n) => ({ ...n, State: NodeState.Dead, Vsn: Uint8Array.of(1, 6, 6, 2, 5, 5) }));
  assert.match(verifyProtocol(us, deadFuture) ?? '', /Node 'node 0' protocol version \(6\) is incompatible: \[1, 5\]/);
});
