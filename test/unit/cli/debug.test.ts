import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CascadeEventView, ErrorCascadeView } from '../../../src/cli/api-types.js';
import { renderCascades } from '../../../src/cli/commands/debug.js';
import { runCli } from '../../helpers/server.js';

const clean = { CAXTON_API_URL: '', CAXTON_API_KEY: '', CAXTON_DATA_DIR: '' };

function event(kind: CascadeEventView['kind'], agent: string | null, peer: string | null, detail: string): CascadeEventView {
  return { time: '2026-01-01T00:00:00.000Z', kind, agent, peer, detail, message_id: null, conversation_id: null };
}

function view(cascades: ErrorCascadeView['cascades'], total = cascades.length): ErrorCascadeView {
  return { since: '2026-01-01T00:00:00.000Z', until: '2026-01-01T00:05:00.000Z', errors: total, cascades_total: total, truncated: total > cascades.length, cascades };
}

function cascade(root: CascadeEventView): ErrorCascadeView['cascades'][number] {
  return { root, first_at: root.time, last_at: root.time, errors: 1, agents: [], affected: root.peer === null ? [] : [root.peer], events: [root] };
}

test('trace --error-cascade - a root whose agent the journal does not know is not blamed on the one that felt it', () => {
  const text = renderCascades(view([cascade(event('failure', null, 'api', 'agent_crashed: calc crashed'))]), 300_000);
  assert.match(text, /^root cause: \(unknown agent\): failure agent_crashed: calc crashed \(felt by api\)$/m);
  assert.doesNotMatch(text, /root cause: api/);
  const known = renderCascades(view([cascade(event('poison', 'calc', 'api', 'trap'))]), 300_000);
  assert.match(known, /^root cause: calc: poison trap$/m);
});

test('trace --error-cascade - a truncated answer says how many cascades there were and how many are shown', () => {
  const shown = [cascade(event('fault', 'a', null, 'x')), cascade(event('fault', 'b', null, 'y'))];
  const text = renderCascades(view(shown, 250), 3_600_000);
  assert.match(text, /^250 errors in the last 1h, in 250 cascades; the largest 2 shown$/m);
  assert.match(text, /^… 248 smaller cascades not shown \(narrow --last to see them\)$/m);
  assert.doesNotMatch(renderCascades(view(shown), 60_000), /not shown/);
});

test('trace --error-cascade - --last past 30 days is a usage error naming --last, before the node is asked', async () => {
  for (const args of [['trace', '--error-cascade', '--last', '60d'], ['analyze', 'messages', '--pattern', 'x', '--last', '31d']]) {
    // No node listens at that URL: the check comes first.
    const r = await runCli([...args, '--api-url', 'http://127.0.0.1:9'], { env: clean });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^error: --last may be at most 30d, got \d+d$/m);
    assert.doesNotMatch(r.stderr, /querystring|last_ms/);
  }
  const ok = await runCli(['trace', '--error-cascade', '--last', '30d', '--api-url', 'http://127.0.0.1:9'], { env: clean });
  assert.equal(ok.code, 1, 'exactly 30d is asked for (and the node is unreachable)');
});
