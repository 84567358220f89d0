/**
 * REST API: the one error shape, for the errors routes raise and for the ones raised before a route
 * runs (the body parser, the router, Node's HTTP parser), and error texts that quote what the client
 * sent as it was sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { agentWasm } from '../../helpers/agents.js';
import { sinkAgent } from '../../helpers/wat-agents.js';
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

test('api errors - a body nesting deeper than 128 levels is a 400 naming the field and the limit, in JSON and in a multipart JSON field', async () => {
  await withNode({}, async (ctx) => {
    const nest = (levels: number) => `${'['.repeat(levels)}1${']'.repeat(levels)}`;
    const module = b64(agentWasm('echo'));
    // config is level 2 of the body: 20,000 levels made JSON.stringify in the spawn throw (a 500).
    const deep = await ctx.call('POST', '/agents', `{"name":"deep","module":"${module}","config":{"x":${nest(20_000)}}}`);
    assertShape(deep, 400, 'CAXTON_ERR_API_INVALID_REQUEST', 'body.config nests deeper than 128 levels of objects and arrays, the most a request body may have (the body itself is level 1)');
    assert.equal(deep.body.error.details.limit, 128);
    assert.equal(deep.body.error.details.field, 'body.config');
    const form = new FormData();
    form.set('name', 'deep');
    form.set('config', `{"x":${nest(20_000)}}`);
    form.set('module', new Blob([agentWasm('echo')]), 'echo.wasm');
    const res = await fetch(`${ctx.url}/agents`, { method: 'POST', headers: { authorization: `Bearer ${ctx.adminKey}` }, body: form });
    const multipart = { status: res.status, body: (await res.json()) as { error: { details: Record<string, unknown> } } };
    assertShape(multipart, 400, 'CAXTON_ERR_API_INVALID_REQUEST', 'body.config.x nests deeper than 128 levels of objects and arrays, the most a request body may have (the body itself is level 1)');
    assert.equal(multipart.body.error.details['limit'], 128);
    // Other routes too: the check is the body parser's.
    assertShape(await ctx.call('POST', '/config/diff', `{"yaml":"a: 1","file":${nest(200)}}`), 400, 'CAXTON_ERR_API_INVALID_REQUEST', /^body\.file nests deeper than 128 levels/);
    // At the limit, and one past it: the body is level 1, config 2, x's arrays 3 to 128.
    assertShape(await ctx.call('POST', '/agents', `{"name":"ok","module":"${module}","config":{"x":${nest(127)}}}`), 400, 'CAXTON_ERR_API_INVALID_REQUEST', /^body\.config nests deeper/);
    const ok = await ctx.call('POST', '/agents', `{"name":"ok","module":"${module}","config":{"x":${nest(126)}}}`);
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal((await ctx.call('GET', '/agents', undefined)).body.agents.length, 1, 'the deep ones were not deployed; the node keeps serving');
  });
});

/** Writes `text` on a fresh connection and reads until the server closes it (10 s at most). */
function exchange(port: number, text: string): Promise<{ status: number; headers: string; body: unknown }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (data += d));
    socket.on('error', reject);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to ${JSON.stringify(text.slice(0, 60))} within 10 s; got ${JSON.stringify(data)}`));
    }, 10_000);
    socket.on('close', () => {
      clearTimeout(timer);
      const [head = '', body = ''] = data.split('\r\n\r\n', 2);
      let parsed: unknown = body;
      try {
        parsed = JSON.parse(body);
      } catch {
        // left as text: the shape assertion reports it
      }
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), headers: head, body: parsed });
    });
    socket.write(text);
  });
}

test('api errors - what Node\'s HTTP parser refuses before fastify sees it gets the one shape: 431, 400, 413, 408, 417', async () => {
  await withNode({ api: { addr: { host: '127.0.0.1', port: 0 }, requestTimeoutMs: 400, bodyLimitBytes: 4096 } }, async (ctx) => {
    const port = Number(new URL(ctx.url).port);
    const big = await exchange(port, `GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assertShape(big, 431, 'CAXTON_ERR_API_HEADERS_TOO_LARGE', /^the request line and headers are over the 16384 bytes the server reads$/);
    assert.match(big.headers, /\r\ncontent-type: application\/json/i);
    assertShape(await exchange(port, 'HELLO /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n'), 400, 'CAXTON_ERR_API_INVALID_REQUEST', /^the request is not valid HTTP\/1\.1: .*\(HPE_INVALID_METHOD\)$/);
    assertShape(await exchange(port, 'GET /api/v1/health HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n'), 400, 'CAXTON_ERR_API_INVALID_REQUEST', /\(HPE_INVALID_HEADER_TOKEN\)$/);
    const ext = `POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ctx.adminKey}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2;${'e'.repeat(20_000)}\r\n{}\r\n0\r\n\r\n`;
    assertShape(await exchange(port, ext), 413, 'CAXTON_ERR_API_BODY_TOO_LARGE', /chunk extensions/);
    const body = JSON.stringify({ performative: 'inform', receiver: 'x', content: 'y'.repeat(5000) });
    assertShape(await exchange(port, `POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ctx.adminKey}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`), 413, 'CAXTON_ERR_API_BODY_TOO_LARGE');
    // Headers that never end: refused once server.request_timeout (400 ms here) has passed.
    assertShape(await exchange(port, 'GET /api/v1/health HTTP/1.1\r\nHost: x\r\n'), 408, 'CAXTON_ERR_API_REQUEST_TIMEOUT', 'the request was not received in full within 400 ms (server.request_timeout)');
    assertShape(await exchange(port, 'GET /api/v1/health HTTP/1.1\r\nHost: x\r\nExpect: the-unexpected\r\nConnection: close\r\n\r\n'), 417, 'CAXTON_ERR_API_EXPECTATION_FAILED', /"Expect: the-unexpected"/);
    // And what the router refuses: a URL that does not decode, a route that does not exist.
    assertShape(await exchange(port, 'GET /api/v1/agents/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), 400, 'CAXTON_ERR_API_INVALID_REQUEST');
    assertShape(await exchange(port, 'GET /api/v1/nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), 404, 'CAXTON_ERR_API_NOT_FOUND');
    assert.equal((await ctx.call('GET', '/health', undefined, null)).status, 200, 'the node keeps serving');
  });
});

