/** REST API: queues, dead letters, resources, memory, circuit breakers, emergency stop, dumps, events. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { gunzipSync } from 'node:zlib';
import { agentWasm } from '../../helpers/agents.js';
import { withNode, type NodeContext } from '../../helpers/node.js';
import { sinkAgent } from '../../helpers/wat-agents.js';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const deploy = (ctx: NodeContext, name: string, bytes: Uint8Array) => ctx.call('POST', '/agents', { name, module: b64(bytes) });
const inform = (ctx: NodeContext, to: string, content: unknown = 1) => ctx.call('POST', '/messages', { performative: 'inform', receiver: to, content });

test('api operations - queue stats show a suspended agent\'s backlog; drain waits for it', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 's', await sinkAgent());
    await ctx.call('POST', '/agents/s/suspend');
    for (let i = 0; i < 5; i++) await inform(ctx, 's', i);
    const q = await ctx.call('GET', '/queue');
    assert.equal(q.body.total_queued, 5);
    const { queued_bytes: bytes, ...agent } = q.body.agents[0];
    assert.deepEqual(agent, { name: 's', queued: 5, state: 'suspended' });
    // Five messages of one length (content 0-4, ids of fixed length), 2 bytes per character.
    assert.ok(bytes > 5 * 2 * 100 && bytes % 10 === 0, `queued_bytes ${bytes}`);
    assert.equal(q.body.total_queued_bytes, bytes);
    const short = await ctx.call('POST', '/queue/drain', { timeout_ms: 100 });
    assert.deepEqual([short.body.drained, short.body.remaining], [false, 5]);
    await ctx.call('POST', '/agents/s/resume');
    const d = await ctx.call('POST', '/queue/drain', { timeout_ms: 5000 });
    assert.deepEqual([d.body.drained, d.body.remaining], [true, 0]);
  });
});

test('api operations - dead letters: list, replay once the receiver exists, purge', async () => {
  await withNode({}, async (ctx) => {
    const letter = (n: number) => JSON.stringify({ performative: 'inform', sender: 'x', receiver: 'late', content: n });
    ctx.node.deadLetters.record('late', letter(1), 'no agent named late');
    ctx.node.deadLetters.record('late', letter(2), 'no agent named late');
    ctx.node.deadLetters.record('other', letter(3), 'no agent named other');
    const all = await ctx.call('GET', '/dead-letters');
    assert.equal(all.body.total, 3);
    assert.equal((await ctx.call('GET', '/dead-letters?receiver=late')).body.total, 2);
    const none = await ctx.call('POST', '/dead-letters/replay', { receiver: 'late' });
    assert.deepEqual([none.body.replayed, none.body.failed], [0, 2], 'nobody to take them yet');
    await deploy(ctx, 'late', await sinkAgent());
    const ok = await ctx.call('POST', '/dead-letters/replay', { ids: [all.body.letters[0].id] });
    assert.equal(ok.body.replayed, 1);
    assert.equal(ok.body.results[0].to, 'late');
    assert.deepEqual((await ctx.call('DELETE', '/dead-letters?receiver=other')).body, { purged: 1 });
    assert.equal((await ctx.call('GET', '/dead-letters')).body.total, 1);
  });
});

test('api operations - resources, memory and garbage collection', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 'e', agentWasm('echo'));
    const r = await ctx.call('GET', '/resources');
    assert.equal(r.body.node.id, 'test-node');
    assert.equal(r.body.node.agents, 1);
    assert.ok(r.body.node.memory_rss_bytes > 0 && r.body.node.memory_available_bytes > 0);
    assert.ok(r.body.node.cpu_percent >= 0 && r.body.node.cpu_percent <= 100);
    assert.equal(r.body.agents[0].name, 'e');
    assert.ok(r.body.agents[0].memory_bytes >= 65536);
    const m = await ctx.call('GET', '/memory');
    assert.ok(m.body.used_bytes > 0 && m.body.limit_bytes >= m.body.used_bytes && m.body.agents_memory_bytes >= 65536);
    // A module admitted but not used by any agent is evicted by an aggressive collection.
    await ctx.node.pool.admit(agentWasm('counter'));
    const gc = await ctx.call('POST', '/memory/gc', { aggressive: true });
    assert.equal(gc.status, 200);
    assert.equal(gc.body.modules_evicted, 1);
    assert.equal((await ctx.call('POST', '/memory/gc')).body.modules_evicted, 0);
    assert.equal((await inform(ctx, 'e')).status, 202, 'the running agent kept its module');
  });
});

test('api operations - circuit breakers: activate refuses messages, reset lets them through', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 'calc', agentWasm('calculator'));
    assert.deepEqual((await ctx.call('POST', '/circuit-breakers/activate', {})).body, { activated: 1 });
    const refused = await ctx.call('POST', '/messages?wait_reply=true&timeout_ms=3000', { performative: 'query-ref', receiver: 'calc', content: { op: 'add', args: [1, 1] } });
    assert.equal(refused.body.reply.performative, 'failure', 'a system failure: the circuit is open');
    assert.match(JSON.stringify(refused.body.reply.content), /circuit/);
    assert.equal((await ctx.call('POST', '/circuit-breakers/reset', { agent: 'calc' })).body.reset, 1);
    const ok = await ctx.call('POST', '/messages?wait_reply=true&timeout_ms=3000', { performative: 'query-ref', receiver: 'calc', content: { op: 'add', args: [1, 1] } });
    assert.deepEqual(ok.body.reply.content, { result: 2 });
    assert.equal((await ctx.call('POST', '/circuit-breakers/activate', { agent: 'nobody' })).status, 404);
  });
});

test('api operations - emergency stop: every agent stops, a database copy is written, and they stay stopped after a restart', async () => {
  const { tempDir } = await import('../../helpers/tmp.js');
  const dir = tempDir();
  try {
    await withNode(
      {},
      async (ctx) => {
        await deploy(ctx, 'a', agentWasm('echo'));
        await deploy(ctx, 'b', agentWasm('counter'));
        const r = await ctx.call('POST', '/emergency/stop', { preserve_state: true, dump_to: `${dir.path}/dump` });
        assert.deepEqual(r.body.stopped.sort(), ['a', 'b']);
        assert.ok(existsSync(r.body.dump), 'the database copy exists');
        // The copy is one SQLite database file (the runbook's --dump-to names a directory to put it
        // in, not an archive), and docs/api.md says so.
        assert.match(r.body.dump, /^.*\/dump\/caxton-emergency-[0-9TZ-]+\.db$/);
        assert.equal(readFileSync(r.body.dump).subarray(0, 16).toString('latin1'), 'SQLite format 3\0');
        const copy = new Database(r.body.dump, { readonly: true, fileMustExist: true });
        try {
          const names = (copy.prepare('SELECT name FROM deployments ORDER BY name').all() as { name: string }[]).map((d) => d.name);
          assert.deepEqual(names, ['a', 'b'], 'the copy holds the deployments');
        } finally {
          copy.close();
        }
        const row = readFileSync(new URL('../../../docs/api.md', import.meta.url), 'utf8').split('\n').find((l) => l.startsWith('| `POST /emergency/stop`'));
        const documented = /dump\?: "[^"]*caxton-emergency-<ts>(\.[a-z.]+)"/.exec(row ?? '');
        assert.equal(documented?.[1], '.db', `docs/api.md documents the dump file the node writes: ${row}`);
        assert.ok((await ctx.call('GET', '/agents')).body.agents.every((a: { state: string }) => a.state === 'stopped'));
      },
      dir.path,
    );
    await withNode(
      {},
      async (ctx) => {
        const agents = (await ctx.call('GET', '/agents')).body.agents;
        assert.deepEqual(agents.map((a: { name: string; state: string }) => [a.name, a.state]), [['a', 'stopped'], ['b', 'stopped']]);
        assert.equal((await ctx.call('POST', '/agents/a/restart')).body.state, 'running');
      },
      dir.path,
    );
  } finally {
    dir.cleanup();
  }
});

test('api operations - debug dump is a tar.gz with the state, config, logs and metrics', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 'e', agentWasm('echo'));
    const res = await fetch(`${ctx.url}/debug/dump`, { headers: { authorization: `Bearer ${ctx.adminKey}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/gzip');
    const tar = gunzipSync(Buffer.from(await res.arrayBuffer()));
    const names: string[] = [];
    for (let off = 0; off + 512 <= tar.length; ) {
      const name = tar.subarray(off, off + 100).toString('utf8').replace(/\0.*$/s, '');
      if (name === '') break;
      const size = parseInt(tar.subarray(off + 124, off + 136).toString('ascii').replace(/\0.*$/s, ''), 8);
      names.push(name);
      if (name === 'agents.json') assert.equal(JSON.parse(tar.subarray(off + 512, off + 512 + size).toString('utf8'))[0].name, 'e');
      off += 512 + Math.ceil(size / 512) * 512;
    }
    assert.deepEqual(names, ['status.json', 'agents.json', 'stats.json', 'conversations.json', 'dead-letters.json', 'journal.json', 'config.json', 'logs.jsonl', 'metrics.txt']);
  });
});

test('api operations - GET /metrics is the Prometheus text behind the key: a viewer reads it, no key is refused', async () => {
  await withNode({}, async (ctx) => {
    await deploy(ctx, 'e', agentWasm('echo'));
    const none = await fetch(`${ctx.url}/metrics`);
    assert.equal(none.status, 401);
    const viewer = await ctx.call('POST', '/keys', { name: 'scraper', role: 'viewer' });
    assert.equal(viewer.status, 201);
    const res = await fetch(`${ctx.url}/metrics`, { headers: { authorization: `Bearer ${viewer.body.key as string}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    assert.match(text, /^# TYPE caxton_agent_crashes_total counter$/m);
    assert.match(text, /^caxton_agents\{[^}]*state="running"[^}]*\} 1$/m);
  });
});

test('api operations - the event stream delivers agent events as SSE, filtered by type', async () => {
  await withNode({}, async (ctx) => {
    const ac = new AbortController();
    const res = await fetch(`${ctx.url}/events?types=agent.state`, { headers: { authorization: `Bearer ${ctx.adminKey}` }, signal: ac.signal });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    const read = (async () => {
      while (!text.includes('"to":"suspended"')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString('utf8');
      }
    })();
    await deploy(ctx, 'e', agentWasm('echo'));
    await ctx.call('POST', '/agents/e/suspend');
    await Promise.race([read, new Promise((_, rej) => setTimeout(() => rej(new Error(`no event; got ${text}`)), 5000))]);
    ac.abort();
    assert.match(text, /event: agent\.state\ndata: \{"type":"agent\.state","time":"[^"]+","agent":"e","from":"running","to":"suspended"\}/);
    assert.ok(!text.includes('agent.started'), 'filtered to agent.state');
  });
});

test('api operations - the OpenAPI document lists the routes; config needs admin', async () => {
  await withNode({}, async (ctx) => {
    const doc = (await ctx.call('GET', '/openapi.json', undefined, null)).body;
    assert.equal(doc.openapi.startsWith('3.'), true);
    for (const p of ['/api/v1/agents', '/api/v1/agents/{name}/upgrade', '/api/v1/messages', '/api/v1/queue/drain', '/api/v1/events']) assert.ok(p in doc.paths, p);
    assert.equal((await ctx.call('GET', '/config')).status, 200);
  });
});

test('api operations - a restart is refused with a clear error where no `caxton server start` owns the node, and for an unknown node', async () => {
  await withNode({}, async (ctx) => {
    const r = await ctx.call('POST', '/server/restart', { reason: 'settings' });
    assert.equal(r.status, 409);
    assert.equal(r.body.error.code, 'CAXTON_ERR_RESTART_UNAVAILABLE');
    assert.match(r.body.error.message, /cannot restart itself: it does not run under `caxton server start`/);
    const none = await ctx.call('POST', '/server/restart', { reason: 'settings', node: 'nowhere' });
    assert.equal(none.status, 404);
    assert.equal(none.body.error.code, 'CAXTON_ERR_CLUSTER_UNKNOWN_NODE');
    const bad = await ctx.call('POST', '/server/restart', {});
    assert.equal(bad.status, 400);
    assert.equal((await ctx.call('GET', '/status')).status, 200, 'the node keeps serving');
  });
});
