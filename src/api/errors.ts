/**
 * One error shape for every route: `{error: {code, message, hint, details?}}`. Fastify's own errors
 * (validation, body limit, content type, unknown route) are translated into Caxton codes here, so a
 * client never sees two shapes.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CaxtonError, isCaxtonError, type ErrorCode } from '../errors.js';
import { AGENT_NAME_PATTERN, AGENT_NAME_RULE } from '../messaging/message-schema.js';
import { KEY_NAME_PATTERN, KEY_NAME_RULE } from './auth.js';

export function errorBody(e: CaxtonError): { error: ReturnType<CaxtonError['toJSON']> } {
  return { error: e.toJSON() };
}

/** Refusals that tell the client when to come back (their details carry `retryAfter`, seconds). */
const RETRY_AFTER_CODES: ReadonlySet<ErrorCode> = new Set(['CAXTON_ERR_API_RATE_LIMITED', 'CAXTON_ERR_LOAD_SHED']);

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | CaxtonError | Error, req: FastifyRequest, reply: FastifyReply) => {
    const e = toCaxtonError(err);
    if (e.status >= 500) req.log.error({ err, reqId: req.id }, 'request failed');
    if (RETRY_AFTER_CODES.has(e.code) && e.details?.['retryAfter'] !== undefined) {
      void reply.header('retry-after', String(e.details['retryAfter']));
    }
    void reply.status(e.status).type('application/json').send(errorBody(e));
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new CaxtonError('CAXTON_ERR_API_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0] ?? ''}`);
    void reply.status(404).send(errorBody(e));
  });
}

const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'CAXTON_ERR_API_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'CAXTON_ERR_API_UNSUPPORTED_MEDIA',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'CAXTON_ERR_API_INVALID_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'CAXTON_ERR_API_INVALID_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'CAXTON_ERR_API_INVALID_REQUEST',
  FST_ERR_CTP_INVALID_TYPE: 'CAXTON_ERR_API_UNSUPPORTED_MEDIA',
  FST_ERR_CTP_INVALID_PARSE_TYPE: 'CAXTON_ERR_API_UNSUPPORTED_MEDIA',
  FST_REQ_FILE_TOO_LARGE: 'CAXTON_ERR_API_BODY_TOO_LARGE',
  FST_FILES_LIMIT: 'CAXTON_ERR_API_INVALID_REQUEST',
  FST_FIELDS_LIMIT: 'CAXTON_ERR_API_INVALID_REQUEST',
  FST_PARTS_LIMIT: 'CAXTON_ERR_API_INVALID_REQUEST',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'CAXTON_ERR_API_UNSUPPORTED_MEDIA',
  FST_PROTO_VIOLATION: 'CAXTON_ERR_API_INVALID_REQUEST',
};

/** Route patterns with their rule in words: an error states the rule rather than a regular expression. */
const PATTERN_RULES: ReadonlyMap<string, string> = new Map([
  [AGENT_NAME_PATTERN, `an agent name (${AGENT_NAME_RULE})`],
  [KEY_NAME_PATTERN, KEY_NAME_RULE],
]);

/**
 * What a value that breaks a schema `pattern` must be: the rule in words when the route's pattern has
 * one, else the pattern itself, quoted exactly (a pattern is case-sensitive: never change its case).
 */
export function patternProblem(pattern: string, value?: unknown): string {
  const rule = PATTERN_RULES.get(pattern);
  const got = typeof value === 'string' ? `, got ${JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value)}` : '';
  return rule === undefined ? `must match the pattern ${JSON.stringify(pattern)}${got}` : `must be ${rule}${got}`;
}

export function toCaxtonError(err: unknown): CaxtonError {
  if (isCaxtonError(err)) return err;
  const fe = err as Partial<FastifyError> & { validation?: { keyword?: string; instancePath?: string; message?: string; params?: Record<string, unknown> }[] };
  if (Array.isArray(fe.validation) && fe.validation.length > 0) {
    const where = fe.validationContext ?? 'body';
    const parts = fe.validation.map((v) => {
      const extra = v.params?.['additionalProperty'] ?? v.params?.['missingProperty'];
      const path = `${where}${(v.instancePath ?? '').replace(/\//g, '.')}${typeof extra === 'string' ? `.${extra}` : ''}`;
      const pattern = v.params?.['pattern'];
      if (v.keyword === 'pattern' && typeof pattern === 'string') return `${path} ${patternProblem(pattern)}`;
      return `${path} ${v.message ?? 'is invalid'}`;
    });
    return new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', parts.join('; '), { field: parts[0]?.split(' ')[0] });
  }
  const mapped = fe.code === undefined ? undefined : FASTIFY_CODES[fe.code];
  if (mapped !== undefined) return new CaxtonError(mapped, fe.message ?? mapped);
  if (err instanceof SyntaxError || (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500)) {
    const status = fe.statusCode;
    const code: ErrorCode = status === 413 ? 'CAXTON_ERR_API_BODY_TOO_LARGE' : status === 415 ? 'CAXTON_ERR_API_UNSUPPORTED_MEDIA' : 'CAXTON_ERR_API_INVALID_REQUEST';
    return new CaxtonError(code, `malformed request: ${fe.message ?? String(err)}`);
  }
  return new CaxtonError('CAXTON_ERR_SERVER_INTERNAL', 'internal error while handling the request', undefined, { cause: err });
}
