/**
 * Cluster upgrades through the supervisors (docs/operations.md, "Upgrading Caxton"):
 * `POST /cluster/upgrade` starts one (this node coordinates), `GET /cluster/upgrade` shows the last
 * one from any node, `POST /cluster/upgrade/rollback` puts the upgraded nodes back.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ApiContext } from '../context.js';
import { VERSION_PATTERN } from '../../cluster/upgrade/releases.js';

const UpgradeBody = Type.Object(
  {
    version: Type.String({ pattern: VERSION_PATTERN, description: 'the release to run, installed as <releases>/<version>/ on every node (1.2.0 or v1.2.0)' }),
    canary_duration_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 30 * 86_400_000, description: 'how long the canary is watched (default 24 h)' })),
    node_watch_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 30 * 86_400_000, description: 'how long each later node is watched (default: the canary duration, at most 60 s)' })),
  },
  { additionalProperties: false },
);

export function registerUpgradeRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Body: Static<typeof UpgradeBody> }>(
    '/cluster/upgrade',
    { config: { permission: 'admin', management: true, audit: 'cluster.upgrade' }, schema: { summary: 'Upgrade every node to an installed release, one at a time: a canary first, watched, then the others, each through the health gate', body: UpgradeBody } },
    async (req, reply) => {
      const b = req.body;
      req.auditFacts = { version: b.version, canary_duration_ms: b.canary_duration_ms ?? null };
      const v = await ctx.upgrade().start({
        version: b.version,
        ...(b.canary_duration_ms === undefined ? {} : { canaryDurationMs: b.canary_duration_ms }),
        ...(b.node_watch_ms === undefined ? {} : { nodeWatchMs: b.node_watch_ms }),
        ...(req.apiKey?.name === undefined ? {} : { by: req.apiKey.name }),
      });
      req.auditFacts = { version: v.version, canary_duration_ms: v.canary_duration_ms, id: v.id, canary: v.canary };
      return reply.code(202).send(v);
    },
  );
  app.get('/cluster/upgrade', { config: { permission: 'read' }, schema: { summary: 'The last cluster upgrade or rollback: phase, progress, canary, ETA, each node' } }, async () => {
    return (await ctx.upgrade().status()) ?? { phase: 'none', status: { phase: 'No upgrade has run', progress: '-', canary: '-', eta: '-' } };
  });
  app.post(
    '/cluster/upgrade/rollback',
    { config: { permission: 'admin', management: true, audit: 'cluster.upgrade-rollback' }, schema: { summary: 'Put every node that the last upgrade moved back on the version it ran before, one at a time' } },
    async (req, reply) => {
      const v = await ctx.upgrade().rollback(req.apiKey?.name);
      req.auditFacts = { id: v.id, version: v.version };
      return reply.code(202).send(v);
    },
  );
}
