/** What an agent and an operator read about restarts and uptime: right across restarts of the agent and of the node. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteAgentStateStore } from '../../../src/storage/index.js';
import { initRecorderAgent } from '../../helpers/wat-agents.js';
import { withNode, type NodeContext } from '../../helpers/node.js';
import { tempDir } from '../../helpers/tmp.js';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `restarts` from the document the agent's last agent_init received. */
function restartsSeenByAgent(ctx: NodeContext, name: string): number {
  const store = new SqliteAgentStateStore(ctx.node.databasePath);
  try {
    const doc = store.get(name, new TextEncoder().encode('init'));
    assert.ok(doc !== undefined, 'agent_init ran');
    return (JSON.parse(new TextDecoder().decode(doc)) as { restarts: number }).restarts;
  } finally {
    store.close();
  }
}

test('restarts - the count an agent reads goes on across agent restarts and node restarts', async () => {
  const dir = tempDir();
  try {
    await withNode(
      {},
      async (ctx) => {
        assert.equal((await ctx.call('POST', '/agents', { name: 'rec', module: b64(await initRecorderAgent()) })).status, 201);
        assert.equal(restartsSeenByAgent(ctx, 'rec'), 0);
        assert.equal((await ctx.call('POST', '/agents/rec/restart')).status, 200);
        assert.equal(restartsSeenByAgent(ctx, 'rec'), 1);
        assert.equal((await ctx.call('GET', '/agents/rec')).body.restarts, 1);
      },
      dir.path,
    );
    await withNode(
      {},
      async (ctx) => {
        assert.equal(restartsSeenByAgent(ctx, 'rec'), 2, 'coming back with the node is a restart');
        assert.equal((await ctx.call('GET', '/agents/rec')).body.restarts, 2);
        await ctx.call('POST', '/agents/rec/stop');
        assert.equal((await ctx.call('GET', '/agents/rec')).body.restarts, 2, 'a stopped agent shows its count');
      },
      dir.path,
    );
    await withNode(
      {},
      async (ctx) => {
        // Stopped by the operator: not started with the node, so not restarted either.
        assert.equal((await ctx.call('GET', '/agents/rec')).body.restarts, 2);
        await ctx.call('POST', '/agents/rec/restart');
        assert.equal(restartsSeenByAgent(ctx, 'rec'), 3);
      },
      dir.path,
    );
  } finally {
    dir.cleanup();
  }
});

test('uptime - running_since is when the agent last entered running, not its deployment', async () => {
  await withNode({}, async (ctx) => {
    await ctx.call('POST', '/agents', { name: 'rec', module: b64(await initRecorderAgent()) });
    const deployed = (await ctx.call('GET', '/agents/rec')).body;
    assert.ok(deployed.running_since !== null && Date.parse(deployed.running_since) >= Date.parse(deployed.deployed_at));
    await sleep(30);
    await ctx.call('POST', '/agents/rec/suspend');
    assert.equal((await ctx.call('GET', '/agents/rec')).body.running_since, null, 'not running: no uptime');
    await sleep(30);
    const resumedAt = Date.now();
    await ctx.call('POST', '/agents/rec/resume');
    const resumed = (await ctx.call('GET', '/agents/rec')).body;
    assert.ok(Date.parse(resumed.running_since) >= resumedAt - 1, `${resumed.running_since} is the resume, not ${deployed.running_since}`);
    await sleep(30);
    const restartedAt = Date.now();
    await ctx.call('POST', '/agents/rec/restart');
    assert.ok(Date.parse((await ctx.call('GET', '/agents/rec')).body.running_since) >= restartedAt - 1);
  });
});
