/** The cluster as this node sees it: members and a summary. A single node reports itself alone. */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { CaxtonError } from '../../errors.js';
import type { Cluster } from '../../cluster/cluster.js';
import type { ApiContext } from '../context.js';

const NodeParams = Type.Object({ node: Type.String({ minLength: 1, maxLength: 255 }) });
const JoinBody = Type.Object({ addresses: Type.Array(Type.String({ pattern: '^(\\[[0-9a-fA-F:.]+\\]|[0-9.]+):[0-9]{1,5}$' }), { minItems: 1, maxItems: 64 }) }, { additionalProperties: false });
const LeaveBody = Type.Object({ drain_timeout_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })) }, { additionalProperties: false });

function requireCluster(ctx: ApiContext): Cluster {
  const c = ctx.cluster();
  if (c === undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_DISABLED', 'clustering is off on this node');
  return c;
}

function parseAddress(text: string): { host: string; port: number } {
  const i = text.lastIndexOf(':');
  return { host: text.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(text.slice(i + 1)) };
}

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

  app.post<{ Params: Static<typeof NodeParams> }>('/cluster/ping/:node', { config: read, schema: { summary: 'Probe a member: direct, through peers, and over TCP', params: NodeParams } }, async (req) => {
    const c = requireCluster(ctx);
    if (c.members().find((m) => m.name === req.params.node) === undefined) {
      throw new CaxtonError('CAXTON_ERR_CLUSTER_UNKNOWN_NODE', `no cluster member named ${req.params.node}`, { node: req.params.node });
    }
    const r = await c.membership.ping(req.params.node);
    return {
      node: r.node,
      address: `${r.address.host}:${r.address.port}`,
      direct_ms: r.direct ?? null,
      indirect: r.indirect.map((i) => ({ via: i.via, rtt_ms: i.rttMs ?? null, nack: i.nack })),
      tcp_ms: r.tcp ?? null,
    };
  });

  app.post<{ Body: Static<typeof JoinBody> }>('/cluster/join', { config: { permission: 'control' }, schema: { summary: 'Join the cluster of these nodes (caxton cluster add-node)', body: JoinBody } }, async (req) => {
    const c = requireCluster(ctx);
    const answered = await c.join(req.body.addresses.map(parseAddress));
    if (answered === 0) throw new CaxtonError('CAXTON_ERR_CLUSTER_JOIN_FAILED', `none of ${req.body.addresses.join(', ')} answered`);
    return { answered };
  });

  app.post<{ Body: Static<typeof LeaveBody> }>('/cluster/leave', { config: { permission: 'control' }, schema: { summary: 'Drain this node\'s agents, then leave the cluster gracefully', body: LeaveBody } }, async (req) => {
    const c = requireCluster(ctx);
    const timeout = req.body.drain_timeout_ms ?? ctx.drainTimeoutMs;
    const t0 = Date.now();
    await Promise.all(
      ctx.pool
        .list()
        .filter((a) => a.state !== 'stopped' && a.state !== 'failed')
        .map((a) => ctx.pool.stop(a.name, { graceful: true, drainTimeoutMs: timeout }).catch(() => 0)),
    );
    await c.leave(Math.max(1000, timeout - (Date.now() - t0)));
    ctx.logger.warn({ by: req.apiKey?.name }, 'left the cluster; agents stopped (they come back at the next start)');
    return { node: ctx.nodeId, left: true, drained_ms: Date.now() - t0 };
  });
}
