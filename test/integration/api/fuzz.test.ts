/**
 * Bad input at every route: malformed and hostile bodies, headers, paths and query strings. Every
 * answer must be a 4xx in the one error shape (never a 5xx, a hang or a crash), and the node must stay
 * healthy and keep its agents.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { agentWasm } from '../../helpers/agents.js';
import { withNode } from '../../helpers/node.js';
import { prng } from '../../helpers/prng.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 20261127);
const ROUNDS = Number(process.env['FUZZ_ROUNDS'] ?? 6);

/** A raw HTTP request, so headers and bodies can be anything fetch would refuse to send. */
function raw(url: string, method: string, path: string, headers: Record<string, string>, body: Buffer | string | undefined): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path: u.pathname + path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path} hung`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function bodies(rand: () => number): (string | Buffer | undefined)[] {
  const junk = Buffer.from(Array.from({ length: 64 }, () => Math.floor(rand() * 256)));
  return [
    undefined,
    '',
    '{',
    'null',
    '[]',
    '"text"',
    '12',
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{"x":1}}}',
    '{"name":{"$gt":""},"module":[1,2]}',
    `{"name":"${'a'.repeat(300)}","module":"AAAA"}`,
    '{"performative":"inform","receiver":"e","content":{"a":' + '['.repeat(2000) + ']'.repeat(2000) + '}}',
    '{"timeout_ms":-1,"ids":["x"],"yaml":123,"aggressive":"yes","agent":null,"role":"god","stages":"a:b"}',
    junk,
    junk.toString('latin1'),
    '\u0000\u0001\u0002',
    JSON.stringify({ strategy: 'canary', module: 'AAAA', canary: { stages: [{ percent: 'x' }] } }),
  ];
}

const HEADER_SETS: Record<string, string>[] = [
  { 'content-type': 'application/json' },
  { 'content-type': 'text/plain' },
  { 'content-type': 'application/x-www-form-urlencoded' },
  { 'content-type': 'multipart/form-data; boundary=zzz' },
  { 'content-type': 'multipart/form-data' },
  { 'content-type': 'application/json; charset=utf-16' },
  { 'content-type': 'application/json', 'content-encoding': 'gzip' },
];

test('api fuzz - every route answers bad input with a 4xx in the error shape, and the node stays healthy', async () => {
  await withNode({ api: { addr: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false, perSecond: 1, burst: 1 } } }, async (ctx) => {
    assert.equal((await ctx.call('POST', '/agents', { name: 'e', module: Buffer.from(agentWasm('echo')).toString('base64') })).status, 201);
    const doc = (await ctx.call('GET', '/openapi.json', undefined, null)).body as { paths: Record<string, Record<string, unknown>> };
    const routes: [string, string][] = [];
    for (const [path, ops] of Object.entries(doc.paths)) for (const m of Object.keys(ops)) routes.push([m.toUpperCase(), path.replace(/^\/api\/v1/, '')]);
    assert.ok(routes.length >= 30, `${routes.length} routes`);
    const rand = prng(SEED);
    const params = ['e', 'nobody', '%00', '..%2F..%2Fetc', 'a'.repeat(400), '%E2%80%AE', '1'];
    const queries = ['', '?tail=abc', '?limit=-5&after=x', '?wait_reply=maybe&timeout_ms=1e9', '?types=%00', '?pattern=(((', '?state=' + 'x'.repeat(100), '?__proto__[x]=1'];
    let requests = 0;
    const seen = new Map<number, number>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [method, template] of routes) {
        // Never the two routes that would legitimately act on the node as a whole.
        if (template === '/emergency/stop' || template === '/events') continue;
        // Mutating routes never name the live agent: a valid suspend or remove is not a fuzz finding.
        const pick = () => (params[Math.floor(rand() * params.length)] as string).replace(/^e$/, method === 'GET' ? 'e' : 'nobody');
        const path = template.replace(/\{[^}]+\}/g, pick) + (queries[Math.floor(rand() * queries.length)] as string);
        const body = method === 'GET' || method === 'DELETE' ? undefined : bodies(rand)[Math.floor(rand() * 17)];
        const headers: Record<string, string> = { authorization: `Bearer ${ctx.adminKey}`, ...(HEADER_SETS[Math.floor(rand() * HEADER_SETS.length)] as Record<string, string>) };
        if (body === undefined) delete headers['content-type'];
        const r = await raw(ctx.url, method, path, headers, body);
        requests++;
        seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
        assert.ok(r.status < 500, `${method} ${path} → ${r.status} ${r.text.slice(0, 300)} (seed ${SEED})`);
        if (r.status >= 400) {
          const parsed = JSON.parse(r.text) as { error?: { code?: unknown; message?: unknown; hint?: unknown } };
          assert.match(String(parsed.error?.code), /^CAXTON_ERR_/, `${method} ${path}: ${r.text.slice(0, 200)}`);
          assert.equal(typeof parsed.error?.message, 'string');
          assert.equal(typeof parsed.error?.hint, 'string');
        }
      }
    }
    // Headers that are wrong in themselves, at one authenticated route.
    for (const h of [{ authorization: 'Bearer' } as Record<string, string>, { authorization: 'Bearer a b' }, { authorization: '\u00ff' }, { 'x-caxton-api-key': '' }, { authorization: `Bearer ${'k'.repeat(10_000)}` }, { authorization: `Bearer ${'k'.repeat(20_000)}` }]) {
      const r = await raw(ctx.url, 'GET', '/agents', h, undefined);
      assert.ok(r.status === 401 || r.status === 400 || r.status === 431, `${JSON.stringify(h).slice(0, 50)} → ${r.status}`);
      // 431 comes from Node's parser, before fastify: the same shape all the same.
      assert.match(String((JSON.parse(r.text) as { error?: { code?: unknown } }).error?.code), /^CAXTON_ERR_/, `${JSON.stringify(h).slice(0, 50)}: ${r.text.slice(0, 200)}`);
    }
    assert.ok(requests > 100);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'no prototype pollution');
    const health = await ctx.call('GET', '/health', undefined, null);
    assert.equal(health.status, 200);
    // An empty POST to /circuit-breakers/activate is valid (opens every circuit): close them again.
    await ctx.call('POST', '/circuit-breakers/reset');
    const e = await ctx.call('POST', '/messages?wait_reply=true', { performative: 'request', receiver: 'e', content: { still: 'here' } });
    assert.deepEqual(e.body.reply?.content, { still: 'here' }, `the agent still answers: ${JSON.stringify(e.body)}; statuses seen: ${JSON.stringify([...seen])}`);
  });
});
