import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claimBeats, hrwRank, placementNodes, replicasFor, takeoverNode, upNodes, type MemberView } from '../../../src/agents/ownership.js';
import { planRebalance, targets, type NodeLoad } from '../../../src/agents/rebalance.js';
import { watchLine } from '../../../src/agents/cluster-events.js';

const members: MemberView[] = [
  { name: 'a', status: 'alive', tags: { role: 'caxton' } },
  { name: 'b', status: 'suspect', tags: { role: 'caxton' } },
  { name: 'c', status: 'alive', tags: { role: 'caxton', isolated: '1' } },
  { name: 'd', status: 'failed', tags: { role: 'caxton' } },
  { name: 'serf', status: 'alive', tags: {} },
];

test('ownership - placement takes up Caxton members that are not isolated; up nodes keep isolated ones', () => {
  assert.deepEqual(placementNodes(members), ['a', 'b']);
  assert.deepEqual(upNodes(members), ['a', 'b', 'c']);
});

test('ownership - replicas are the first other nodes in rank, whoever holds the agent', () => {
  const nodes = ['n1', 'n2', 'n3', 'n4'];
  const order = hrwRank('agent-x', nodes);
  assert.deepEqual(replicasFor('agent-x', order[0] as string, nodes, 2), order.slice(1, 3));
  assert.deepEqual(replicasFor('agent-x', order[2] as string, nodes, 2), order.slice(0, 2));
});

test('ownership - the takeover node is the first up holder in rank, none when no holder is up', () => {
  const nodes = ['n1', 'n2', 'n3', 'n4'];
  const order = hrwRank('agent-y', nodes);
  const holders = [order[2] as string, order[3] as string];
  assert.equal(takeoverNode('agent-y', holders, nodes), order[2]);
  assert.equal(takeoverNode('agent-y', holders, nodes.filter((n) => n !== order[2])), order[3]);
  assert.equal(takeoverNode('agent-y', holders, [order[0] as string, order[1] as string]), undefined);
});

test('ownership - claims: the higher epoch wins, then the better rank, then the smaller name; never both', () => {
  const nodes = ['n1', 'n2', 'n3'];
  const [first, second] = hrwRank('z', nodes) as [string, string];
  const cases: [{ node: string; epoch: number }, { node: string; epoch: number }, boolean][] = [
    [{ node: second, epoch: 3 }, { node: first, epoch: 2 }, true],
    [{ node: first, epoch: 2 }, { node: second, epoch: 3 }, false],
    [{ node: first, epoch: 2 }, { node: second, epoch: 2 }, true],
    [{ node: second, epoch: 2 }, { node: first, epoch: 2 }, false],
    [{ node: 'gone-a', epoch: 1 }, { node: 'gone-b', epoch: 1 }, true],
    [{ node: first, epoch: 1 }, { node: first, epoch: 1 }, false],
  ];
  for (const [a, b, want] of cases) {
    assert.equal(claimBeats('z', a, b, nodes), want, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    if (a.node !== b.node) assert.equal(claimBeats('z', b, a, nodes), !want, 'exactly one of two different claims wins');
  }
});

const load = (node: string, n: number, cpuPercent: number | null = null): NodeLoad => ({ node, agents: Array.from({ length: n }, (_, i) => `${node}-agent${i}`), cpuPercent });

test('rebalance - targets: even shares ±1, or shares by free CPU (a node without the tag counts as half busy)', () => {
  assert.deepEqual([...targets([load('a', 7), load('b', 0), load('c', 0)], 'even-distribution')], [['a', 3], ['b', 2], ['c', 2]]);
  assert.deepEqual([...targets([load('a', 8, 90), load('b', 0, 10), load('c', 0, null)], 'least-loaded')], [['a', 0], ['b', 5], ['c', 3]]);
  // Equal remainders go to the nodes that have the agents already: 2 agents on c over 3 nodes move once.
  assert.deepEqual([...targets([load('a', 0), load('b', 0), load('c', 2)], 'even-distribution')], [['a', 1], ['b', 0], ['c', 1]]);
});

test('rebalance - a plan moves from the fullest to the emptiest, bounded per round, and is empty once balanced', () => {
  const nodes = [load('a', 6), load('b', 0), load('c', 0)];
  const plan = planRebalance(nodes, 'even-distribution', 3, hrwRank);
  assert.equal(plan.length, 3);
  assert.ok(plan.every((m) => m.from === 'a' && m.to !== 'a'));
  const all = planRebalance(nodes, 'even-distribution', 100, hrwRank);
  assert.equal(all.length, 4);
  const after = ['a', 'b', 'c'].map((n) => ({ node: n, agents: [...nodes.find((x) => x.node === n)!.agents.filter((x) => !all.some((m) => m.agent === x)), ...all.filter((m) => m.to === n).map((m) => m.agent)], cpuPercent: null }));
  assert.deepEqual(after.map((x) => x.agents.length), [2, 2, 2]);
  assert.deepEqual(planRebalance(after, 'even-distribution', 100, hrwRank), []);
});

test('rebalance - agents whose rendezvous owner has room go home first', () => {
  const names = ['a', 'b'];
  const agents = Array.from({ length: 8 }, (_, i) => `x${i}`);
  const plan = planRebalance([{ node: 'a', agents, cpuPercent: null }, { node: 'b', agents: [], cpuPercent: null }], 'even-distribution', 100, hrwRank);
  const homeB = agents.filter((x) => hrwRank(x, names)[0] === 'b');
  const firstMoves = plan.slice(0, Math.min(4, homeB.length)).map((m) => m.agent);
  assert.ok(firstMoves.every((x) => homeB.includes(x)), `${JSON.stringify(firstMoves)} should be among ${JSON.stringify(homeB)}`);
});

test('cluster watch lines - agent events read as the runbook writes them', () => {
  assert.equal(watchLine({ type: 'agent_moved', agent: 'counter', from: 'node-2', to: 'node-3', reason: 'failover', epoch: 4 }), '[INFO] agent counter moved node-2 → node-3 (failover, epoch 4)');
  assert.equal(watchLine({ type: 'agent_moved', agent: 'echo', from: 'node-1', to: 'node-2', reason: 'rebalance', epoch: 2, pauseMs: 11.3 }), '[INFO] agent echo moved node-1 → node-2 (rebalance, epoch 2, paused 11.3 ms)');
  assert.equal(watchLine({ type: 'agent_superseded', agent: 'counter', node: 'node-2', by: 'node-3', epoch: 3, byEpoch: 4 }), '[WARN] agent counter ran twice: stopped the copy on node-2 (epoch 3), node-3 keeps it (epoch 4)');
  assert.match(watchLine({ type: 'agent_unavailable', agent: 'x', owner: 'node-1', replicas: [] }), /^\[ERROR\] agent x has no live holder \(owner node-1, replicas none\)/);
  assert.match(watchLine({ type: 'agent_move_failed', agent: 'x', from: 'node-1', to: 'node-2', reason: 'leave', error: 'boom' }), /^\[WARN\] agent x did not move node-1 → node-2 \(leave\): boom; it runs on node-1$/);
});
