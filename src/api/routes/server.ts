/**
 * `POST /server/restart` (`caxton cluster rolling-restart`, docs/operations.md "Rolling restart"):
 * this node, or another through the link, restarts in place. The answer (202) comes before the
 * restart: the caller watches the node come back (cluster members, its API, its agents).
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ApiContext } from '../context.js';

const RestartBody = Type.Object(
  {
    reason: Type.String({ minLength: 1, maxLength: 500, description: 'why (kept in the audit log and the node\'s log)' }),
    node: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'the node to restart (default: this node)' })),
  },
  { additionalProperties: false },
);

export function registerServerRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Body: Static<typeof RestartBody> }>(
    '/server/restart',
    { config: { permission: 'control', management: true, audit: 'server.restart' }, schema: { summary: 'Restart a node in place: hand its agents over, re-read its configuration file, rejoin', body: RestartBody } },
    async (req, reply) => {
      const node = req.body.node ?? ctx.nodeId;
      req.auditFacts = { node, reason: req.body.reason };
      const r = await ctx.restart().request(req.body.reason, node);
      ctx.logger.warn({ node, reason: req.body.reason, by: req.apiKey?.name }, 'restart requested');
      return reply.code(202).send(r);
    },
  );
}
