/**
 * The API's JSON body parser, in place of fastify's default one. It parses the same way (JSON.parse,
 * then the keys that could change an object's prototype are refused, as secure-json-parse does), but
 * says why a body was refused — fastify answers "Body is not valid JSON" for a syntax error and for
 * a `__proto__` key alike — and it keeps the body's text on the request (`req.jsonText`) for the
 * routes that must check what the object alone cannot show (duplicate keys in a message).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CaxtonError } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The JSON body as the client sent it; undefined for other content types. */
    jsonText: string | undefined;
  }
}

export function installJsonBodyParser(app: FastifyInstance, bodyLimit: number): void {
  app.decorateRequest('jsonText', undefined);
  // Replaces the default parser for application/json (fastify allows exactly this override).
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (req: FastifyRequest, body: string | Buffer, done: (err: Error | null, value?: unknown) => void) => {
    try {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      const value = parseJsonBody(text);
      req.jsonText = text;
      done(null, value);
    } catch (e) {
      done(e as Error);
    }
  });
}

/** Parses a request body. Throws CaxtonError: API_INVALID_REQUEST (empty, not JSON) or API_FORBIDDEN_KEY. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') {
    throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', 'body is empty but content-type is application/json: send a JSON value, or leave the content-type out', { field: 'body' });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const reason = (e as Error).message;
    const at = /at position (\d+)/.exec(reason);
    throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', `body is not valid JSON: ${reason}`, { field: 'body', ...(at === null ? {} : { position: Number(at[1]) }) });
  }
  refuseForbiddenKeys(text, value);
  return value;
}

// A key, written plainly or with \u escapes, followed by its colon (secure-json-parse's pre-tests):
// only a body that matches one is walked.
const SUSPECT_PROTO = /"(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])"\s*:/;
const SUSPECT_CONSTRUCTOR = /"(?:c|\\u0063)(?:o|\\u006[Ff])(?:n|\\u006[Ee])(?:s|\\u0073)(?:t|\\u0074)(?:r|\\u0072)(?:u|\\u0075)(?:c|\\u0063)(?:t|\\u0074)(?:o|\\u006[Ff])(?:r|\\u0072)"\s*:/;

/**
 * Refuses `__proto__` anywhere, and `constructor` holding an object with a `prototype` key: code
 * that copies such an object into another (Object.assign, a merge) would change that object's
 * prototype. JSON.parse itself makes them plain own keys, so the parse above was safe. The walk is
 * iterative: a body may nest deeper than the call stack.
 */
export function refuseForbiddenKeys(text: string, value: unknown, root = 'body'): void {
  const proto = SUSPECT_PROTO.test(text);
  const ctor = SUSPECT_CONSTRUCTOR.test(text);
  if (!proto && !ctor) return;
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length > 0) {
    const [node, path] = stack.pop() as [unknown, string];
    if (node === null || typeof node !== 'object') continue;
    if (proto && Object.hasOwn(node, '__proto__')) throw forbidden('__proto__', `${path}.__proto__`);
    const c = ctor && Object.hasOwn(node, 'constructor') ? (node as Record<string, unknown>)['constructor'] : undefined;
    if (c !== null && typeof c === 'object' && Object.hasOwn(c, 'prototype')) throw forbidden('constructor.prototype', `${path}.constructor.prototype`);
    const entries = Array.isArray(node) ? node.map((v, i) => [String(i), v] as const) : Object.entries(node);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, v] = entries[i] as readonly [string, unknown];
      if (v !== null && typeof v === 'object') stack.push([v, Array.isArray(node) ? `${path}[${k}]` : `${path}.${k}`]);
    }
  }
}

function forbidden(key: string, at: string): CaxtonError {
  return new CaxtonError('CAXTON_ERR_API_FORBIDDEN_KEY', `the key ${key} is not allowed in a request body (at ${at})`, { field: at, key });
}
