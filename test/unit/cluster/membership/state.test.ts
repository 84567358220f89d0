import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType, NodeState, decodeMessage, type Alive, type PushNodeState, type Suspect } from '../../../../src/cluster/wire/index.js';
import { MemberTable } from '../../../../src/cluster/membership/state.js';
import { Awareness } from '../../../../src/cluster/membership/awareness.js';
import { Counters } from '../../../../src/cluster/membership/stats.js';
import { buildVsn, lanConfig, type MembershipConfig } from '../../../../src/cluster/membership/config.js';
import { silentLogger } from '../../../../src/cluster/membership/log.js';
import type { MemberEvent } from '../../../../src/cluster/membership/delegate.js';
import { FakeClock } from './fake-clock.js';
import { prng } from '../wire/helpers.js';

interface Sent {
  readonly node: string;
  readonly type: number;
  readonly notify: (() => void) | undefined;
}

function setup(overrides: Partial<MembershipConfig> = {}) {
  const config: MembershipConfig = { ...lanConfig('local'), ...overrides };
  const clock = new FakeClock();
  const counters = new Counters();
  const awareness = new Awareness(config.awarenessMaxMultiplier);
  const broadcasts: Sent[] = [];
  const events: MemberEvent[] = [];
  /** Messages sent straight to one member (sendTo): our alive, or a suspicion to its suspect. */
  const direct: { to: string; msg: Alive }[] = [];
  const accusations: { to: string; msg: Suspect }[] = [];
  let left = false;
  const table = new MemberTable({
    config,
    clock,
    random: prng(11),
    awareness,
    counters,
    log: silentLogger,
    broadcast: (node, message, notify) => broadcasts.push({ node, type: decodeMessage(message).type, notify }),
    emit: (ev) => events.push(ev),
    hasLeft: () => left,
    sendTo: (node, message) => {
      const m = decodeMessage(message);
      if (m.type === MessageType.Alive) direct.push({ to: node.name, msg: m.body });
      else if (m.type === MessageType.Suspect) accusations.push({ to: node.name, msg: m.body });
      else throw new Error(`unexpected message type ${m.type} sent to ${node.name}`);
    },
  });
  const vsn = buildVsn(config);
  const alive = (node: string, incarnation: number, last = 1, extra: Partial<Alive> = {}): Alive => ({
    Incarnation: incarnation,
    Node: node,
    Addr: Uint8Array.of(127, 0, 0, last),
    Port: 7946,
    Meta: null,
    Vsn: vsn,
    ...extra,
  });
  // Us, as Membership.create announces.
  table.aliveNode(alive('local', table.nextIncarnation(), 100), undefined, true);
  broadcasts.length = 0;
  events.length = 0;
  return {
    config,
    clock,
    counters,
    awareness,
    table,
    broadcasts,
    events,
    direct,
    accusations,
    alive,
    setLeft: () => {
      left = true;
    },
  };
}

const types = (events: MemberEvent[]): string[] => events.map((e) => ('member' in e ? `${e.type}:${e.member.name}` : e.type));

test('aliveNode - a new node is added alive, joins, and is re-gossiped (TestMemberList_AliveNode_NewNode)', () => {
  const s = setup();
  s.table.aliveNode(s.alive('test', 1));
  const n = s.table.get('test');
  assert.equal(n?.incarnation, 1);
  assert.equal(n?.state, NodeState.Alive);
  assert.equal(n?.stateChange, s.clock.now());
  assert.equal(n?.host, '127.0.0.1');
  assert.deepEqual(types(s.events), ['join:test']);
  assert.deepEqual(
    s.broadcasts.map((b) => [b.node, b.type]),
    [['test', MessageType.Alive]],
  );
  assert.equal(s.table.estNumNodes(), 2);
});

test('aliveNode - old incarnations do not revive a suspect; a newer one does, without a join (TestMemberList_AliveNode_SuspectNode)', () => {
  const s = setup();
  s.table.aliveNode(s.alive('test', 1));
  s.table.suspectNode({ Incarnation: 1, Node: 'test', From: 'other' });
  s.events.length = 0;
  s.table.aliveNode(s.alive('test', 1));
  assert.equal(s.table.get('test')?.state, NodeState.Suspect);
  s.table.aliveNode(s.alive('test', 2));
  assert.equal(s.table.get('test')?.state, NodeState.Alive);
  assert.deepEqual(types(s.events), ['alive:test']);
});

