/**
 * API keys: list, create (the key is shown once), change a key's role, revoke. On a cluster each change
 * reaches every node (src/cluster/key-sync.ts): a key works on every node, a revoked one on none.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { CaxtonError } from '../../errors.js';
import { KEY_NAME_PATTERN, ROLE_NAMES, newKey } from '../auth.js';
import type { ApiContext } from '../context.js';
import type { RateLimiter } from '../rate-limit.js';

const CreateBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 100, pattern: KEY_NAME_PATTERN }), role: Type.Union(ROLE_NAMES.map((r) => Type.Literal(r))) },
  { additionalProperties: false },
);
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const RoleBody = Type.Object({ role: Type.Union(ROLE_NAMES.map((r) => Type.Literal(r))) }, { additionalProperties: false });

export function registerKeyRoutes(app: FastifyInstance, ctx: ApiContext, limiter: RateLimiter): void {
  const admin = { permission: 'admin' } as const;
  /** Key changes are management writes: refused on the minority side of a partition. */
  const change = { permission: 'admin', management: true } as const;
  const view = (k: { id: string; name: string; role: string; createdAt: number }) => ({ id: k.id, name: k.name, role: k.role, created_at: new Date(k.createdAt).toISOString() });

  app.get('/keys', { config: admin }, async () => ({ keys: ctx.keys.list().map(view) }));
  app.post<{ Body: Static<typeof CreateBody> }>('/keys', { config: { ...change, audit: 'key.create' }, schema: { body: CreateBody } }, async (req, reply) => {
    const key = newKey();
    const rec = ctx.keys.add({ id: randomUUID(), name: req.body.name, role: req.body.role }, key);
    req.auditFacts = { id: rec.id };
    ctx.logger.info({ key: rec.name, role: rec.role, by: req.apiKey?.name }, 'API key created');
    return reply.status(201).send({ ...view(rec), key });
  });
  app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof RoleBody> }>('/keys/:id', { config: { ...change, audit: 'key.set-role' }, schema: { params: IdParams, body: RoleBody } }, async (req) => {
    if (req.apiKey?.id === req.params.id && req.body.role !== 'admin') {
      throw new CaxtonError('CAXTON_ERR_API_FORBIDDEN', 'a key cannot take its own admin role away: change it with another admin key', { id: req.params.id });
    }
    const rec = ctx.keys.setRole(req.params.id, req.body.role);
    if (rec === undefined) throw new CaxtonError('CAXTON_ERR_API_NOT_FOUND', `no API key with id ${req.params.id}`, { id: req.params.id });
    req.auditFacts = { name: rec.name };
    ctx.logger.info({ id: rec.id, key: rec.name, role: rec.role, by: req.apiKey?.name }, 'API key role changed');
    return view(rec);
  });
  app.delete<{ Params: Static<typeof IdParams> }>('/keys/:id', { config: { ...change, audit: 'key.revoke' }, schema: { params: IdParams } }, async (req) => {
    if (req.apiKey?.id === req.params.id) {
      throw new CaxtonError('CAXTON_ERR_API_FORBIDDEN', 'a key cannot revoke itself: revoke it with another admin key', { id: req.params.id });
    }
    const name = ctx.keys.get(req.params.id)?.name;
    if (name !== undefined) req.auditFacts = { name };
    if (!ctx.keys.remove(req.params.id)) throw new CaxtonError('CAXTON_ERR_API_NOT_FOUND', `no API key with id ${req.params.id}`, { id: req.params.id });
    limiter.forget(req.params.id);
    ctx.logger.info({ id: req.params.id, by: req.apiKey?.name }, 'API key revoked');
    return { id: req.params.id, revoked: true };
  });
}
