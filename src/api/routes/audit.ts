/** `GET /audit` (`caxton audit list`): the audit log of management actions, newest last (src/security/audit.ts). */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { CaxtonError } from '../../errors.js';
import { auditJson } from '../../security/audit.js';
import type { ApiContext } from '../context.js';

const AuditQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'the last N entries that match (default 100)' })),
    since: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'only entries at or after this time (ISO 8601, e.g. 2026-12-07T05:00:00Z)' })),
    actor: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'an API key\'s name or id, a client certificate\'s name, or "anonymous"' })),
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'an action (agent.deploy), or a prefix ending in * (agent.*)' })),
  },
  { additionalProperties: false },
);

export function registerAuditRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: Static<typeof AuditQuery> }>(
    '/audit',
    { config: { permission: 'admin' }, schema: { summary: 'The audit log: who did which management action, on what, with which result (oldest first)', querystring: AuditQuery } },
    async (req) => {
      const audit = ctx.audit;
      if (audit === undefined || !audit.listable) {
        throw new CaxtonError('CAXTON_ERR_AUDIT_DISABLED', `node ${ctx.nodeId} keeps no audit log in its database (observability.audit.enabled is false)`);
      }
      const q = req.query;
      let since: number | undefined;
      if (q.since !== undefined) {
        since = Date.parse(q.since);
        if (Number.isNaN(since)) {
          throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', `querystring.since must be a time in ISO 8601 (e.g. 2026-12-07T05:00:00Z), got "${q.since}"`, { field: 'querystring.since' });
        }
      }
      const entries = audit.list({ ...(since === undefined ? {} : { since }), ...(q.actor === undefined ? {} : { actor: q.actor }), ...(q.action === undefined ? {} : { action: q.action }) }, q.limit ?? 100);
      return { node: ctx.nodeId, entries: entries.map(auditJson) };
    },
  );
}
