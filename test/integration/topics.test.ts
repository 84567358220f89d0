/** Publish/subscribe on topics: subscriptions in agent_init, fan-out across workers, no echo to the publisher. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AgentPool } from '../../src/sandbox/index.js';
import { SqliteAgentStateStore } from '../../src/storage/index.js';
import { initiatorAgent, subscriberAgent } from '../helpers/wat-agents.js';
import { tempDir } from '../helpers/tmp.js';

test('topics - a published message reaches every subscriber, on any worker, but not its publisher', async () => {
  const dir = tempDir();
  const dbPath = join(dir.path, 'c.db');
  const pool = await AgentPool.start({ databasePath: dbPath, workers: 2 });
  const store = new SqliteAgentStateStore(dbPath);
  const last = (agent: string): Record<string, unknown> | undefined => {
    const v = store.get(agent, new TextEncoder().encode('last'));
    return v === undefined ? undefined : (JSON.parse(new TextDecoder().decode(v)) as Record<string, unknown>);
  };
  try {
    const sub = await pool.admit(await subscriberAgent('news'));
    await pool.spawn({ name: 's1', module: sub.hash });
    await pool.spawn({ name: 's2', module: sub.hash });
    const other = await pool.admit(await subscriberAgent('sports'));
    await pool.spawn({ name: 's3', module: other.hash });
    assert.deepEqual([...pool.subscribersOf('news')].sort(), ['s1', 's2']);
    assert.notEqual(pool.agent('s1')!.worker, pool.agent('s2')!.worker);

    // An agent publishes.
    const pub = await pool.admit(await initiatorAgent(JSON.stringify({ performative: 'inform', topic: 'news', content: 'extra' })));
    await pool.spawn({ name: 'press', module: pub.hash });
    pool.deliver('press', JSON.stringify({ performative: 'request', sender: 'client', receiver: 'press', content: 'go' }));
    for (let i = 0; i < 100 && (last('s1') === undefined || last('s2') === undefined); i++) await new Promise((r) => setTimeout(r, 20));
    for (const s of ['s1', 's2']) {
      const m = last(s)!;
      assert.equal(m['topic'], 'news');
      assert.equal(m['sender'], 'press');
      assert.equal(m['content'], 'extra');
      assert.equal(m['receiver'], undefined, 'delivered as published');
    }
    assert.equal(last('s3'), undefined, 'other topics hear nothing');

    // The node (API) publishes too; a stopped subscriber leaves the topic.
    await pool.stop('s2');
    assert.deepEqual(pool.subscribersOf('news'), ['s1']);
    const n = pool.publish('news', JSON.stringify({ performative: 'inform', sender: 'client', topic: 'news', content: 2 }));
    assert.equal(n, 1);
    assert.equal(pool.publish('nobody-listens', '{}'), 0);
  } finally {
    store.close();
    await pool.close();
    dir.cleanup();
  }
});

test('topics - a published message is at most once whatever its delivery says: refused by a full mailbox, it is final (dead-lettered), not left to an outbox that never had it', async () => {
  const dir = tempDir();
  const pool = await AgentPool.start({ databasePath: join(dir.path, 'caxton.db'), workers: 1, mailboxCapacity: 1 });
  const refusals: { reason: string; kept: boolean }[] = [];
  pool.onEvent((e) => {
    if (e.type === 'undeliverable') refusals.push({ reason: e.reason, kept: e.kept });
  });
  try {
    const sub = await pool.admit(await subscriberAgent('news'));
    await pool.spawn({ name: 'reader', module: sub.hash });
    for (let i = 0; i < 100 && pool.subscribersOf('news').length === 0; i++) await new Promise((r) => setTimeout(r, 10)); // made in agent_init
    pool.suspend('reader');
    const news = (i: number) => JSON.stringify({ performative: 'inform', sender: 'press', topic: 'news', content: i, message_id: `n-${i}`, delivery: 'at-least-once' });
    assert.equal(pool.publish('news', news(1)), 1);
    assert.equal(pool.publish('news', news(2)), 1, 'handed to the worker, which refuses it');
    for (let i = 0; i < 100 && refusals.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(refusals.length, 1);
    assert.match(refusals[0]!.reason, /mailbox of reader is full/);
    assert.equal(refusals[0]!.kept, false);
  } finally {
    await pool.close();
    dir.cleanup();
  }
});
