/**
 * Network partitions through the API (docs/operations.md, "Network partition"): which side this node
 * is on (`cluster detect-partition`), holding the merge for an operator and resolving it
 * (`--resolve-strategy manual`, `cluster resolve-partition`), and the second copies of agents whose
 * state was kept for review (`cluster conflicts`).
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { CaxtonError } from '../../errors.js';
import type { ApiContext } from '../context.js';
import type { PartitionControl } from '../../cluster/partition/control.js';
import { PARTITION_STATE_CODE } from '../../cluster/partition/quorum.js';

const ResolveBody = Type.Object(
  { prefer: Type.String({ minLength: 1, maxLength: 255, description: '`majority` (the copies with the higher epoch win: the majority\'s), or a node whose copies of duplicate agents win' }) },
  { additionalProperties: false },
);
const ConflictsQuery = Type.Object({ all: Type.Optional(Type.Boolean({ description: 'reviewed ones too' })) }, { additionalProperties: false });
const ConflictParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });

/** Which side of a partition this node is on, for /cluster/status and /cluster/partition. */
export function partitionView(p: PartitionControl | undefined): Record<string, unknown> {
  if (p === undefined) {
    return { state: 'healthy', state_code: 0, forming: false, status: 'HEALTHY', operations: 'READ-WRITE', quorum: 1, reachable: [], unreachable: [], queued_writes: 0, queued_bytes: 0, refused_full: 0, resolve_strategy: 'auto', merge_held: false, last_split: null, conflicts: 0 };
  }
  const parts = p.partitions;
  const v = parts.view;
  const f = parts.statusFields();
  return {
    state: v.state,
    state_code: v.forming ? 0 : PARTITION_STATE_CODE[v.state],
    forming: v.forming,
    status: f.status,
    operations: f.operations,
    quorum: v.quorum,
    reachable: v.reachable,
    unreachable: v.unreachable,
    queued_writes: f.queuedWrites,
    queued_bytes: parts.queueBytes,
    refused_full: parts.refusedFull,
    resolve_strategy: parts.manual ? 'manual' : 'auto',
    merge_held: parts.mergeHeld,
    last_split: parts.lastSplit === undefined ? null : { majority: parts.lastSplit.majority, minority: parts.lastSplit.minority },
    conflicts: p.conflicts.pending(),
  };
}

function requirePartitions(ctx: ApiContext): PartitionControl {
  const p = ctx.partitions();
  if (p === undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_DISABLED', 'clustering is off on this node: a single node is never partitioned');
  return p;
}

export function registerPartitionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/cluster/partition', { config: { permission: 'read' }, schema: { summary: 'Whether the cluster is partitioned as this node sees it: the sides, quorum, queued writes (caxton cluster detect-partition)' } }, async () => ({
    node: ctx.nodeId,
    ...partitionView(ctx.partitions()),
  }));

  app.post('/cluster/partition/hold', { config: { permission: 'control', audit: 'partition.hold' }, schema: { summary: 'Hold the merge of a healed partition until resolve (detect-partition --resolve-strategy manual), on every reachable node' } }, async (req) => {
    const r = await requirePartitions(ctx).holdMerge();
    ctx.logger.warn({ by: req.apiKey?.name, applied: r.applied, failed: r.failed }, 'partition merge held for the operator (resolve strategy manual)');
    return { applied: r.applied, failed: r.failed };
  });

  app.post<{ Body: Static<typeof ResolveBody> }>(
    '/cluster/partition/resolve',
    { config: { permission: 'control', audit: 'partition.resolve' }, schema: { summary: 'End a held merge: settle duplicate agents (the majority\'s copies win), replay queued messages, on every reachable node', body: ResolveBody } },
    async (req) => {
      const r = await requirePartitions(ctx).resolve(req.body.prefer);
      ctx.logger.warn({ by: req.apiKey?.name, prefer: r.prefer, applied: r.applied, failed: r.failed, replayed: r.replayed }, 'partition resolved by the operator');
      return { prefer: r.prefer, applied: r.applied, failed: r.failed, replayed: r.replayed, reclaimed: r.reclaimed };
    },
  );

  app.get<{ Querystring: Static<typeof ConflictsQuery> }>(
    '/cluster/conflicts',
    { config: { permission: 'read' }, schema: { summary: 'Second copies of agents stopped after a partition, with the state they had (for review)', querystring: ConflictsQuery } },
    async (req) => {
      const p = requirePartitions(ctx);
      return {
        node: ctx.nodeId,
        conflicts: p.conflicts.list(req.query.all === true).map((c) => ({
          id: c.id,
          agent: c.agent,
          node: c.node,
          epoch: c.epoch,
          winner: c.winner,
          winner_epoch: c.winnerEpoch,
          created_at: new Date(c.createdAt).toISOString(),
          reviewed_at: c.reviewedAt === null ? null : new Date(c.reviewedAt).toISOString(),
          keys: c.state.kv.length,
          timers: c.state.timers.length,
          // Keys as text (and as the bytes the agent wrote, base64) and values base64, so that the operator
          // can read them and apply them by hand.
          state: { kv: c.state.kv.map(([k, v]) => ({ key: Buffer.from(k, 'base64').toString('utf8'), key_base64: k, value: v })), timers: c.state.timers.length },
        })),
      };
    },
  );

  app.post<{ Params: Static<typeof ConflictParams> }>(
    '/cluster/conflicts/:id/review',
    { config: { permission: 'control', audit: 'partition.conflict-review' }, schema: { summary: 'Mark a kept conflict reviewed', params: ConflictParams } },
    async (req) => {
      if (!requirePartitions(ctx).conflicts.review(req.params.id)) throw new CaxtonError('CAXTON_ERR_API_NOT_FOUND', `no unreviewed conflict ${req.params.id} on ${ctx.nodeId}`, { id: req.params.id });
      return { id: req.params.id, reviewed: true };
    },
  );
}
