/**
 * `POST /server/restart` (`caxton cluster rolling-restart`, docs/operations.md "Rolling restart"):
 * this node, or another through the link, restarts in place. The answer (202) comes before the
 * restart: the caller watches the node come back (cluster members, its API, its agents).
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ApiContext } from '../context.js';
import { CaxtonError } from '../../errors.js';
import { lastStopRecord } from '../../cluster/stop-record.js';

const RestartBody = Type.Object(
  {
    reason: Type.String({ minLength: 1, maxLength: 500, description: 'why (kept in the audit log and the node\'s log)' }),
    node: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'the node to restart (default: this node)' })),
  },
  { additionalProperties: false },
);

const Member = Type.Object({ name: Type.String({ minLength: 1, maxLength: 255 }), api: Type.String({ maxLength: 300 }), gossip: Type.String({ maxLength: 300 }) }, { additionalProperties: false });
const StopRecordBody = Type.Object(
  {
    stopped_at: Type.String({ minLength: 1, maxLength: 64 }),
    reason: Type.String({ minLength: 1, maxLength: 500 }),
    members: Type.Array(Member, { maxItems: 10_000 }),
    agents: Type.Array(Type.Object({ name: Type.String({ minLength: 1, maxLength: 255 }), node: Type.String({ maxLength: 255 }) }, { additionalProperties: false }), { maxItems: 1_000_000 }),
  },
  { additionalProperties: false, description: 'what every node writes to <data-dir>/cluster-stopped.json: the members and where each agent ran' },
);
const StopBody = Type.Object(
  {
    reason: Type.String({ minLength: 1, maxLength: 500, description: 'why (kept in the audit log and the node\'s log)' }),
    node: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'the node to stop (default: this node)' })),
    prepare: Type.Optional(Type.Boolean({ description: 'true: only freeze the node (no failover, move or redelivery from now on), the first step of a cluster stop' })),
    record: Type.Optional(StopRecordBody),
  },
  { additionalProperties: false },
);

const RestoreBody = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 128, description: 'the backup, as `caxton backup list` shows it' }),
    from: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'the cluster backup\'s destination; the node reads <from>/<node>' })),
    s3: Type.Optional(Type.Object({ endpoint: Type.Optional(Type.String({ maxLength: 1000 })), region: Type.Optional(Type.String({ maxLength: 100 })), forcePathStyle: Type.Optional(Type.Boolean()) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

export function registerServerRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Body: Static<typeof StopBody> }>(
    '/server/stop',
    { config: { permission: 'control', management: true, audit: 'server.stop' }, schema: { summary: 'Stop a node with its cluster: its process stays up, parked, until `caxton cluster start`', body: StopBody } },
    async (req, reply) => {
      const b = req.body;
      const node = b.node ?? ctx.nodeId;
      req.auditFacts = { node, reason: b.reason };
      if (b.prepare === true) return reply.code(200).send(await ctx.stopWithCluster().prepare(node));
      if (b.record === undefined) throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', 'POST /server/stop needs the cluster stop record (record), or prepare: true');
      const r = await ctx.stopWithCluster().stop(b.reason, b.record, node);
      ctx.logger.warn({ node, reason: b.reason, by: req.apiKey?.name }, 'stop with the cluster requested');
      return reply.code(202).send(r);
    },
  );
  app.get('/server/stopped', { config: { permission: 'read' }, schema: { summary: 'The record of the last cluster stop: members, and where each agent ran' } }, async () => {
    const r = lastStopRecord(ctx.dataDir);
    if (r === undefined) throw new CaxtonError('CAXTON_ERR_STOP_RECORD_NOT_FOUND', `node ${ctx.nodeId} holds no cluster stop record`);
    return r;
  });
  // A running node never restores into its data dir: only its parked listener (src/cli/parked-node.ts)
  // answers this route. Here it is refused, and audited as refused.
  app.post<{ Body: Static<typeof RestoreBody> }>(
    '/server/restore',
    { config: { permission: 'admin', audit: 'server.restore' }, schema: { summary: 'Restore a backup into a parked node\'s data dir (`caxton cluster restore`); a running node refuses', body: RestoreBody } },
    async (req) => {
      req.auditFacts = { node: ctx.nodeId };
      throw new CaxtonError('CAXTON_ERR_NODE_NOT_PARKED', `node ${ctx.nodeId} is running: it restores backup ${req.body.id} into its data dir only while it is stopped with its cluster (parked); run \`caxton cluster stop --all\` first`, { node: ctx.nodeId });
    },
  );
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
