/**
 * The API's JSON body parser, in place of fastify's default one. It parses the same way (JSON.parse,
 * then the keys that could change an object's prototype are refused, as secure-json-parse does), but
 * says why a body was refused — fastify answers "Body is not valid JSON" for a syntax error and for
 * a `__proto__` key alike — and it refuses nesting deeper than MAX_BODY_DEPTH, which the node could
 * not serialize (JSON.stringify recurses) or hand to an agent.
 *
 * A route whose body is a FIPA-ACL message (route config `jsonBody: 'message'`) gets the body's text
 * as well (`req.jsonText`), for what the object alone cannot show (a key twice), and the nesting is
 * left to the message validator, which words it as a message error. Other routes do not keep the text:
 * a deploy body may be 64 MiB.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CaxtonError } from '../errors.js';
import { excessNesting, MAX_MESSAGE_DEPTH } from '../messaging/validate.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The JSON body as the client sent it, on routes with `jsonBody: 'message'`; else undefined. */
    jsonText: string | undefined;
  }
  interface FastifyContextConfig {
    /** 'message': the body is a FIPA-ACL message, checked by the message validator from its text. */
    jsonBody?: 'message';
  }
}

/**
 * How deep objects and arrays may nest in a request body, the body itself being level 1. The same as
 * a message's limit, for the same readers: what a body carries besides messages reaches agents too
 * (a deployment's `config` is level 2 of the body and level 2 of the agent_init document), and the
 * node serializes it recursively (JSON.stringify ran out of stack at a few thousand levels).
 */
export const MAX_BODY_DEPTH = MAX_MESSAGE_DEPTH;

export function installJsonBodyParser(app: FastifyInstance, bodyLimit: number): void {
  app.decorateRequest('jsonText', undefined);
  // Replaces the default parser for application/json (fastify allows exactly this override).
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (req: FastifyRequest, body: string | Buffer, done: (err: Error | null, value?: unknown) => void) => {
    try {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      const message = req.routeOptions.config.jsonBody === 'message';
      const value = parseJsonBody(text, !message);
      if (message) req.jsonText = text;
      done(null, value);
    } catch (e) {
      done(e as Error);
    }
  });
}

/**
 * Parses a request body. Throws CaxtonError: API_INVALID_REQUEST (empty, not JSON, nesting deeper than
 * MAX_BODY_DEPTH when `checkNesting`) or API_FORBIDDEN_KEY.
 */
export function parseJsonBody(text: string, checkNesting = true): unknown {
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
  if (checkNesting) refuseDeepNesting(text, 'body', MAX_BODY_DEPTH);
  refuseForbiddenKeys(text, value);
  return value;
}

/**
 * Refuses a JSON text (that parsed) nesting deeper than `limit` levels; `root` names the text in the
 * error (`body`, or `body.config` for a multipart field, whose text starts at level 2 of the body).
 */
export function refuseDeepNesting(text: string, root: string, limit: number): void {
  const key = excessNesting(text, limit);
  if (key === undefined) return;
  const field = key === '' ? root : `${root}.${key}`;
  throw new CaxtonError(
    'CAXTON_ERR_API_INVALID_REQUEST',
    `${field} nests deeper than ${MAX_BODY_DEPTH} levels of objects and arrays, the most a request body may have (the body itself is level 1)`,
    { field, limit: MAX_BODY_DEPTH },
  );
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
