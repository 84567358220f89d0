/**
 * A node whose module cache is over runtime.module_cache_size forgets modules no agent runs, keeps
 * those agents run, and still starts an agent whose module it forgot (from the bytes its database keeps).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withNode, type NodeContext } from '../helpers/node.js';
import { agentWasm } from '../helpers/agents.js';
import { tempDir } from '../helpers/tmp.js';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const deploy = (ctx: NodeContext, name: string, kind: string) => ctx.call('POST', '/agents', { name, module: b64(agentWasm(kind)) });

async function echoes(ctx: NodeContext, name: string, content: string): Promise<void> {
  const r = await ctx.call('POST', '/messages?wait_reply=true&timeout_ms=5000', { performative: 'request', receiver: name, content });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.reply.content, content);
}

async function metric(ctx: NodeContext, name: string): Promise<number> {
  const text = await ctx.node.metrics.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line !== undefined, `${name} is exported`);
  return Number(line.split(' ')[1]);
}

test('module cache - over its bound the node forgets unused modules and still starts an agent whose module it forgot', async () => {
  const dir = tempDir();
  try {
    // First run: 'later' is deployed, then stopped, so the next start leaves it out of the pool.
    await withNode({}, async (ctx) => {
      assert.equal((await deploy(ctx, 'later', 'echo')).status, 201);
      assert.equal((await ctx.call('POST', '/agents/later/stop')).body.state, 'stopped');
    }, dir.path);
    // 1 byte: every module no agent runs is forgotten at the next admission.
    await withNode({ moduleCacheBytes: 1 }, async (ctx) => {
      const pool = ctx.node.pool;
      assert.equal(pool.modules.size, 0, 'the stopped deployment was not brought back');
      assert.equal((await deploy(ctx, 'calc', 'calculator')).status, 201);
      const calcHash = pool.agent('calc')!.module;
      assert.equal((await deploy(ctx, 'tmp', 'counter')).status, 201);
      const counterHash = pool.agent('tmp')!.module;
      assert.equal((await ctx.call('DELETE', '/agents/tmp')).status, 200);
      assert.ok(pool.modules.get(counterHash) !== undefined, 'nothing is forgotten until the next admission');
      assert.equal((await deploy(ctx, 'bid', 'cn-bidder')).status, 201);
      assert.equal(pool.modules.get(counterHash)?.hash, undefined, 'the module no agent runs was forgotten');
      assert.ok(pool.modules.get(calcHash) !== undefined, 'a module an agent runs is kept, above the bound');
      assert.equal(await metric(ctx, 'caxton_module_cache_evictions_total'), 1);
      assert.equal(await metric(ctx, 'caxton_module_cache_modules'), 2);
      assert.equal(await metric(ctx, 'caxton_module_cache_bytes'), pool.modules.bytes);
      // 'later' names the echo module, which this node never admitted: a restart admits it from the
      // database; 'calc' keeps answering throughout.
      const r = await ctx.call('POST', '/agents/later/restart');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.state, 'running');
      await echoes(ctx, 'later', 'back');
      const calc = await ctx.call('POST', '/messages?wait_reply=true&timeout_ms=5000', { performative: 'request', receiver: 'calc', protocol: 'fipa-request', content: { op: 'add', args: [2, 3] } });
      assert.deepEqual(calc.body.reply.content, { result: 5 });
      // Forgotten and wanted again: the counter module is admitted again from new bytes.
      assert.equal((await deploy(ctx, 'tmp2', 'counter')).status, 201);
      assert.equal(pool.agent('tmp2')!.module, counterHash);
    }, dir.path);
  } finally {
    dir.cleanup();
  }
});
