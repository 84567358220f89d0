/** reply_by deadlines, through a WorkerRuntime running on the test's thread with a real agent and store. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admitModule } from '../../../src/sandbox/wasm/index.js';
import { makePolicy } from '../../../src/sandbox/policy.js';
import { initiatorAgent } from '../../helpers/wat-agents.js';
import { inThreadRuntime } from '../../helpers/runtime.js';
import type { FromWorker } from '../../../src/sandbox/worker-protocol.js';

async function run(replyInTime: boolean): Promise<{ last: Record<string, unknown>; posts: FromWorker[] }> {
  const t = inThreadRuntime();
  try {
    const replyBy = new Date(Date.now() + 150).toISOString();
    const request = JSON.stringify({ performative: 'request', receiver: 'slow', content: 1, reply_with: 'r1', conversation_id: 'c1', reply_by: replyBy });
    const admitted = admitModule(await initiatorAgent(request), makePolicy());
    t.rt.addModule('h', new WebAssembly.Module(admitted.bytes));
    t.rt.spawn({ op: 'spawn', key: 1, id: 'id', name: 'asker', hash: 'h', config: '{}', restarts: 0, hold: false });
    t.rt.deliverBatch(['asker', JSON.stringify({ performative: 'inform', sender: 'client', receiver: 'asker', content: 'go' }), 1]);
    if (replyInTime) {
      t.rt.deliverBatch(['asker', JSON.stringify({ performative: 'inform', sender: 'slow', receiver: 'asker', content: 'done', in_reply_to: 'r1', conversation_id: 'c1' }), 1]);
    }
    await new Promise((r) => setTimeout(r, 300));
    const last = JSON.parse(new TextDecoder().decode(t.store.get('asker', new TextEncoder().encode('last'))!)) as Record<string, unknown>;
    t.rt.stop('asker');
    return { last, posts: t.posts };
  } finally {
    t.close();
  }
}

test('reply_by - with no reply in time, the initiator receives a reply_timeout failure in its conversation', async () => {
  const { last, posts } = await run(false);
  assert.ok(posts.some((p) => p.op === 'out' && p.batch.includes('slow')), 'the request went out');
  assert.equal(last['performative'], 'failure');
  assert.equal(last['sender'], 'caxton');
  assert.equal(last['in_reply_to'], 'r1');
  assert.equal(last['conversation_id'], 'c1');
  assert.equal((last['content'] as { error: string }).error, 'reply_timeout');
  assert.match((last['content'] as { reason: string }).reason, /no reply from slow by /);
});

test('reply_by - a reply in time clears the deadline: no failure follows', async () => {
  const { last } = await run(true);
  assert.equal(last['performative'], 'inform');
  assert.equal(last['content'], 'done');
});
