/** The dead-letter queue of a real node: recorded, inspected, replayed once the receiver exists, purged. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { CaxtonNode } from '../../src/node.js';
import { createLogger } from '../../src/observability/logger.js';
import { SqliteAgentStateStore } from '../../src/storage/index.js';
import { spawnAgent } from '../helpers/agents.js';
import { sinkAgent } from '../helpers/wat-agents.js';
import { tempDir } from '../helpers/tmp.js';

const quiet = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) });

async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('dead letters - an undeliverable reply is kept, replayed to the receiver once it exists, and purged', async () => {
  const dir = tempDir();
  const node = await CaxtonNode.start({ dataDir: dir.path, nodeId: 't', logger: quiet, workers: 1 });
  try {
    const dlq = node.deadLetters;
    await spawnAgent(node.pool, 'echo', 'e');
    // The echo answers "ghost", who does not exist yet.
    node.pool.deliver('e', JSON.stringify({ performative: 'request', sender: 'ghost', receiver: 'e', content: 'hello', reply_with: 'r1' }));
    await until(() => dlq.count() === 1, 'the dead letter');
    const [letter] = dlq.list();
    assert.equal(letter!.receiver, 'ghost');
    assert.equal(letter!.sender, 'e');
    assert.match(letter!.reason, /no agent named ghost/);
    assert.equal(JSON.parse(letter!.message).in_reply_to, 'r1');

    const early = dlq.replay(letter!.id);
    assert.equal(early.delivered, false);
    assert.equal(dlq.count(), 1, 'a failed replay keeps the letter');

    const sink = await node.pool.admit(await sinkAgent());
    await node.pool.spawn({ name: 'ghost', module: sink.hash });
    const replay = dlq.replay(letter!.id);
    assert.deepEqual(replay, { id: letter!.id, delivered: true, to: 'ghost' });
    assert.equal(dlq.count(), 0);
    const store = new SqliteAgentStateStore(node.databasePath);
    try {
      let got: Uint8Array | undefined;
      await until(() => (got = store.get('ghost', new TextEncoder().encode('last'))) !== undefined, 'the replayed message');
      assert.equal(new TextDecoder().decode(got), letter!.message, 'the very message that was kept');
    } finally {
      store.close();
    }

    // Two more, then purge them by receiver.
    await node.pool.stop('ghost');
    node.pool.deliver('e', JSON.stringify({ performative: 'request', sender: 'ghost', receiver: 'e', content: 1 }));
    node.pool.deliver('e', JSON.stringify({ performative: 'request', sender: 'ghost', receiver: 'e', content: 2 }));
    await until(() => dlq.count() === 2, 'two letters');
    assert.equal(dlq.replayAll({ receiver: 'ghost' }).failed, 2, 'a stopped agent takes no replays');
    assert.equal(dlq.purge({ receiver: 'ghost' }), 2);
    assert.equal(dlq.count(), 0);
  } finally {
    await node.stop();
    dir.cleanup();
  }
});
