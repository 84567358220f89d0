/** REST API: API keys, roles and permissions, the rate limit, and public routes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentWasm } from '../../helpers/agents.js';
import { withNode, type NodeContext } from '../../helpers/node.js';

const echo = Buffer.from(agentWasm('echo')).toString('base64');

async function keyWith(ctx: NodeContext, role: string): Promise<string> {
  const r = await ctx.call('POST', '/keys', { name: `${role}-key`, role });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.match(r.body.key, /^cax_/);
  return r.body.key as string;
}

test('api auth - no key is 401, an unknown key is 401; public routes need none', async () => {
  await withNode({}, async (ctx) => {
    for (const [key, re] of [
      [null, /needs an API key/],
      ['cax_wrong', /not valid/],
      ['x'.repeat(5000), /not valid/],
    ] as const) {
      const r = await ctx.call('GET', '/agents', undefined, key);
      assert.equal(r.status, 401);
      assert.equal(r.body.error.code, 'CAXTON_ERR_API_UNAUTHORIZED');
      assert.match(r.body.error.message, re);
      assert.match(r.body.error.hint, /admin\.key/);
    }
    const viaHeader = await fetch(`${ctx.url}/agents`, { headers: { 'x-caxton-api-key': ctx.adminKey } });
    assert.equal(viaHeader.status, 200, 'X-Caxton-Api-Key works too');
    const basic = await fetch(`${ctx.url}/agents`, { headers: { authorization: `Basic ${ctx.adminKey}` } });
    assert.equal(basic.status, 401);
    for (const p of ['/health', '/ready', '/openapi.json']) assert.equal((await ctx.call('GET', p, undefined, null)).status, 200, p);
  });
});

test('api auth - each role gets exactly its permissions (403 otherwise)', async () => {
  await withNode({}, async (ctx) => {
    const viewer = await keyWith(ctx, 'viewer');
    const developer = await keyWith(ctx, 'developer');
    const operator = await keyWith(ctx, 'operator');
    const deploy = (key: string, name: string) => ctx.call('POST', '/agents', { name, module: echo }, key);
    const send = (key: string) => ctx.call('POST', '/messages', { performative: 'inform', receiver: 'd', content: 1 }, key);
    const suspend = (key: string) => ctx.call('POST', '/agents/d/suspend', undefined, key);

    const denied = (r: { status: number; body: { error: { code: string; message: string } } }, perm: string) => {
      assert.equal(r.status, 403, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'CAXTON_ERR_API_FORBIDDEN');
      assert.match(r.body.error.message, new RegExp(`"${perm}" permission`));
    };
    denied(await deploy(viewer, 'v'), 'deploy');
    denied(await deploy(operator, 'o'), 'deploy');
    assert.equal((await deploy(developer, 'd')).status, 201);
    assert.equal((await ctx.call('GET', '/agents', undefined, viewer)).status, 200);
    denied(await send(viewer), 'send');
    assert.equal((await send(developer)).status, 202);
    assert.equal((await send(operator)).status, 202);
    denied(await suspend(developer), 'control');
    denied(await suspend(viewer), 'control');
    assert.equal((await suspend(operator)).status, 200);
    denied(await ctx.call('GET', '/config', undefined, operator), 'admin');
    denied(await ctx.call('GET', '/keys', undefined, developer), 'admin');
    denied(await ctx.call('GET', '/debug/dump', undefined, viewer), 'admin');
  });
});

test('api auth - keys are listed without secrets, revoked keys stop working, a key cannot revoke itself', async () => {
  await withNode({}, async (ctx) => {
    const key = await keyWith(ctx, 'viewer');
    const list = await ctx.call('GET', '/keys');
    assert.deepEqual(list.body.keys.map((k: { name: string; role: string }) => [k.name, k.role]), [['local-admin', 'admin'], ['viewer-key', 'viewer']]);
    assert.ok(!JSON.stringify(list.body).includes('cax_'), 'no key material in the list');
    const id = list.body.keys[1].id as string;
    assert.deepEqual((await ctx.call('DELETE', `/keys/${id}`)).body, { id, revoked: true });
    assert.equal((await ctx.call('GET', '/agents', undefined, key)).status, 401);
    assert.equal((await ctx.call('DELETE', `/keys/${id}`)).status, 404);
    const self = list.body.keys[0].id as string;
    assert.equal((await ctx.call('DELETE', `/keys/${self}`)).status, 403);
    assert.equal((await ctx.call('POST', '/keys', { name: 'x', role: 'superuser' })).status, 400);
  });
});

test('api auth - the rate limit answers 429 with Retry-After and the X-RateLimit headers', async () => {
  await withNode({ api: { addr: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: true, perSecond: 5, burst: 5 } } }, async (ctx) => {
    const statuses: number[] = [];
    let last: Headers | undefined;
    for (let i = 0; i < 8; i++) {
      const r = await ctx.call('GET', '/agents');
      statuses.push(r.status);
      last = r.headers;
      if (r.status === 429) {
        assert.equal(r.body.error.code, 'CAXTON_ERR_API_RATE_LIMITED');
        assert.ok(Number(r.headers.get('retry-after')) >= 1);
      }
    }
    assert.deepEqual(statuses.slice(0, 5), [200, 200, 200, 200, 200]);
    assert.ok(statuses.slice(5).includes(429), statuses.join(','));
    assert.equal(last?.get('x-ratelimit-limit'), '5');
    assert.ok(Number(last?.get('x-ratelimit-reset')) >= Math.floor(Date.now() / 1000));
    assert.equal((await ctx.call('GET', '/health', undefined, null)).status, 200, 'public routes are not limited');
  });
});

test('api auth - the body limit answers 413 in the error shape', async () => {
  await withNode({ api: { addr: { host: '127.0.0.1', port: 0 }, bodyLimitBytes: 1024 } }, async (ctx) => {
    const r = await ctx.call('POST', '/agents', { name: 'x', module: 'A'.repeat(4096) });
    assert.equal(r.status, 413);
    assert.equal(r.body.error.code, 'CAXTON_ERR_API_BODY_TOO_LARGE');
  });
});

test('api auth - PATCH /keys/:id changes a key\'s role at once; a key cannot take its own admin role away', async () => {
  await withNode({}, async (ctx) => {
    const key = await keyWith(ctx, 'viewer');
    const list = await ctx.call('GET', '/keys');
    const id = list.body.keys[1].id as string;
    assert.equal((await ctx.call('POST', '/agents/x/suspend', undefined, key)).status, 403);
    const r = await ctx.call('PATCH', `/keys/${id}`, { role: 'operator' });
    assert.equal(r.status, 200);
    assert.equal(r.body.role, 'operator');
    assert.equal((await ctx.call('POST', '/agents/x/suspend', undefined, key)).body.error.code, 'CAXTON_ERR_AGENT_NOT_FOUND', 'the new role lets it through');
    assert.equal((await ctx.call('PATCH', `/keys/${id}`, { role: 'root' })).status, 400);
    assert.equal((await ctx.call('PATCH', '/keys/nope', { role: 'viewer' })).status, 404);
    const self = list.body.keys[0].id as string;
    assert.equal((await ctx.call('PATCH', `/keys/${self}`, { role: 'viewer' })).status, 403);
  });
});
