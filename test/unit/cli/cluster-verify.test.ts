import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CompareStateView, VerifyRowView, VerifyView } from '../../../src/cli/api-types.js';
import { renderCompareState, renderVerify, verifyFindings } from '../../../src/cli/commands/cluster.js';

function row(node: string, over: Partial<VerifyRowView> = {}, deep = true): VerifyRowView {
  return { node, status: 'ok', hosted: 2, held: 3, mismatched: 0, ...(deep ? { missing: 0, stale: 0, extra: 0, conflicting: 0 } : {}), error: null, ...over };
}

function report(rows: VerifyRowView[], deep = true, conflicts: VerifyView['conflicts'] = []): VerifyView {
  const ok = rows.every((r) => r.status === 'ok');
  return { deep, ok, nodes: rows.map((r) => r.node), rows, conflicts };
}

test('cli cluster verify - no drift: a row per node and one OK line', () => {
  const text = renderVerify(report([row('node-1'), row('node-2'), row('node-3')], false));
  const lines = text.trimEnd().split('\n');
  assert.match(lines[0] as string, /^NODE\s+STATUS\s+HOSTED\s+HELD\s+MISMATCHED$/);
  assert.match(lines[2] as string, /^node-2\s+ok\s+2\s+3\s+0$/);
  assert.equal(lines.at(-1), 'OK: 3 nodes verified, no drift (directory digests compared; --deep compares entry by entry)');
  assert.doesNotMatch(text, /ERROR/);
  const deep = renderVerify(report([row('node-1')]));
  assert.match(deep, /^NODE\s+STATUS\s+HOSTED\s+HELD\s+MISMATCHED\s+MISSING\s+STALE\s+EXTRA\s+CONFLICTING\n/);
  assert.match(deep, /OK: 1 node verified, no drift \(every directory entry and hosted agent compared\)\n$/);
});

test('cli cluster verify - deep drift: the runbook\'s ERROR line per drifting node with missing, stale and extra counts', () => {
  const v = report([
    row('node-1'),
    row('node-2', { status: 'drift', mismatched: 2, missing: 3, stale: 1, extra: 2 }),
    row('node-3', { status: 'drift', mismatched: 1, extra: 1 }),
  ]);
  assert.deepEqual(verifyFindings(v), [
    'ERROR: node-2 state corruption detected: directory entries missing 3, stale 1, extra 2 (from 2 authorities)',
    'ERROR: node-3 state corruption detected: directory entries missing 0, stale 0, extra 1 (from 1 authority)',
  ]);
  const text = renderVerify(v);
  assert.match(text, /^node-2\s+DRIFT\s+2\s+3\s+2\s+3\s+1\s+2\s+0$/m);
  assert.match(text, /^node-1\s+ok\s+/m);
  assert.doesNotMatch(text, /^OK/m);
});

test('cli cluster verify - digest drift, agents on two nodes and a silent node each get their line', () => {
  const shallow = report([row('node-1', {}, false), row('node-2', { status: 'drift', mismatched: 1 }, false)], false);
  assert.deepEqual(verifyFindings(shallow), ['ERROR: node-2 state corruption detected: directory entries differ from 1 authority (--deep counts them)']);

  const v = report(
    [
      row('node-1', { status: 'drift', conflicting: 1 }),
      row('node-2'),
      row('node-3', { status: 'drift', conflicting: 1 }),
      row('node-4', { status: 'unreachable', hosted: 0, held: 0, error: 'dir.verify to node-4 timed out after 2000 ms' }),
    ],
    true,
    [{ agent: 'counter', nodes: ['node-1', 'node-3'] }],
  );
  assert.deepEqual(verifyFindings(v), [
    'ERROR: node-1 state corruption detected: 1 agent it hosts also runs elsewhere',
    'ERROR: node-3 state corruption detected: 1 agent it hosts also runs elsewhere',
    'ERROR: node-4 did not answer: dir.verify to node-4 timed out after 2000 ms',
    'ERROR: agent counter runs on node-1 and node-3 (conflicting owners)',
  ]);
  // A node that did not answer has no figures, not zeros.
  assert.match(renderVerify(v), /^node-4\s+UNREACHABLE\s+-\s+-\s+-\s+-\s+-\s+-\s+-$/m);
});

function stateRow(node: string, digest: string | null, majority: boolean | null, alive: number | null = 3): CompareStateView['nodes'][number] {
  const reached = digest !== null;
  return { node, status: reached ? 'ok' : 'unreachable', alive: reached ? alive : null, view_digest: digest, majority_view: majority, hosted: reached ? 1 : null, held: reached ? 2 : null, error: reached ? null : 'link down' };
}

test('cli cluster compare-state - one view: every node listed and an OK line; a split names the majority and the others', () => {
  const same = renderCompareState({ nodes: [stateRow('node-1', 'aaaa', true), stateRow('node-2', 'aaaa', true), stateRow('node-3', 'aaaa', true)], majority: ['node-1', 'node-2', 'node-3'] });
  assert.match(same, /^NODE\s+STATUS\s+MEMBERS\s+VIEW\s+MAJORITY\s+HOSTED\s+HELD\n/);
  assert.match(same, /^node-3\s+ok\s+3\s+aaaa\s+yes\s+1\s+2$/m);
  assert.match(same, /OK: 3 nodes see the same 3 members \(view aaaa\)\n$/);

  const split = renderCompareState({ nodes: [stateRow('node-1', 'aaaa', true, 2), stateRow('node-2', 'aaaa', true, 2), stateRow('node-3', 'bbbb', false, 1), stateRow('node-4', null, null)], majority: ['node-1', 'node-2'] });
  assert.match(split, /^node-3\s+ok\s+1\s+bbbb\s+NO\s+/m);
  assert.match(split, /^node-4\s+UNREACHABLE\s+-\s+-\s+-\s+-\s+-$/m);
  assert.match(split, /WARNING: the nodes see 2 different clusters; the majority view is held by node-1, node-2\n/);
  assert.match(split, /WARNING: node-3 sees another cluster \(1 member, view bbbb\)\n/);
  assert.match(split, /ERROR: node-4 did not answer: link down\n/);
  assert.doesNotMatch(split, /^OK/m);
});
