import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaxtonError } from '../../../src/errors.js';
import Fastify from 'fastify';
import { installJsonBodyParser, MAX_BODY_DEPTH, parseJsonBody, refuseDeepNesting, refuseForbiddenKeys } from '../../../src/api/json-body.js';

function refused(fn: () => unknown, code: string, message: string | RegExp, details: Record<string, unknown> = {}): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CaxtonError, String(e));
    assert.equal(e.code, code);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    for (const [k, v] of Object.entries(details)) assert.deepEqual(e.details?.[k], v, k);
    return true;
  });
}

test('json body - __proto__ anywhere and constructor.prototype are refused by name and place; other keys pass', () => {
  const check = (text: string) => refuseForbiddenKeys(text, JSON.parse(text) as unknown);
  refused(() => check('{"__proto__":{"x":1}}'), 'CAXTON_ERR_API_FORBIDDEN_KEY', 'the key __proto__ is not allowed in a request body (at body.__proto__)', { field: 'body.__proto__', key: '__proto__' });
  refused(() => check('{"a":[1,{"b":{"\\u005F_proto__":null}}]}'), 'CAXTON_ERR_API_FORBIDDEN_KEY', 'the key __proto__ is not allowed in a request body (at body.a[1].b.__proto__)');
  refused(() => check('[{"constructor":{"prototype":{}}}]'), 'CAXTON_ERR_API_FORBIDDEN_KEY', 'the key constructor.prototype is not allowed in a request body (at body[0].constructor.prototype)');
  refused(() => refuseForbiddenKeys('{"__proto__":1}', JSON.parse('{"__proto__":1}') as unknown, 'body.config'), 'CAXTON_ERR_API_FORBIDDEN_KEY', /\(at body\.config\.__proto__\)$/);
  // Not forbidden: constructor without a prototype, the words as values, __proto__ inside a string.
  for (const text of ['{"constructor":"x"}', '{"constructor":{"name":"y"}}', '{"k":"__proto__"}', '{"k":"\\"__proto__\\":"}', '{"prototype":{}}']) check(text);
  // The walk is iterative: a body nesting far deeper than the call stack is walked without overflowing.
  const deep = `${'{"a":'.repeat(50_000)}{"__proto__":1}${'}'.repeat(50_000)}`;
  refused(() => check(deep), 'CAXTON_ERR_API_FORBIDDEN_KEY', /^the key __proto__ is not allowed/);
});

test('json body - nesting past the limit is refused under the top-level key it is in, with details.limit', () => {
  assert.equal(MAX_BODY_DEPTH, 128);
  const nest = (levels: number) => `${'['.repeat(levels)}0${']'.repeat(levels)}`;
  assert.deepEqual(parseJsonBody(`{"a":${nest(127)}}`), JSON.parse(`{"a":${nest(127)}}`), '128 levels with the body');
  refused(() => parseJsonBody(`{"name":"x","a":${nest(128)}}`), 'CAXTON_ERR_API_INVALID_REQUEST', 'body.a nests deeper than 128 levels of objects and arrays, the most a request body may have (the body itself is level 1)', { field: 'body.a', limit: 128 });
  refused(() => parseJsonBody(nest(20_000)), 'CAXTON_ERR_API_INVALID_REQUEST', /^body nests deeper than 128 levels/, { field: 'body', limit: 128 });
  // Brackets inside strings do not count; a message route leaves nesting to the message validator.
  parseJsonBody(`{"a":"${'['.repeat(500)}"}`);
  parseJsonBody(`{"a":${nest(500)}}`, false);
  // A multipart JSON field is level 2 of the body: named under its field, with the body's limit.
  refuseDeepNesting(nest(126), 'body.config', MAX_BODY_DEPTH - 1);
  refused(() => refuseDeepNesting(`{"k":${nest(127)}}`, 'body.config', MAX_BODY_DEPTH - 1), 'CAXTON_ERR_API_INVALID_REQUEST', /^body\.config\.k nests deeper than 128 levels/, { limit: 128 });
});

test('json body - empty and malformed bodies say what the parser found', () => {
  refused(() => parseJsonBody('  '), 'CAXTON_ERR_API_INVALID_REQUEST', /^body is empty but content-type is application\/json/);
  refused(() => parseJsonBody('{"a":1 x}'), 'CAXTON_ERR_API_INVALID_REQUEST', /^body is not valid JSON: /, { field: 'body', position: 7 });
});

test('json body - the text is kept only on routes that ask for it (jsonBody: message), which check nesting themselves', async () => {
  const app = Fastify();
  installJsonBodyParser(app, 1024 * 1024);
  app.setErrorHandler((e, _req, reply) => void reply.status(400).send({ code: (e as CaxtonError).code }));
  app.post('/message', { config: { jsonBody: 'message' } }, async (req) => ({ text: req.jsonText ?? null }));
  app.post('/other', async (req) => ({ text: req.jsonText ?? null }));
  try {
    const post = async (url: string, payload: string) => (await app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json' } })).json() as { text?: string | null; code?: string };
    assert.deepEqual(await post('/message', '{"a":1}'), { text: '{"a":1}' });
    assert.deepEqual(await post('/other', '{"a":1}'), { text: null }, 'a deploy body is not kept twice');
    const deep = `{"a":${'['.repeat(200)}${']'.repeat(200)}}`;
    assert.deepEqual(await post('/message', deep), { text: deep }, 'left to the message validator');
    assert.deepEqual(await post('/other', deep), { code: 'CAXTON_ERR_API_INVALID_REQUEST' });
  } finally {
    await app.close();
  }
});
