/**
 * REST API: the one error shape, for the errors routes raise and for the ones raised before a route
 * runs (the body parser, the router, Node's HTTP parser), and error texts that quote what the client
 * sent as it was sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentWasm } from '../../helpers/agents.js';
import { withNode } from '../../helpers/node.js';
import { AGENT_NAME_RULE } from '../../../src/messaging/message-schema.js';
import { ErrorCatalogue } from '../../../src/errors.js';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** The one shape, with a code from src/errors.ts whose catalogued status is the answer's. */
function assertShape(r: { status: number; body: unknown }, status: number, code: string, message?: RegExp | string): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  const body = r.body as { error?: { code?: string; message?: string; hint?: string } };
  assert.deepEqual(Object.keys(body), ['error'], `one top-level key: ${JSON.stringify(body)}`);
  assert.equal(body.error?.code, code, JSON.stringify(body));
  assert.equal(ErrorCatalogue[code as keyof typeof ErrorCatalogue]?.status, status, `${code} is catalogued with status ${status}`);
  assert.equal(typeof body.error?.hint, 'string');
  if (typeof message === 'string') assert.equal(body.error?.message, message);
  else if (message !== undefined) assert.match(body.error?.message ?? '', message);
}

test('api errors - a bad agent name is refused with the name rule as it is, not a lowercased pattern', async () => {
  await withNode({}, async (ctx) => {
    const rule = `must be an agent name (${AGENT_NAME_RULE}), got "Bad Name!"`;
    assertShape(await ctx.call('POST', '/agents', { name: 'Bad Name!', module: b64(agentWasm('echo')) }), 400, 'CAXTON_ERR_API_INVALID_REQUEST', `body.name ${rule}`);
    // The same field in a multipart upload goes through the same check.
    const form = new FormData();
    form.set('name', 'Bad Name!');
    form.set('module', new Blob([agentWasm('echo')]), 'echo.wasm');
    const res = await fetch(`${ctx.url}/agents`, { method: 'POST', headers: { authorization: `Bearer ${ctx.adminKey}` }, body: form });
    assertShape({ status: res.status, body: await res.json() }, 400, 'CAXTON_ERR_API_INVALID_REQUEST', `body.name ${rule}`);
    // In a path, fastify's validator reports it; the rule reads the same.
    assertShape(await ctx.call('POST', '/agents/Bad%20Name!/suspend'), 400, 'CAXTON_ERR_API_INVALID_REQUEST', `params.name must be an agent name (${AGENT_NAME_RULE})`);
    // Messages TypeBox words itself keep their text; only the first letter is lowered.
    const r = await ctx.call('POST', '/agents', { name: 'ok', module: b64(agentWasm('echo')), priority: 'URGENT' });
    assertShape(r, 400, 'CAXTON_ERR_API_INVALID_REQUEST', /^body\.priority expected /);
  });
});

test('api errors - another patterned field (an API key name) quotes its rule with its case intact', async () => {
  await withNode({}, async (ctx) => {
    assertShape(await ctx.call('POST', '/keys', { name: 'two words', role: 'viewer' }), 400, 'CAXTON_ERR_API_INVALID_REQUEST', 'body.name must be a key name (1 to 100 characters from A-Z a-z 0-9 _ . @ : -)');
  });
});


test('api errors - __proto__ and constructor.prototype in a body are refused by name and place, not as "not valid JSON"', async () => {
  await withNode({}, async (ctx) => {
    const send = (text: string) => ctx.call('POST', '/messages', text);
    assertShape(await send('{"__proto__":{"polluted":true},"performative":"inform","receiver":"x","content":1}'), 400, 'CAXTON_ERR_API_FORBIDDEN_KEY', 'the key __proto__ is not allowed in a request body (at body.__proto__)');
    assertShape(await send('{"performative":"inform","receiver":"x","content":{"a":[1,{"\\u005f_proto__":{}}]}}'), 400, 'CAXTON_ERR_API_FORBIDDEN_KEY', 'the key __proto__ is not allowed in a request body (at body.content.a[1].__proto__)');
    assertShape(await send('{"constructor":{"prototype":{"x":1}},"performative":"inform","receiver":"x","content":1}'), 400, 'CAXTON_ERR_API_FORBIDDEN_KEY', 'the key constructor.prototype is not allowed in a request body (at body.constructor.prototype)');
    // A key named constructor is fine as long as it holds no prototype.
    assertShape(await send('{"performative":"inform","receiver":"nobody","content":{"constructor":"x"}}'), 404, 'CAXTON_ERR_MESSAGE_UNDELIVERABLE');
    // Multipart JSON fields get the same check.
    const form = new FormData();
    form.set('name', 'ok');
    form.set('config', '{"nested":{"__proto__":{"x":1}}}');
    form.set('module', new Blob([agentWasm('echo')]), 'echo.wasm');
    const res = await fetch(`${ctx.url}/agents`, { method: 'POST', headers: { authorization: `Bearer ${ctx.adminKey}` }, body: form });
    assertShape({ status: res.status, body: await res.json() }, 400, 'CAXTON_ERR_API_FORBIDDEN_KEY', 'the key __proto__ is not allowed in a request body (at body.config.nested.__proto__)');
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    // Plain syntax errors say what the parser found, with the position.
    const bad = await send('{"performative": inform}');
    assertShape(bad, 400, 'CAXTON_ERR_API_INVALID_REQUEST', /^body is not valid JSON: Unexpected token 'i', .* is not valid JSON$/);
    assertShape(await send(' '), 400, 'CAXTON_ERR_API_INVALID_REQUEST', /^body is empty but content-type is application\/json/);
  });
});
