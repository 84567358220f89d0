/**
 * Operations: queues, dead letters, resources and memory, configuration, circuit breakers, emergency
 * stop and the debug dump.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { tarGz } from '../../observability/tar.js';
import type { ApiContext } from '../context.js';
import { CaxtonError, type ErrorCode } from '../../errors.js';
import type { MissingNode } from '../../cluster/fan-out.js';
import { PRIORITIES } from '../../agents/deployments.js';
import { NodeQuery, requireLocalNode } from '../cluster-views.js';

const DrainBody = Type.Object({ timeout_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })) }, { additionalProperties: false });
const LettersQuery = Type.Object(
  { receiver: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })), after: Type.Optional(Type.Integer({ minimum: 0 })) },
  { additionalProperties: false },
);
const ReplayBody = Type.Object(
  { ids: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }), { maxItems: 1000 })), receiver: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })) },
  { additionalProperties: false },
);
const PurgeQuery = Type.Object({ receiver: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })) }, { additionalProperties: false });
const ViewQuery = Type.Object({ node: NodeQuery }, { additionalProperties: false });
type ViewQuery = Static<typeof ViewQuery>;
const OnlyNode = Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'only this node (default: every up Caxton node of the cluster)' }));
const GcBody = Type.Object({ aggressive: Type.Optional(Type.Boolean()), node: OnlyNode }, { additionalProperties: false });
const DiffBody = Type.Object({ yaml: Type.String({ maxLength: 1024 * 1024 }), file: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })) }, { additionalProperties: false });
const CircuitActivate = Type.Object({ agent: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })), node: OnlyNode }, { additionalProperties: false });
const CircuitReset = Type.Object(
  { agent: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })), gradual_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000 })), node: OnlyNode },
  { additionalProperties: false },
);
const SuspendBody = Type.Object({ priority: Type.Union(PRIORITIES.map((p) => Type.Literal(p))), node: OnlyNode }, { additionalProperties: false });
const EmergencyBody = Type.Object(
  {
    preserve_state: Type.Optional(Type.Boolean()),
    dump_to: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'a directory on each node\'s own machine (implies preserve_state)' })),
    cluster: Type.Optional(Type.Boolean({ description: 'after the agents, stop every node itself (the processes exit, without a drain)' })),
    node: OnlyNode,
  },
  { additionalProperties: false },
);

const read = { permission: 'read' } as const;
const control = { permission: 'control' } as const;
const admin = { permission: 'admin' } as const;

export function registerOperationRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const views = ctx.clusterViews;
  const ops = ctx.operations;
  const local = (node: string | undefined) => {
    requireLocalNode(ctx.nodeId, node);
    return ctx.nodeViews;
  };

  app.get<{ Querystring: ViewQuery }>('/queue', { config: read, schema: { summary: 'Queued messages per agent, outbox and dead letters (of every node in a cluster, or of `node`)', querystring: ViewQuery } }, async (req) =>
    views === undefined ? local(req.query.node).queue() : views.queue(req.query.node),
  );

  app.post<{ Body: Static<typeof DrainBody> }>('/queue/drain', { config: { ...control, audit: 'queue.drain' }, schema: { summary: 'Wait until every mailbox and the outbox are empty', body: DrainBody } }, async (req) => {
    const timeout = req.body.timeout_ms ?? 60_000;
    const t0 = Date.now();
    for (;;) {
      const remaining = (await ctx.pool.stats()).reduce((n, s) => n + s.queued, 0) + ctx.outbox.count();
      const waited = Date.now() - t0;
      if (remaining === 0 || waited >= timeout) return { drained: remaining === 0, remaining, waited_ms: waited };
      await new Promise((r) => setTimeout(r, Math.min(100, timeout - waited)));
    }
  });

  app.get<{ Querystring: Static<typeof LettersQuery> }>('/dead-letters', { config: read, schema: { querystring: LettersQuery } }, async (req) => {
    const filter = req.query.receiver === undefined ? {} : { receiver: req.query.receiver };
    const letters = ctx.deadLetters.list(filter, req.query.limit ?? 100, req.query.after ?? 0);
    return {
      letters: letters.map((l) => ({ id: l.id, message_id: l.messageId, sender: l.sender, receiver: l.receiver, reason: l.reason, message: l.message, created_at: new Date(l.createdAt).toISOString() })),
      total: ctx.deadLetters.count(filter),
    };
  });
  app.post<{ Body: Static<typeof ReplayBody> }>('/dead-letters/replay', { config: { ...control, audit: 'dead-letters.replay' }, schema: { body: ReplayBody } }, async (req) => {
    const b = req.body;
    if (b.ids !== undefined) {
      const results = b.ids.map((id) => ctx.deadLetters.replay(id));
      return { replayed: results.filter((r) => r.delivered).length, failed: results.filter((r) => !r.delivered).length, results };
    }
    return ctx.deadLetters.replayAll(b.receiver === undefined ? {} : { receiver: b.receiver });
  });
  app.delete<{ Querystring: Static<typeof PurgeQuery> }>('/dead-letters', { config: { ...control, audit: 'dead-letters.purge' }, schema: { querystring: PurgeQuery } }, async (req) => ({
    purged: ctx.deadLetters.purge(req.query.receiver === undefined ? {} : { receiver: req.query.receiver }),
  }));

  app.get<{ Querystring: ViewQuery }>('/resources', { config: read, schema: { summary: 'CPU, memory and agents of this node (and of every node in a cluster, or of `node`)', querystring: ViewQuery } }, async (req) =>
    views === undefined ? local(req.query.node).resources() : views.resources(req.query.node),
  );

  app.get<{ Querystring: ViewQuery }>('/memory', { config: read, schema: { summary: 'Memory used and its limit (per node in a cluster, or of `node`)', querystring: ViewQuery } }, async (req) =>
    views === undefined ? local(req.query.node).memory() : views.memory(req.query.node),
  );
  app.post<{ Body: Static<typeof GcBody> }>(
    '/memory/gc',
    { config: { ...control, audit: 'memory.gc' }, schema: { summary: 'Collect garbage on every node (or `node`); aggressive also drops compiled modules no agent uses', body: GcBody } },
    async (req) => {
      const r = await ops.gc(req.body.aggressive === true, req.body.node);
      return ops.clustered ? { ...totals(r.nodes, ['before_bytes', 'after_bytes', 'freed_bytes', 'modules_evicted']), ...r } : withoutNode(only(r));
    },
  );

  app.get('/config', { config: admin }, async () => ctx.config());
  app.post<{ Body: Static<typeof DiffBody> }>('/config/diff', { config: admin, schema: { body: DiffBody } }, async (req) => ({
    differences: ctx.diffConfig(req.body.yaml, req.body.file ?? 'baseline.yaml'),
  }));

  app.post<{ Body: Static<typeof CircuitActivate> }>(
    '/circuit-breakers/activate',
    { config: { ...control, audit: 'circuit-breakers.activate' }, schema: { summary: 'Open the circuit breakers of every agent on every node (or of `agent` wherever it runs, or on `node` only)', body: CircuitActivate } },
    async (req) => {
      const r = await ops.circuits('open', req.body.agent, undefined, req.body.node);
      return { activated: sum(r.nodes, 'agents'), ...(ops.clustered ? r : {}) };
    },
  );
  app.post<{ Body: Static<typeof CircuitReset> }>(
    '/circuit-breakers/reset',
    { config: { ...control, audit: 'circuit-breakers.reset' }, schema: { summary: 'Close the circuit breakers again on every node (or of `agent`, or on `node` only), gradually with gradual_ms', body: CircuitReset } },
    async (req) => {
      const r = await ops.circuits('reset', req.body.agent, req.body.gradual_ms, req.body.node);
      return { reset: sum(r.nodes, 'agents'), ...(ops.clustered ? r : {}) };
    },
  );

  app.post<{ Body: Static<typeof SuspendBody> }>(
    '/agents/suspend',
    { config: { ...control, audit: 'agents.suspend' }, schema: { summary: 'Suspend every running agent of a priority on every node (or on `node`)', body: SuspendBody } },
    async (req) => {
      const r = await ops.suspendPriority(req.body.priority, req.body.node, `API key ${req.apiKey?.name ?? '?'}`);
      return { priority: req.body.priority, suspended: r.nodes.flatMap((n) => n.suspended), failed: r.nodes.flatMap((n) => n.failed), ...(ops.clustered ? r : {}) };
    },
  );

  app.post<{ Body: Static<typeof EmergencyBody> }>(
    '/emergency/stop',
    {
      config: { ...control, audit: 'emergency.stop' },
      schema: { summary: 'Stop every agent on every node now (or on `node`); they stay stopped across restarts. `cluster`: then stop the nodes themselves', body: EmergencyBody },
    },
    async (req) => {
      const b = req.body;
      if (b.cluster === true && b.node !== undefined) throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', 'cluster stops every node: give cluster or node, not both');
      const by = `API key ${req.apiKey?.name ?? '?'}`;
      const preserveState = b.preserve_state === true || b.dump_to !== undefined;
      const agents = await ops.emergencyStop({ preserveState, dumpTo: b.dump_to, node: b.node }, by);
      // Every agent first, everywhere; then the nodes (this one last, once this answer has gone out).
      const exit = b.cluster === true ? await ops.exitAll('emergency stop --cluster', by) : undefined;
      const stopped = agents.nodes.flatMap((n) => n.stopped);
      const mine = agents.nodes.find((n) => n.node === ctx.nodeId);
      if (!ops.clustered) return { stopped, ...(mine?.dump == null ? {} : { dump: mine.dump }), ...(exit === undefined ? {} : { node_stopping: true }) };
      return {
        stopped,
        nodes: agents.nodes.map((n) => ({ ...n, ...(exit === undefined ? {} : { node_stopping: exit.nodes.some((x) => x.node === n.node) }) })),
        missing: exit === undefined ? agents.missing : mergeMissing(agents.missing, exit.missing),
        ...(exit === undefined ? {} : { cluster: true }),
      };
    },
  );

  app.get<{ Querystring: ViewQuery }>(
    '/debug/dump',
    { config: { ...admin, audit: 'debug.dump' }, schema: { summary: 'A tar.gz of the state, config, logs and metrics of every node (one directory each), or of `node`', querystring: ViewQuery } },
    async (req, reply) => {
      const r = await ops.dump(req.query.node);
      const dumpedAt = Date.now();
      // A node alone: its files at the top, as before. In a cluster: a directory per node, and
      // cluster.json naming the nodes that answered and the ones that did not.
      const entries = !ops.clustered
        ? only(r).files
        : [
            { name: 'cluster.json', data: json({ dumped_by: ctx.nodeId, dumped_at: new Date(dumpedAt).toISOString(), nodes: r.nodes.map((n) => n.node), missing: r.missing }) },
            ...r.nodes.flatMap((n) => n.files.map((f) => ({ name: `${safeName(n.node)}/${f.name}`, data: f.data }))),
          ];
      // The CLI reads the nodes that did not answer from here (the body is the archive).
      if (ops.clustered) reply.header('x-caxton-missing-nodes', r.missing.map((m) => m.node).join(','));
      return reply
        .type('application/gzip')
        .header('content-disposition', `attachment; filename="caxton-debug-${dumpedAt}.tar.gz"`)
        .send(tarGz(entries, dumpedAt));
    },
  );
}

/** The one row of a node alone (it answers, or its failure is the request's). */
function only<T>(r: { nodes: T[]; missing: MissingNode[] }): T {
  const row = r.nodes[0];
  if (row === undefined) {
    const m = r.missing[0];
    throw new CaxtonError((m?.code as ErrorCode | null) ?? 'CAXTON_ERR_SERVER_INTERNAL', m?.reason ?? 'no answer');
  }
  return row;
}

function withoutNode<T extends { node: string }>(row: T): Omit<T, 'node'> {
  const { node: _node, ...rest } = row;
  return rest;
}

function sum<T>(rows: readonly T[], key: keyof T): number {
  return rows.reduce((n, r) => n + Number(r[key]), 0);
}

function totals<T>(rows: readonly T[], keys: readonly (keyof T & string)[]): Record<string, number> {
  return Object.fromEntries(keys.map((k) => [k, sum(rows, k)]));
}

/** Nodes missing from either step, once each (the first reason). */
function mergeMissing(a: readonly MissingNode[], b: readonly MissingNode[]): MissingNode[] {
  const seen = new Set(a.map((m) => m.node));
  return [...a, ...b.filter((m) => !seen.has(m.node))];
}

/** A node name as a directory name in the archive. */
function safeName(node: string): string {
  return node.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 60);
}

function json(v: unknown): string {
  return `${JSON.stringify(v, null, 2)}\n`;
}