test('aliveNode - idempotent at the same incarnation; new meta is an update (Idempotent, ChangeMeta)', () => {
  const s = setup();
  s.table.aliveNode(s.alive('test', 1));
  s.events.length = 0;
  s.broadcasts.length = 0;
  s.table.aliveNode(s.alive('test', 1));
  assert.deepEqual(s.events, []);
  assert.deepEqual(s.broadcasts, []);
  s.table.aliveNode(s.alive('test', 2, 1, { Meta: Uint8Array.of(1, 2, 3) }));
  assert.deepEqual(types(s.events), ['update:test']);
  assert.deepEqual(Array.from(s.table.get('test')?.meta ?? []), [1, 2, 3]);
});

test('aliveNode - about us with other meta at our incarnation: refute with a higher one (TestMemberList_AliveNode_Refute)', () => {
  const s = setup();
  const before = s.table.get('local')?.incarnation ?? 0;
  // Same incarnation and content: harmless.
  s.table.aliveNode(s.alive('local', before, 100));
  assert.equal(s.broadcasts.length, 0);
  s.table.aliveNode(s.alive('local', before, 100, { Meta: Uint8Array.of(9) }));
  const me = s.table.get('local');
  assert.equal(me?.incarnation, before + 1);
  assert.equal(me?.meta.length, 0, 'our meta stays ours');
  assert.equal(s.awareness.score, 1);
  assert.deepEqual(
    s.broadcasts.map((b) => [b.node, b.type]),
    [['local', MessageType.Alive]],
  );
  // A restart seen from the old incarnation 7 (we are at 2): jump past it.
  s.table.aliveNode(s.alive('local', 7, 100));
  assert.equal(s.table.get('local')?.incarnation, 8);
  assert.equal(s.counters.refutations, 2);
});

test('aliveNode - another address for a live name is a conflict, not accepted (TestMemberList_AliveNode_Conflict)', () => {
  const s = setup();
  s.table.aliveNode(s.alive('test', 1, 1));
  s.events.length = 0;
  s.table.aliveNode(s.alive('test', 2, 2));
  assert.equal(s.table.get('test')?.host, '127.0.0.1');
  assert.equal(s.table.get('test')?.incarnation, 1);
  const [ev] = s.events;
  assert.equal(ev?.type, 'conflict');
  if (ev?.type === 'conflict') {
    assert.equal(ev.existing.host, '127.0.0.1');
    assert.equal(ev.other.host, '127.0.0.2');
  }
  // Someone else claiming *our* name is a conflict too.
  s.table.aliveNode(s.alive('local', 5, 3));
  assert.equal(s.events.length, 2);
  assert.equal(s.table.get('local')?.host, '127.0.0.100');
  assert.equal(s.counters.conflicts, 2);
});

test('aliveNode - a left node, or one dead for longer than deadNodeReclaimTime, may come back at another address', () => {
  const s = setup({ deadNodeReclaimTimeMs: 5_000 });
  s.table.aliveNode(s.alive('a', 1, 1));
  s.table.aliveNode(s.alive('b', 1, 2));
  s.table.deadNode({ Incarnation: 1, Node: 'a', From: 'a' }); // left
  s.table.deadNode({ Incarnation: 1, Node: 'b', From: 'local' }); // failed
  s.events.length = 0;
  s.table.aliveNode(s.alive('a', 1, 11)); // same incarnation is fine when the address changes
  assert.equal(s.table.get('a')?.host, '127.0.0.11');
  assert.equal(s.table.get('a')?.state, NodeState.Alive);
  s.table.aliveNode(s.alive('b', 2, 12));
  assert.equal(s.table.get('b')?.host, '127.0.0.2', 'dead too recently');
  s.clock.advance(5_001);
  s.table.aliveNode(s.alive('b', 2, 12));
  assert.equal(s.table.get('b')?.host, '127.0.0.12');
  assert.deepEqual(types(s.events), ['join:a', 'conflict', 'join:b']);
  assert.equal(s.table.atAddress('127.0.0.12', 7946)?.name, 'b');
  assert.equal(s.table.atAddress('127.0.0.2', 7946), undefined);
});

