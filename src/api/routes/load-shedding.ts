/** `caxton cluster shed-load`: set and read the share of new external messages each node refuses (src/api/shed-load.ts). */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ApiContext } from '../context.js';
import { NodeQuery } from '../cluster-views.js';

const ShedBody = Type.Object(
  {
    percentage: Type.Integer({ minimum: 0, maximum: 100, description: 'share of new external messages refused with 503 CAXTON_ERR_LOAD_SHED, percent; 0 stops shedding' }),
    node: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'only this node (default: every up Caxton node of the cluster)' })),
  },
  { additionalProperties: false },
);
const ShedQuery = Type.Object({ node: NodeQuery }, { additionalProperties: false });

export function registerLoadSheddingRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Body: Static<typeof ShedBody> }>(
    '/cluster/shed-load',
    { config: { permission: 'control', audit: 'cluster.shed-load' }, schema: { summary: 'Refuse a share of new external messages (503 + Retry-After) on every node, or on one; not kept across restarts', body: ShedBody } },
    async (req) => {
      const r = await ctx.loadShedding.apply(req.body.percentage, req.body.node, `API key ${req.apiKey?.name ?? '?'}`);
      return { percentage: req.body.percentage, ...r };
    },
  );
  app.get<{ Querystring: Static<typeof ShedQuery> }>(
    '/cluster/shed-load',
    { config: { permission: 'read' }, schema: { summary: 'The share of new external messages each node refuses now, and how many it refused', querystring: ShedQuery } },
    async (req) => ctx.loadShedding.status(req.query.node),
  );
}
