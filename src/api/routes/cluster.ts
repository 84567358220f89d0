/** The cluster as this node sees it: members and a summary. A single node reports itself alone. */
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';

export function registerClusterRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const read = { permission: 'read' } as const;

  app.get('/cluster/members', { config: read, schema: { summary: 'Cluster members: status, address, tags' } }, async () => {
    const cluster = ctx.cluster();
    if (cluster === undefined) {
      return { enabled: false, members: [{ name: ctx.nodeId, status: 'alive', address: ctx.apiAddr, incarnation: 0, since: new Date(ctx.startedAt).toISOString(), agents: ctx.deployments.count(), tags: {} }] };
    }
    return {
      enabled: true,
      members: cluster.members().map((m) => ({
        name: m.name,
        status: m.status,
        address: `${m.host}:${m.port}`,
        incarnation: m.incarnation,
        since: new Date(m.since).toISOString(),
        agents: m.tags['agents'] === undefined ? null : Number(m.tags['agents']),
        tags: m.tags,
      })),
    };
  });

  app.get('/cluster/status', { config: read, schema: { summary: 'Nodes alive out of expected' } }, async () => {
    const cluster = ctx.cluster();
    const counts = { alive: 0, suspect: 0, failed: 0, left: 0 };
    if (cluster === undefined) counts.alive = 1;
    else for (const m of cluster.members()) counts[m.status]++;
    const expected = Math.max(ctx.clusterExpect, 1);
    return { enabled: cluster !== undefined, node: ctx.nodeId, expected, ...counts, healthy: counts.alive >= expected };
  });
}
