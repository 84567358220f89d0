/** Health, readiness, the OpenAPI document, the node's status and its metrics. */
import type { FastifyInstance } from 'fastify';
import { CaxtonError } from '../../errors.js';
import type { ApiContext } from '../context.js';
import { errorBody } from '../errors.js';
import { METRICS_CONTENT_TYPE } from '../../observability/metrics-server.js';

export function registerHealthRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const uptime = () => Math.round((Date.now() - ctx.startedAt) / 1000);
  app.get('/health', { schema: { summary: 'Liveness: the node answers', security: [] } }, async () => {
    const agents = ctx.pool.list();
    return {
      status: 'healthy',
      version: ctx.version,
      node_id: ctx.nodeId,
      uptime_s: uptime(),
      agents: { running: agents.filter((a) => a.state === 'running').length, total: ctx.deployments.count() },
    };
  });
  app.get('/ready', { schema: { summary: 'Readiness: the node takes requests', security: [] } }, async (_req, reply) => {
    if (ctx.ready()) return { ready: true };
    return reply.status(503).send(errorBody(new CaxtonError('CAXTON_ERR_SERVER_NOT_READY', 'the node is starting or stopping')));
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/status', { config: { permission: 'read' }, schema: { summary: 'The node: identity, addresses, counts' } }, async () => {
    const byState: Record<string, number> = {};
    for (const a of ctx.deployments.list()) {
      const s = a.live?.state ?? (a.restoreError !== undefined ? 'failed' : 'stopped');
      byState[s] = (byState[s] ?? 0) + 1;
    }
    return {
      node_id: ctx.nodeId,
      version: ctx.version,
      pid: process.pid,
      uptime_s: uptime(),
      started_at: new Date(ctx.startedAt).toISOString(),
      data_dir: ctx.dataDir,
      api_addr: ctx.apiAddr,
      metrics_addr: ctx.metricsAddr,
      workers: ctx.pool.workerCount,
      agents: { total: ctx.deployments.count(), by_state: byState },
      outbox_pending: ctx.outbox.count(),
      dead_letters: ctx.deadLetters.count(),
    };
  });
  // The same text as the Prometheus listener's, behind the API's key and TLS, and on the API's
  // address: a client that reaches the API (`caxton mcp serve` on another machine) reads it here.
  app.get('/metrics', { config: { permission: 'read' }, schema: { summary: 'The node\'s Prometheus metrics (text format 0.0.4)' } }, async (_req, reply) =>
    reply.type(METRICS_CONTENT_TYPE).send(await ctx.operations.metricsText()),
  );
}