test('aliveNode - refuses bad versions and addresses; ignores our own alive once we left', () => {
  const s = setup();
  s.table.aliveNode(s.alive('v', 1, 1, { Vsn: Uint8Array.of(0, 5, 2, 0, 0, 0) }));
  s.table.aliveNode(s.alive('w', 1, 1, { Vsn: Uint8Array.of(3, 2, 2, 0, 0, 0) }));
  s.table.aliveNode(s.alive('x', 1, 1, { Addr: Uint8Array.of(1, 2, 3) }));
  s.table.aliveNode(s.alive('y', 0, 1));
  assert.equal(s.table.estNumNodes(), 1);
  s.setLeft();
  s.table.aliveNode(s.alive('local', 50, 100));
  assert.equal(s.table.get('local')?.incarnation, 1);
});

test('suspectNode - unknown, stale and non-alive are ignored; alive becomes suspect (NoNode, OldSuspect, SuspectNode)', () => {
  const s = setup();
  s.table.suspectNode({ Incarnation: 1, Node: 'nobody', From: 'x' });
  s.table.aliveNode(s.alive('test', 5));
  s.broadcasts.length = 0;
  s.events.length = 0;
  s.table.suspectNode({ Incarnation: 4, Node: 'test', From: 'x' });
  assert.equal(s.table.get('test')?.state, NodeState.Alive);
  s.table.suspectNode({ Incarnation: 5, Node: 'test', From: 'x' });
  assert.equal(s.table.get('test')?.state, NodeState.Suspect);
  assert.deepEqual(types(s.events), ['suspect:test']);
  assert.deepEqual(
    s.broadcasts.map((b) => [b.node, b.type]),
    [['test', MessageType.Suspect]],
  );
});

test('suspectNode - the timer declares the node dead at min when no confirmations are expected (2 nodes)', () => {
  const s = setup();
  s.table.aliveNode(s.alive('test', 1));
  s.table.suspectNode({ Incarnation: 1, Node: 'test', From: 'x' });
  // n = 2 < k + 2 → k = 0 → min = 4 × 1 × 1000.
  s.clock.advance(3_999);
  assert.equal(s.table.get('test')?.state, NodeState.Suspect);
  s.clock.advance(1);
  assert.equal(s.table.get('test')?.state, NodeState.Dead);
  assert.equal(s.counters.suspicionTimeouts, 1);
  assert.equal(s.counters.degradedSuspicionTimeouts, 0);
  assert.deepEqual(types(s.events).slice(-2), ['suspect:test', 'failed:test']);
});

test('suspectNode - confirmations from other accusers shrink the timer and are re-gossiped once each (DoubleSuspect)', () => {
  const s = setup();
  for (let i = 1; i <= 5; i++) s.table.aliveNode(s.alive(`n${i}`, 1, i));
  // 6 nodes, suspicionMult 4 → k = 2, min 4 s, max 24 s.
  s.broadcasts.length = 0;
  s.table.suspectNode({ Incarnation: 1, Node: 'n1', From: 'n2' });
  s.table.suspectNode({ Incarnation: 1, Node: 'n1', From: 'n2' });
  assert.equal(s.broadcasts.length, 1, 'same accuser: no new information');
  s.clock.advance(1_000);
  s.table.suspectNode({ Incarnation: 1, Node: 'n1', From: 'n3' });
  assert.equal(s.broadcasts.length, 2);
  // one confirmation: max − log 2 / log 3 × 20 s = 24 − 12.619 = 11.381 s from the start
  s.clock.advance(10_380);
  assert.equal(s.table.get('n1')?.state, NodeState.Suspect);
  s.clock.advance(1);
  assert.equal(s.table.get('n1')?.state, NodeState.Dead);
  assert.equal(s.counters.degradedSuspicionTimeouts, 1, 'fewer than k confirmations');
});

test('suspectNode - about us: refute, never suspect ourselves (TestMemberList_SuspectNode_Refute)', () => {
  const s = setup();
  s.table.suspectNode({ Incarnation: 1, Node: 'local', From: 'x' });
  const me = s.table.get('local');
  assert.equal(me?.state, NodeState.Alive);
  assert.equal(me?.incarnation, 2);
  assert.equal(s.awareness.score, 1);
  assert.deepEqual(s.events, []);
});

