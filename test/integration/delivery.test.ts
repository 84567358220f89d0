/** Mailbox priorities and backpressure through the real pool. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AgentPool, HostError, type PoolEvent } from '../../src/sandbox/index.js';
import { SqliteAgentStateStore } from '../../src/storage/index.js';
import { until } from '../helpers/until.js';
import { wat } from '../helpers/wat.js';
import { PRIORITY_LEVELS } from '../../src/sandbox/worker/mailbox.js';
import { Client, fixtureWasm, recordEvents, spawnAgent, waitForEvent } from '../helpers/agents.js';
import { isCaxtonError } from '../../src/errors.js';
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
    // Each refused sender hears why, in its own conversation.
    const failures = await c.waitFor(() => c.inbox.filter((m) => m.performative === 'failure').length === 3).then(() => c.inbox.filter((m) => m.performative === 'failure'));
    assert.deepEqual(failures.map((m) => m.in_reply_to), ['client-6', 'client-7', 'client-8']);
    assert.ok(failures.every((m) => m.sender === 'caxton' && (m.content as { error: string }).error === 'mailbox_full'));
    pool.resume('e');
    await c.waitFor(() => c.inbox.filter((m) => m.performative === 'inform').length === 6);
    assert.deepEqual(c.inbox.filter((m) => m.performative === 'inform').map((m) => m.content), ['ctl', 0, 1, 2, 3, 4]);
  } finally {
    await pool.close();
    dir.cleanup();
  }
});

test('delivery - the byte bound refuses like a full mailbox: a failure to outside senders, ERR_BACKPRESSURE to a local agent', async () => {
  const dir = tempDir();
  // 12 KiB of mailbox: two 4,000-character messages fit (16,000 bytes would not), while the count bound is far.
  const pool = await AgentPool.start({ databasePath: join(dir.path, 'c.db'), workers: 1, mailboxCapacity: 1000, mailboxBytes: 12 * 1024, maxMessageBytes: 6 * 1024 });
  try {
    const events = recordEvents(pool);
    await spawnAgent(pool, 'echo', 'e');
    const c = new Client(pool);
    pool.suspend('e');
    const big = 'x'.repeat(2500);
    for (let i = 0; i < 4; i++) c.send('e', 'request', `${i}${big}`);
    await waitForEvent(events, () => events.filter((e) => e.type === 'undeliverable').length === 2);
    const refused = events.filter((e): e is Extract<PoolEvent, { type: 'undeliverable' }> => e.type === 'undeliverable');
    assert.ok(refused.every((e) => /^mailbox of e is full \(\d+ bytes queued, at most 12288 bytes\)$/.test(e.reason)), refused[0]?.reason);
    assert.deepEqual(refused.map((e) => (JSON.parse(e.json).content as string)[0]), ['2', '3']);
    const failures = await c.waitFor(() => c.inbox.filter((m) => m.performative === 'failure').length === 2).then(() => c.inbox.filter((m) => m.performative === 'failure'));
    assert.ok(failures.every((m) => (m.content as { error: string }).error === 'mailbox_full'));
    assert.equal((await pool.stats())[0]!.queuedBytes, 2 * 2 * JSON.stringify({ performative: 'request', sender: 'client', receiver: 'e', content: `0${big}`, reply_with: 'client-1', conversation_id: 'conv-client-1' }).length);
    pool.resume('e');
    await c.waitFor(() => c.inbox.filter((m) => m.performative === 'inform').length === 2);
  } finally {
    await pool.close();
    dir.cleanup();
  }
});

test('delivery - an agent sending into a mailbox at its byte bound gets ERR_BACKPRESSURE from send', async () => {
  const dir = tempDir();
  const dbPath = join(dir.path, 'c.db');
  const pool = await AgentPool.start({ databasePath: dbPath, workers: 1, mailboxCapacity: 1000, mailboxBytes: 12 * 1024, maxMessageBytes: 6 * 1024 });
  try {
    await spawnAgent(pool, 'echo', 'e');
    pool.suspend('e');
    // On every message: send 2,500 characters to e, and keep what send returned under "rc".
    const out = `{"performative":"inform","receiver":"e","content":"${'x'.repeat(2500)}"}`;
    const pusher = await wat(`(module
      (import "caxton" "send" (func $send (param i32 i32) (result i32)))
      (import "caxton" "kv_set" (func $kvs (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 0) "rc")
      (data (i32.const 64) "${out.replace(/"/g, '\\"')}")
      (func (export "caxton_abi_version") (result i32) i32.const 1)
      (func (export "caxton_alloc") (param i32) (result i32) i32.const 32768)
      (func (export "handle_message") (param i32 i32) (result i32)
        (i32.store (i32.const 16) (call $send (i32.const 64) (i32.const ${out.length})))
        (drop (call $kvs (i32.const 0) (i32.const 2) (i32.const 16) (i32.const 4)))
        (i32.const 0)))`);
    await pool.spawn({ name: 'pusher', module: (await pool.admit(pusher)).hash });
    const store = new SqliteAgentStateStore(dbPath);
    const rcs: number[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        pool.deliver('pusher', JSON.stringify({ performative: 'inform', sender: 'client', receiver: 'pusher', content: i }));
        const rc = await until(`send #${i + 1}`, () => {
          const v = store.get('pusher', new TextEncoder().encode('rc'));
          return v !== undefined && (store.delete('pusher', new TextEncoder().encode('rc')), Buffer.from(v).readInt32LE(0));
        });
        rcs.push(rc);
      }
    } finally {
      store.close();
    }
    // Two messages of about 5 KiB each fit in 12 KiB, the third would not.
    assert.deepEqual(rcs, [HostError.OK, HostError.OK, HostError.BACKPRESSURE]);
    const e = (await pool.stats()).find((x) => x.name === 'e')!;
    assert.equal(e.queued, 2);
  } finally {
    await pool.close();
    dir.cleanup();
  }
});

test('delivery - the sender of a message that crashed its handler gets a failure instead of silence', async () => {
  const dir = tempDir();
  const pool = await AgentPool.start({ databasePath: join(dir.path, 'c.db'), workers: 1 });
  try {
    const m = await pool.admit(fixtureWasm('trap-handler'));
    await pool.spawn({ name: 't', module: m.hash });
    const c = new Client(pool);
    const f = await c.request('t', 'request', 'boom', 'failure');
    assert.equal(f.sender, 'caxton');
    assert.equal((f.content as { error: string }).error, 'agent_crashed');
    assert.match((f.content as { reason: string }).reason, /t crashed while handling the message: trap/);
  } finally {
    await pool.close();
    dir.cleanup();
  }
});

test('delivery - a reply to a vanished agent comes back to its sender as a failure, and the node does not loop', async () => {
  const dir = tempDir();
  const pool = await AgentPool.start({ databasePath: join(dir.path, 'c.db'), workers: 2 });
  try {
    const events = recordEvents(pool);
    await spawnAgent(pool, 'echo', 'e');
    // The echo answers "ghost", who does not exist: the echo gets a failure, and answers it (to the
    // node, which does not answer back).
    pool.deliver('e', JSON.stringify({ performative: 'request', sender: 'ghost', receiver: 'e', content: 1 }));
    await waitForEvent(events, (e) => e.type === 'undeliverable' && e.to === 'caxton');
    await new Promise((r) => setTimeout(r, 200));
    const [s] = await pool.stats();
    assert.equal(s!.messagesIn, 2, 'the request and the failure; nothing more');
  } finally {
    await pool.close();
    dir.cleanup();
  }
});

test('delivery - agent names follow the name rule; "caxton" is reserved', async () => {
  const dir = tempDir();
  const pool = await AgentPool.start({ databasePath: join(dir.path, 'c.db'), workers: 1 });
  try {
    for (const bad of ['caxton', '', '-flag', '../etc', 'a b', 'ü']) {
      await assert.rejects(spawnAgent(pool, 'echo', bad), (e) => isCaxtonError(e, 'CAXTON_ERR_AGENT_NAME'), JSON.stringify(bad));
    }
  } finally {
    await pool.close();
    dir.cleanup();
  }
});
