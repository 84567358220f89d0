/** At-least-once delivery: durable outbox, acknowledgement, redelivery, dedup, replay after a restart. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { CaxtonNode } from '../../src/node.js';
import { createLogger } from '../../src/observability/logger.js';
import { openDatabase, OutboxStore, SqliteAgentStateStore } from '../../src/storage/index.js';
import { initiatorAgent, sinkAgent } from '../helpers/wat-agents.js';
import { tempDir } from '../helpers/tmp.js';

const quiet = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const relay = { intervalMs: 50, baseDelayMs: 150, maxAttempts: 20 };

async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function lastOf(store: SqliteAgentStateStore, agent: string): Record<string, unknown> | undefined {
  const v = store.get(agent, new TextEncoder().encode('last'));
  return v === undefined ? undefined : (JSON.parse(new TextDecoder().decode(v)) as Record<string, unknown>);
}

test('at-least-once - a message for a name that exists nowhere is a dead letter at once, its sender hears no_such_agent, and a replay delivers it once the agent exists', async () => {
  const dir = tempDir();
  const node = await CaxtonNode.start({ dataDir: dir.path, nodeId: 't', logger: quiet, workers: 1, relay });
  const store = new SqliteAgentStateStore(node.databasePath);
  const outbox = new OutboxStore(openDatabase(node.databasePath));
  try {
    const a = await node.pool.admit(await initiatorAgent(JSON.stringify({ performative: 'inform', receiver: 'later', content: 'kept', delivery: 'at-least-once', message_id: 'm-1' })));
    await node.pool.spawn({ name: 'a', module: a.hash });
    node.pool.deliver('a', JSON.stringify({ performative: 'request', sender: 'client', receiver: 'a', content: 'go' }));
    // Retrying cannot help a name that no node knows: it is final, like an at-most-once message.
    await until(() => node.deadLetters.count() === 1, 'the dead letter');
    // The letter is filed before the failure reply reaches the sender's mailbox: wait for the reply.
    await until(() => lastOf(store, 'a')?.['performative'] !== 'request', 'the failure reply');
    const failure = lastOf(store, 'a');
    assert.equal(failure?.['performative'], 'failure');
    assert.equal((failure?.['content'] as { error?: string }).error, 'no_such_agent');
    assert.equal(outbox.count(), 0, 'it left the outbox with its letter');

    const sink = await node.pool.admit(await sinkAgent());
    await node.pool.spawn({ name: 'later', module: sink.hash });
    const [letter] = node.deadLetters.list();
    assert.equal(node.deadLetters.replay(letter!.id).delivered, true);
    await until(() => lastOf(store, 'later') !== undefined, 'the delivery');
    assert.equal(lastOf(store, 'later')!['content'], 'kept');
    await until(() => outbox.count() === 0, 'the acknowledgement');
  } finally {
    outbox.db.close();
    store.close();
    await node.stop();
    dir.cleanup();
  }
});

test('at-least-once - a redelivered copy of a handled message is recognised and dropped', async () => {
  const dir = tempDir();
  const node = await CaxtonNode.start({ dataDir: dir.path, nodeId: 't', logger: quiet, workers: 1, relay });
  try {
    const sink = await node.pool.admit(await sinkAgent());
    await node.pool.spawn({ name: 's', module: sink.hash });
    const msg = JSON.stringify({ message_id: 'dup-1', performative: 'inform', sender: 'client', receiver: 's', content: 1, delivery: 'at-least-once' });
    node.pool.deliver('s', msg);
    node.pool.deliver('s', msg);
    let stats = await node.pool.stats();
    for (let i = 0; i < 100 && stats[0]!.messagesIn < 2; i++) {
      await new Promise((r) => setTimeout(r, 20));
      stats = await node.pool.stats();
    }
    assert.equal(stats[0]!.messagesIn, 2);
    assert.equal(stats[0]!.duplicates, 1, 'the second copy was not handed to the agent');
  } finally {
    await node.stop();
    dir.cleanup();
  }
});

test('at-least-once - what a killed node left in the outbox is delivered by the next run', async () => {
  const dir = tempDir();
  // The previous run: accepted, never acknowledged.
  const db = openDatabase(join(dir.path, 'caxton.db'));
  new OutboxStore(db).add('left-1', 'survivor', JSON.stringify({ message_id: 'left-1', performative: 'inform', sender: 'client', receiver: 'survivor', content: 'from before', delivery: 'at-least-once' }), 0);
  db.close();
  const node = await CaxtonNode.start({ dataDir: dir.path, nodeId: 't', logger: quiet, workers: 1, relay });
  const store = new SqliteAgentStateStore(node.databasePath);
  try {
    const sink = await node.pool.admit(await sinkAgent());
    await node.pool.spawn({ name: 'survivor', module: sink.hash });
    await until(() => lastOf(store, 'survivor') !== undefined, 'the replay');
    assert.equal(lastOf(store, 'survivor')!['content'], 'from before');
  } finally {
    store.close();
    await node.stop();
    dir.cleanup();
  }
});

test('at-least-once - a message nobody acknowledges ends as a dead letter', async () => {
  const dir = tempDir();
  const node = await CaxtonNode.start({ dataDir: dir.path, nodeId: 't', logger: quiet, workers: 1, relay: { intervalMs: 30, baseDelayMs: 20, maxAttempts: 3 } });
  try {
    const db = openDatabase(node.databasePath);
    new OutboxStore(db).add('lost-1', 'nobody', JSON.stringify({ message_id: 'lost-1', performative: 'inform', sender: 'client', receiver: 'nobody', content: 1, delivery: 'at-least-once' }), 0);
    db.close();
    await until(() => node.deadLetters.count() === 1, 'the dead letter');
    assert.match(node.deadLetters.list()[0]!.reason, /not acknowledged after 3 deliveries/);
  } finally {
    await node.stop();
    dir.cleanup();
  }
});
