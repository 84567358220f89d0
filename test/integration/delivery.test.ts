/** Mailbox priorities and backpressure through the real pool. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AgentPool } from '../../src/sandbox/index.js';
import { PRIORITY_LEVELS } from '../../src/sandbox/worker/mailbox.js';
import { Client, recordEvents, spawnAgent, waitForEvent } from '../helpers/agents.js';
import { tempDir } from '../helpers/tmp.js';

test('delivery - a suspended agent handles its backlog highest priority first, FIFO within one', async () => {
  const dir = tempDir();
  const pool = await AgentPool.start({ databasePath: join(dir.path, 'c.db'), workers: 1 });
  try {
    await spawnAgent(pool, 'echo', 'e');
    const c = new Client(pool);
    pool.suspend('e');
    const order: [string, keyof typeof PRIORITY_LEVELS][] = [
      ['n1', 'normal'], ['l1', 'low'], ['c1', 'critical'], ['h1', 'high'], ['n2', 'normal'], ['h2', 'high'], ['c2', 'critical'], ['l2', 'low'],
    ];
    for (const [content, prio] of order) {
      pool.deliver('e', JSON.stringify({ performative: 'request', sender: 'client', receiver: 'e', content, priority: prio }), PRIORITY_LEVELS[prio]);
    }
    await new Promise((r) => setTimeout(r, 50));
    pool.resume('e');
    await c.waitFor(() => c.inbox.length === order.length);
    assert.deepEqual(c.inbox.map((m) => m.content), ['c1', 'c2', 'h1', 'h2', 'n1', 'n2', 'l1', 'l2']);
  } finally {
    await pool.close();
    dir.cleanup();
  }
});

test('delivery - a full mailbox refuses with a reason and never blocks; critical traffic still gets in', async () => {
  const dir = tempDir();
  const pool = await AgentPool.start({ databasePath: join(dir.path, 'c.db'), workers: 1, mailboxCapacity: 5 });
  try {
    const events = recordEvents(pool);
    await spawnAgent(pool, 'echo', 'e');
    const c = new Client(pool);
    pool.suspend('e');
    for (let i = 0; i < 8; i++) c.send('e', 'request', i);
    pool.deliver('e', JSON.stringify({ performative: 'request', sender: 'client', receiver: 'e', content: 'ctl', priority: 'critical' }), PRIORITY_LEVELS.critical);
    await waitForEvent(events, () => events.filter((e) => e.type === 'undeliverable').length === 3);
    const refused = events.filter((e) => e.type === 'undeliverable');
    assert.ok(refused.every((e) => e.type === 'undeliverable' && /mailbox of e is full \(5 messages\)/.test(e.reason)));
    assert.deepEqual(refused.map((e) => (e.type === 'undeliverable' ? JSON.parse(e.json).content : null)), [5, 6, 7], 'the excess, in order, with the message itself');
    pool.resume('e');
    await c.waitFor(() => c.inbox.length === 6);
    assert.deepEqual(c.inbox.map((m) => m.content), ['ctl', 0, 1, 2, 3, 4]);
  } finally {
    await pool.close();
    dir.cleanup();
  }
});