test('accusations about us: our current alive goes straight to the accuser and to the node that passed it on, once per probe interval each', () => {
  const s = setup();
  s.table.aliveNode(s.alive('x', 1, 5));
  s.table.aliveNode(s.alive('y', 1, 6));
  const fromX = { host: '127.0.0.5', port: 7946 };
  const fromY = { host: '127.0.0.6', port: 7946 };
  s.events.length = 0;
  s.broadcasts.length = 0;
  const sent = (): (string | number)[][] => s.direct.map((d) => [d.to, d.msg.Node, d.msg.Incarnation]);
  // x accuses us and y passes it on: refuted by gossip, and our new alive goes to both, since gossip
  // may carry it to neither before their timers fire.
  s.table.suspectNode({ Incarnation: 1, Node: 'local', From: 'x' }, fromY);
  assert.equal(s.table.get('local')?.incarnation, 2);
  assert.deepEqual(s.broadcasts.map((b) => [b.node, b.type]), [['local', MessageType.Alive]]);
  assert.deepEqual(sent(), [['x', 'local', 2], ['y', 'local', 2]]);
  // x missed the refutation: its buddy-system ping still carries the old accusation. Answered already.
  s.table.suspectNode({ Incarnation: 1, Node: 'local', From: 'x' }, fromX);
  assert.equal(s.direct.length, 2, 'rate limited');
  s.clock.advance(s.config.probeIntervalMs);
  s.table.suspectNode({ Incarnation: 1, Node: 'local', From: 'x' }, fromX);
  assert.deepEqual(sent().slice(2), [['x', 'local', 2]], 'after the interval');
  s.table.deadNode({ Incarnation: 1, Node: 'local', From: 'y' });
  assert.deepEqual(sent().slice(3), [['y', 'local', 2]], 'a stale dead message too');
  s.clock.advance(s.config.probeIntervalMs);
  s.table.suspectNode({ Incarnation: 1, Node: 'local', From: 'nobody-we-know' }, { host: '127.0.0.99', port: 7946 });
  assert.equal(s.direct.length, 4, 'an unknown accuser, passed on from an unknown address, gets nothing');
  assert.equal(s.counters.reassertions, 4);
  assert.equal(s.table.get('local')?.incarnation, 2, 'no new incarnation: the alive is the current one');
  // Accused again at our new incarnation (x's next probe failed too): the new refutation goes to x at
  // once, although x was sent the previous one within the interval.
  s.table.suspectNode({ Incarnation: 1, Node: 'local', From: 'x' }, fromX);
  assert.equal(s.direct.length, 5);
  s.table.suspectNode({ Incarnation: 2, Node: 'local', From: 'x' }, fromX);
  assert.equal(s.table.get('local')?.incarnation, 3);
  assert.deepEqual(sent().slice(5), [['x', 'local', 3]]);
  assert.deepEqual(s.accusations, []);
  assert.deepEqual(s.events, []);
  // Once we leave, we no longer announce ourselves alive to anyone.
  s.setLeft();
  s.table.suspectNode({ Incarnation: 1, Node: 'local', From: 'x' }, fromX);
  s.table.deadNode({ Incarnation: 1, Node: 'local', From: 'y' }, undefined, fromY);
  assert.equal(s.direct.length, 6, 'nothing after leave');
});

test('suspectNode - a new suspicion is sent straight to the suspect, alone, once; confirmations are not', () => {
  const s = setup();
  for (let i = 1; i <= 5; i++) s.table.aliveNode(s.alive(`n${i}`, 1, i));
  s.table.suspectNode({ Incarnation: 1, Node: 'n1', From: 'n2' }, { host: '127.0.0.2', port: 7946 });
  assert.deepEqual(s.accusations.map((a) => [a.to, a.msg.Node, a.msg.Incarnation, a.msg.From]), [['n1', 'n1', 1, 'n2']]);
  s.table.suspectNode({ Incarnation: 1, Node: 'n1', From: 'n3' });
  s.table.suspectNode({ Incarnation: 0, Node: 'n4', From: 'n3' });
  assert.equal(s.accusations.length, 1, 'a confirmation or a stale suspicion is not sent on');
  assert.equal(s.counters.accusationsSent, 1);
  assert.deepEqual(s.direct, []);
});

test('deadNode - failed vs left, double, stale, replayed alive (DeadNode, DeadNodeLeft, Double, OldDead, AliveReplay)', () => {
  const s = setup();
  s.table.deadNode({ Incarnation: 1, Node: 'nobody', From: 'x' });
  s.table.aliveNode(s.alive('a', 3, 1));
  s.table.aliveNode(s.alive('b', 1, 2));
  s.events.length = 0;
  s.table.deadNode({ Incarnation: 2, Node: 'a', From: 'x' });
  assert.equal(s.table.get('a')?.state, NodeState.Alive, 'stale');
  s.table.deadNode({ Incarnation: 3, Node: 'a', From: 'x' });
  assert.equal(s.table.get('a')?.state, NodeState.Dead);
  s.table.deadNode({ Incarnation: 3, Node: 'a', From: 'y' });
  s.table.aliveNode(s.alive('a', 3, 1));
  assert.equal(s.table.get('a')?.state, NodeState.Dead, 'an alive at the same incarnation does not revive');
  s.table.deadNode({ Incarnation: 1, Node: 'b', From: 'b' });
  assert.equal(s.table.get('b')?.state, NodeState.Left);
  assert.deepEqual(types(s.events), ['failed:a', 'left:b']);
  s.table.aliveNode(s.alive('a', 4, 1));
  assert.deepEqual(types(s.events), ['failed:a', 'left:b', 'join:a']);
});