test('api errors - a request that arrives while the node stops gets the one shape (not fastify\'s own 503 body)', async () => {
  await withNode({}, async (ctx) => {
    await ctx.call('POST', '/agents', { name: 's', module: Buffer.from(await sinkAgent()).toString('base64') });
    // One keep-alive connection: a request in flight when the stop begins (a wait for a reply that
    // never comes, 1 s), then a second request on the same connection once the first is answered.
    const socket = connect({ host: '127.0.0.1', port: Number(new URL(ctx.url).port) });
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (data += d));
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    const body = JSON.stringify({ performative: 'request', receiver: 's', content: 1 });
    const auth = `Host: x\r\nAuthorization: Bearer ${ctx.adminKey}\r\n`;
    socket.write(`POST /api/v1/messages?wait_reply=true&timeout_ms=1000 HTTP/1.1\r\n${auth}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await new Promise((r) => setTimeout(r, 200));
    const stopping = ctx.node.stop();
    for (let i = 0; i < 100 && !data.includes('CAXTON_ERR_MESSAGE_TIMEOUT'); i++) await new Promise((r) => setTimeout(r, 50));
    socket.write(`GET /api/v1/agents HTTP/1.1\r\n${auth}\r\n`);
    await closed;
    await stopping;
    const second = data.slice(data.indexOf('HTTP/1.1', 1));
    const [head = '', text = ''] = second.split('\r\n\r\n', 2);
    assertShape({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), body: JSON.parse(text) as unknown }, 503, 'CAXTON_ERR_SERVER_NOT_READY');
  });
});
