/** Delivery by capability: registration in agent_init, round-robin and least-loaded choice, no provider. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AgentPool, type PoolOptions } from '../../src/sandbox/index.js';
import { Client, spawnAgent } from '../helpers/agents.js';
import { tempDir } from '../helpers/tmp.js';
import { initiatorAgent } from '../helpers/wat-agents.js';
import { wat } from '../helpers/wat.js';
import { SqliteAgentStateStore } from '../../src/storage/index.js';

async function withPool(opts: Partial<PoolOptions>, fn: (pool: AgentPool, dbPath: string) => Promise<void>): Promise<void> {
  const dir = tempDir();
  const dbPath = join(dir.path, 'c.db');
  const pool = await AgentPool.start({ databasePath: dbPath, workers: 2, ...opts });
  try {
    await fn(pool, dbPath);
  } finally {
    await pool.close();
    dir.cleanup();
  }
}

const ask = (i: number) => JSON.stringify({ performative: 'query-ref', sender: 'client', capability: 'arithmetic', content: { op: 'add', args: [i, 0] }, reply_with: `q${i}` });

test('capabilities - agents register in agent_init; round-robin spreads messages in turn', async () => {
  await withPool({}, async (pool) => {
    await spawnAgent(pool, 'calculator', 'calc-a');
    await spawnAgent(pool, 'calculator', 'calc-b');
    await spawnAgent(pool, 'echo', 'not-a-calculator');
    assert.deepEqual([...pool.providersOf('arithmetic')].sort(), ['calc-a', 'calc-b']);
    assert.deepEqual(pool.capabilities(), ['arithmetic'], 'once, however many agents offer it (the cluster `caps` tag digests this list)');
    const c = new Client(pool);
    const chosen = [0, 1, 2, 3].map((i) => pool.deliverToCapability('arithmetic', ask(i)));
    assert.deepEqual(chosen, ['calc-a', 'calc-b', 'calc-a', 'calc-b']);
    await c.waitFor(() => c.inbox.length === 4);
    for (const m of c.inbox) assert.deepEqual(m.content, { result: Number(String(m.in_reply_to).slice(1)) });
  });
});

test('capabilities - an agent addressing a capability reaches a provider through the node', async () => {
  await withPool({}, async (pool) => {
    await spawnAgent(pool, 'calculator', 'calc');
    // The contract-net manager sends cfp to its bidders by name; here the client addresses a capability.
    const c = new Client(pool);
    assert.equal(pool.deliverToCapability('arithmetic', ask(7)), 'calc');
    const r = await c.waitFor((m) => m.in_reply_to === 'q7');
    assert.equal(r.sender, 'calc');
  });
});

test('capabilities - least-loaded avoids the agent with a backlog', async () => {
  await withPool({ capabilityStrategy: 'least-loaded', workers: 1 }, async (pool) => {
    await spawnAgent(pool, 'calculator', 'busy');
    await spawnAgent(pool, 'calculator', 'idle');
    pool.suspend('busy');
    for (let i = 0; i < 5; i++) pool.deliver('busy', ask(100 + i));
    await new Promise((r) => setTimeout(r, 450)); // at least two load samples
    const chosen = [1, 2, 3, 4].map((i) => pool.deliverToCapability('arithmetic', ask(i)));
    assert.deepEqual(chosen, ['idle', 'idle', 'idle', 'idle'], 'idle stays below the backlog of 5');
    assert.equal(pool.deliverToCapability('arithmetic', ask(5)), 'idle', '4 < 5 still');
  });
});

test('capabilities - an agent whose first start fails after registering leaves nothing behind', async () => {
  await withPool({ workers: 1 }, async (pool) => {
    const m = await pool.admit(
      await wat(`(module
        (import "caxton" "capability_register" (func $reg (param i32 i32) (result i32)))
        (memory (export "memory") 1)
        (data (i32.const 0) "arithmetic")
        (func (export "caxton_abi_version") (result i32) i32.const 1)
        (func (export "caxton_alloc") (param i32) (result i32) i32.const 8192)
        (func (export "agent_init") (param i32 i32) (result i32) (drop (call $reg (i32.const 0) (i32.const 10))) unreachable)
        (func (export "handle_message") (param i32 i32) (result i32) i32.const 0))`),
    );
    await assert.rejects(pool.spawn({ name: 'broken', module: m.hash }), { code: 'CAXTON_ERR_AGENT_START_FAILED' });
    assert.deepEqual(pool.providersOf('arithmetic'), []);
    assert.deepEqual(pool.capabilities(), [], 'the cluster caps tag must not advertise it');
    assert.equal(pool.deliverToCapability('arithmetic', ask(1)), undefined);
  });
});

test('capabilities - stopped agents leave their capabilities; no provider means a failure to the sender', async () => {
  await withPool({}, async (pool, dbPath) => {
    await spawnAgent(pool, 'calculator', 'calc');
    await pool.stop('calc');
    assert.deepEqual(pool.providersOf('arithmetic'), []);
    assert.deepEqual(pool.capabilities(), []);
    assert.equal(pool.deliverToCapability('arithmetic', ask(1)), undefined);
    // From inside an agent, the node answers a capability nobody provides with a failure.
    const m = await pool.admit(await initiatorAgent(JSON.stringify({ performative: 'request', capability: 'arithmetic', content: 1, reply_with: 'r1' })));
    await pool.spawn({ name: 'asker', module: m.hash });
    pool.deliver('asker', JSON.stringify({ performative: 'inform', sender: 'client', receiver: 'asker', content: 'go' }));
    const store = new SqliteAgentStateStore(dbPath);
    try {
      let last: { performative?: string; content?: { error?: string }; in_reply_to?: string } = {};
      for (let i = 0; i < 100 && last.performative !== 'failure'; i++) {
        await new Promise((r) => setTimeout(r, 20));
        const v = store.get('asker', new TextEncoder().encode('last'));
        if (v) last = JSON.parse(new TextDecoder().decode(v));
      }
      assert.equal(last.performative, 'failure');
      assert.equal(last.content?.error, 'no_route');
      assert.equal(last.in_reply_to, 'r1');
    } finally {
      store.close();
    }
  });
});