test('deadNode - about us: refute unless leaving; leaving broadcasts with the notify (DeadNode_Refute)', () => {
  const s = setup();
  s.table.deadNode({ Incarnation: 1, Node: 'local', From: 'x' });
  assert.equal(s.table.get('local')?.state, NodeState.Alive);
  assert.equal(s.table.get('local')?.incarnation, 2);
  s.broadcasts.length = 0;
  s.setLeft();
  let notified = false;
  s.table.deadNode({ Incarnation: 2, Node: 'local', From: 'local' }, () => (notified = true));
  assert.equal(s.table.get('local')?.state, NodeState.Left);
  assert.equal(s.broadcasts.length, 1);
  s.broadcasts[0]?.notify?.();
  assert.ok(notified);
  assert.deepEqual(types(s.events), ['left:local']);
});

test('mergeState - memberlist TestMemberList_MergeState: remote dead becomes suspect here', () => {
  const s = setup();
  s.table.aliveNode(s.alive('test1', 1, 1));
  s.table.aliveNode(s.alive('test2', 1, 2));
  s.table.aliveNode(s.alive('test3', 1, 3));
  s.table.suspectNode({ Incarnation: 1, Node: 'test1', From: 'x' });
  s.events.length = 0;
  const node = (name: string, last: number, inc: number, state: number): PushNodeState => ({
    Name: name,
    Addr: Uint8Array.of(127, 0, 0, last),
    Port: 7946,
    Meta: null,
    Incarnation: inc,
    State: state,
    Vsn: null,
  });
  s.table.mergeState([
    node('test1', 1, 2, NodeState.Alive),
    node('test2', 2, 1, NodeState.Suspect),
    node('test3', 3, 1, NodeState.Dead),
    node('test4', 4, 2, NodeState.Alive),
  ]);
  assert.equal(s.table.get('test1')?.state, NodeState.Alive);
  assert.equal(s.table.get('test1')?.incarnation, 2);
  assert.equal(s.table.get('test2')?.state, NodeState.Suspect);
  assert.equal(s.table.get('test3')?.state, NodeState.Suspect);
  assert.equal(s.table.get('test4')?.state, NodeState.Alive);
  assert.deepEqual(types(s.events), ['alive:test1', 'suspect:test2', 'suspect:test3', 'join:test4']);
});

test('mergeState - a restarted node learns its old incarnation and takes a higher one', () => {
  const s = setup();
  s.table.mergeState([
    { Name: 'local', Addr: Uint8Array.of(127, 0, 0, 100), Port: 7946, Meta: null, Incarnation: 9, State: NodeState.Dead, Vsn: buildVsn(s.config) },
  ]);
  assert.equal(s.table.get('local')?.incarnation, 10);
  assert.equal(s.table.get('local')?.state, NodeState.Alive);
});

test('resetNodes - reaps dead and left nodes after gossipToTheDead, with a reaped event', () => {
  const s = setup({ gossipToTheDeadMs: 1_000 });
  s.table.aliveNode(s.alive('a', 1, 1));
  s.table.aliveNode(s.alive('b', 1, 2));
  s.table.aliveNode(s.alive('c', 1, 3));
  s.table.deadNode({ Incarnation: 1, Node: 'a', From: 'x' });
  s.table.deadNode({ Incarnation: 1, Node: 'b', From: 'b' });
  s.events.length = 0;
  assert.deepEqual(s.table.resetNodes(), []);
  s.clock.advance(1_001);
  assert.deepEqual(
    s.table
      .resetNodes()
      .map((n) => n.name)
      .sort(),
    ['a', 'b'],
  );
  assert.equal(s.table.get('a'), undefined);
  assert.equal(s.table.estNumNodes(), 2);
  assert.deepEqual(types(s.events).sort(), ['reaped:a', 'reaped:b']);
  assert.equal(s.counters.reaped, 2);
});
