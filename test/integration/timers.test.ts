/**
 * Timers (caxton.timer_set) outlive restarts (issue 10): they are kept with the agent's state, armed
 * again when the agent starts, fire at once when overdue, fire once, and keep their ids, so a
 * timer_cancel from after a restart still finds a timer set before it. Undeploying deletes them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentPool } from '../../src/sandbox/index.js';
import { SqliteAgentStateStore, SqliteAgentTimerStore, openDatabase } from '../../src/storage/index.js';
import { Client } from '../helpers/agents.js';
import { withNode } from '../helpers/node.js';
import { withPool } from '../helpers/pool.js';
import { api, startServer, type RunningServer } from '../helpers/server.js';
import { until } from '../helpers/until.js';
import { timerAgent } from '../helpers/wat-agents.js';

const enc = new TextEncoder();

/** The timer agent's 4-byte counters and results, read from its key-value state (-99: not set). */
function kvInt(databasePath: string, agent: string, key: string): number {
  const store = new SqliteAgentStateStore(databasePath);
  try {
    const v = store.get(agent, enc.encode(key));
    return v === undefined ? -99 : Buffer.from(v).readInt32LE(0);
  } finally {
    store.close();
  }
}

function pendingTimers(databasePath: string, agent: string): number[] {
  const db = openDatabase(databasePath);
  try {
    return new SqliteAgentTimerStore(db).list(agent).map((t) => t.id);
  } finally {
    db.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function spawnTimerAgent(pool: AgentPool, name: string): Promise<void> {
  const m = await pool.admit(await timerAgent());
  await pool.spawn({ name, module: m.hash });
}

test('timers - a pending timer survives pool.restart(name) and fires once; one cancelled after the restart never fires', async () => {
  await withPool({}, async (pool, { databasePath }) => {
    await spawnTimerAgent(pool, 'tm');
    const c = new Client(pool);
    c.send('tm', 'request', 'arm:700');
    const id = await until('the timer id', () => kvInt(databasePath, 'tm', 'id') > 0 && kvInt(databasePath, 'tm', 'id'));
    assert.deepEqual(pendingTimers(databasePath, 'tm'), [id]);
    await pool.restart('tm'); // stop (the in-memory timer with it), then start from the module
    assert.equal(kvInt(databasePath, 'tm', 'ticks'), -99, 'not fired before it was due');
    await until('the timer to fire after the restart', () => kvInt(databasePath, 'tm', 'ticks') === 1, 10_000);
    await sleep(300);
    assert.equal(kvInt(databasePath, 'tm', 'ticks'), 1, 'fired once');
    assert.deepEqual(pendingTimers(databasePath, 'tm'), [], 'its row is gone once its message was handled');

    // A timer set before a restart, cancelled after it by the id it had.
    c.send('tm', 'request', 'arm:600');
    const id2 = await until('the second timer id', () => kvInt(databasePath, 'tm', 'id') !== id && kvInt(databasePath, 'tm', 'id'));
    assert.ok(id2 > id, `ids are not reused: ${id} then ${id2}`);
    await pool.restart('tm');
    c.send('tm', 'request', 'cancel');
    await until('timer_cancel to answer', () => kvInt(databasePath, 'tm', 'cancel') !== -99);
    assert.equal(kvInt(databasePath, 'tm', 'cancel'), 0, 'timer_cancel found the timer set before the restart');
    assert.deepEqual(pendingTimers(databasePath, 'tm'), []);
    await sleep(1000);
    assert.equal(kvInt(databasePath, 'tm', 'ticks'), 1, 'the cancelled timer never fired');
  });
});

test('timers - a timer that fell due while its agent was stopped fires at once, once, when it starts again', async () => {
  await withPool({}, async (pool, { databasePath }) => {
    await spawnTimerAgent(pool, 'tm');
    new Client(pool).send('tm', 'request', 'arm:200');
    await until('the timer id', () => kvInt(databasePath, 'tm', 'id') > 0);
    await pool.stop('tm');
    await sleep(500); // due while stopped: nothing runs it
    assert.equal(kvInt(databasePath, 'tm', 'ticks'), -99);
    assert.equal(pendingTimers(databasePath, 'tm').length, 1, 'a stop keeps it');
    await pool.restart('tm');
    await until('the overdue timer', () => kvInt(databasePath, 'tm', 'ticks') === 1, 5000);
    await sleep(300);
    assert.equal(kvInt(databasePath, 'tm', 'ticks'), 1);
    assert.deepEqual(pendingTimers(databasePath, 'tm'), []);
  });
});

test('timers - undeploying an agent deletes its pending timers', async () => {
  await withNode({}, async (ctx) => {
    const module = Buffer.from(await timerAgent()).toString('base64');
    assert.equal((await ctx.call('POST', '/agents', { name: 'tm', module })).status, 201);
    assert.equal((await ctx.call('POST', '/messages', { performative: 'request', receiver: 'tm', content: 'arm:60000' })).status, 202);
    await until('the timer row', () => pendingTimers(ctx.node.databasePath, 'tm').length === 1);
    assert.equal((await ctx.call('DELETE', '/agents/tm')).status, 200);
    assert.deepEqual(pendingTimers(ctx.node.databasePath, 'tm'), []);
  });
});

test('timers - survive a restart of the server process: an overdue one fires once at start, a later one when due', async () => {
  const LATE_MS = 9000;
  let s: RunningServer | undefined = await startServer();
  const dataDir = s.dataDir;
  const dbPath = join(dataDir, 'caxton.db');
  try {
    const module = Buffer.from(await timerAgent()).toString('base64');
    for (const name of ['early', 'late']) assert.equal((await api(s, 'POST', '/agents', { name, module })).status, 201);
    const armedAt = Date.now();
    assert.equal((await api(s, 'POST', '/messages', { performative: 'request', receiver: 'early', content: 'arm:1500' })).status, 202);
    assert.equal((await api(s, 'POST', '/messages', { performative: 'request', receiver: 'late', content: `arm:${LATE_MS}` })).status, 202);
    await until('both timers stored', () => pendingTimers(dbPath, 'early').length === 1 && pendingTimers(dbPath, 'late').length === 1);
    assert.equal(await s.stop(), 0, s.logs());
    s = undefined;
    assert.equal(kvInt(dbPath, 'early', 'ticks'), -99, 'the server stopped before the first was due');
    await sleep(Math.max(0, armedAt + 2000 - Date.now())); // the first falls due while no server runs
    s = await startServer({ dataDir });
    await until('the overdue timer', () => kvInt(dbPath, 'early', 'ticks') === 1, 10_000);
    // Checked only when there is time left before it is due (a slow start may leave none).
    if (Date.now() < armedAt + LATE_MS - 500) assert.equal(kvInt(dbPath, 'late', 'ticks'), -99, 'the later one waits for its time');
    await until('the later timer', () => kvInt(dbPath, 'late', 'ticks') === 1, LATE_MS + 10_000);
    assert.ok(Date.now() >= armedAt + LATE_MS, 'not before it was due');
    await sleep(300);
    assert.equal(kvInt(dbPath, 'early', 'ticks'), 1, 'fired once');
    assert.equal(kvInt(dbPath, 'late', 'ticks'), 1, 'fired once');
    assert.deepEqual([...pendingTimers(dbPath, 'early'), ...pendingTimers(dbPath, 'late')], []);
  } finally {
    if (s !== undefined) await s.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
