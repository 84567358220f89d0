/** A node stopped and started again on its data dir finds everything as it was. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentWasm } from '../../helpers/agents.js';
import { withNode } from '../../helpers/node.js';
import { tempDir } from '../../helpers/tmp.js';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

test('persistence - deployments, states, upgrades, key-value state, keys and dead letters survive a restart', async () => {
  const dir = tempDir();
  let viewerKey = '';
  let before: { name: string; id: string; module: string; state: string; priority: string; config: unknown }[] = [];
  try {
    await withNode(
      {},
      async (ctx) => {
        assert.equal((await ctx.call('POST', '/agents', { name: 'count', module: b64(agentWasm('counter')), priority: 'low', config: { k: 'v' } })).status, 201);
        assert.equal((await ctx.call('POST', '/agents', { name: 'calc', module: b64(agentWasm('calculator')) })).status, 201);
        assert.equal((await ctx.call('POST', '/agents', { name: 'up', module: b64(agentWasm('counter')) })).status, 201);
        assert.equal((await ctx.call('POST', '/agents', { name: 'held', module: b64(agentWasm('echo')), start: false })).status, 201);
        for (let i = 0; i < 3; i++) await ctx.call('POST', '/messages?wait_reply=true', { performative: 'request', receiver: 'count', content: { op: 'increment', by: 2 } });
        await ctx.call('POST', '/agents/calc/stop');
        assert.equal((await ctx.call('POST', '/agents/up/upgrade', { module: b64(agentWasm('echo')), strategy: 'immediate' })).status, 200);
        viewerKey = (await ctx.call('POST', '/keys', { name: 'v', role: 'viewer' })).body.key;
        ctx.node.deadLetters.record('ghost', '{"performative":"inform","sender":"a","receiver":"ghost","content":1}', 'no agent named ghost');
        before = (await ctx.call('GET', '/agents')).body.agents;
      },
      dir.path,
    );
    await withNode(
      {},
      async (ctx) => {
        const after = (await ctx.call('GET', '/agents')).body.agents as typeof before;
        const pick = (l: typeof before) => l.map((a) => ({ name: a.name, id: a.id, module: a.module, state: a.state, priority: a.priority, config: a.config }));
        assert.deepEqual(pick(after), pick(before));
        assert.deepEqual(
          after.map((a) => [a.name, a.state]),
          [['count', 'running'], ['calc', 'stopped'], ['up', 'running'], ['held', 'suspended']],
        );
        const r = await ctx.call('POST', '/messages?wait_reply=true', { performative: 'request', receiver: 'count', content: { op: 'get' } });
        assert.deepEqual(r.body.reply.content, { count: 6 }, 'key-value state survived');
        const up = await ctx.call('POST', '/messages?wait_reply=true', { performative: 'request', receiver: 'up', content: { echo: 1 } });
        assert.deepEqual(up.body.reply.content, { echo: 1 }, 'the upgraded version came back, not the original');
        assert.equal((await ctx.call('GET', '/agents', undefined, viewerKey)).status, 200, 'API keys survived');
        assert.equal((await ctx.call('GET', '/dead-letters')).body.total, 1);
        assert.equal((await ctx.call('POST', '/agents/held/resume')).body.state, 'running');
      },
      dir.path,
    );
  } finally {
    dir.cleanup();
  }
});

test('persistence - a deleted admin.key is replaced by a new admin key at the next start', async () => {
  const dir = tempDir();
  try {
    let first = '';
    await withNode({}, async (ctx) => void (first = ctx.adminKey), dir.path);
    const { rmSync } = await import('node:fs');
    rmSync(`${dir.path}/admin.key`);
    await withNode(
      {},
      async (ctx) => {
        assert.notEqual(ctx.adminKey, first);
        assert.equal((await ctx.call('GET', '/keys')).body.keys.filter((k: { role: string }) => k.role === 'admin').length, 2);
      },
      dir.path,
    );
  } finally {
    dir.cleanup();
  }
});
