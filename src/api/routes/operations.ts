/**
 * Operations: queues, dead letters, resources and memory, configuration, circuit breakers, emergency
 * stop and the debug dump.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { tarGz } from '../../observability/tar.js';
import type { ApiContext } from '../context.js';
import { agentView, statsView } from '../views.js';
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
const GcBody = Type.Object({ aggressive: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
const DiffBody = Type.Object({ yaml: Type.String({ maxLength: 1024 * 1024 }), file: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })) }, { additionalProperties: false });
const CircuitActivate = Type.Object({ agent: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })) }, { additionalProperties: false });
const CircuitReset = Type.Object(
  { agent: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })), gradual_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000 })) },
  { additionalProperties: false },
);
const EmergencyBody = Type.Object(
  { preserve_state: Type.Optional(Type.Boolean()), dump_to: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })) },
  { additionalProperties: false },
);

const read = { permission: 'read' } as const;
const control = { permission: 'control' } as const;
const admin = { permission: 'admin' } as const;

export function registerOperationRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const views = ctx.clusterViews;
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
  app.post<{ Body: Static<typeof GcBody> }>('/memory/gc', { config: { ...control, audit: 'memory.gc' }, schema: { summary: 'Collect garbage; aggressive also drops compiled modules no agent uses', body: GcBody } }, async (req) => {
    const before = process.memoryUsage.rss();
    let evicted = 0;
    if (req.body.aggressive === true) evicted = evictUnusedModules(ctx);
    collectGarbage();
    const after = process.memoryUsage.rss();
    return { before_bytes: before, after_bytes: after, freed_bytes: Math.max(0, before - after), modules_evicted: evicted };
  });

  app.get('/config', { config: admin }, async () => ctx.config());
  app.post<{ Body: Static<typeof DiffBody> }>('/config/diff', { config: admin, schema: { body: DiffBody } }, async (req) => ({
    differences: ctx.diffConfig(req.body.yaml, req.body.file ?? 'baseline.yaml'),
  }));

  app.post<{ Body: Static<typeof CircuitActivate> }>('/circuit-breakers/activate', { config: { ...control, audit: 'circuit-breakers.activate' }, schema: { body: CircuitActivate } }, async (req) => {
    const agent = req.body.agent;
    if (agent !== undefined) ctx.deployments.require(agent);
    ctx.pool.openCircuits(agent);
    return { activated: agent === undefined ? ctx.pool.list().length : 1 };
  });
  app.post<{ Body: Static<typeof CircuitReset> }>('/circuit-breakers/reset', { config: { ...control, audit: 'circuit-breakers.reset' }, schema: { body: CircuitReset } }, async (req) => {
    const agent = req.body.agent;
    if (agent !== undefined) ctx.deployments.require(agent);
    ctx.pool.resetCircuits({ ...(agent === undefined ? {} : { name: agent }), ...(req.body.gradual_ms === undefined ? {} : { gradualMs: req.body.gradual_ms }) });
    return { reset: agent === undefined ? ctx.pool.list().length : 1 };
  });

  app.post<{ Body: Static<typeof EmergencyBody> }>(
    '/emergency/stop',
    { config: { ...control, audit: 'emergency.stop' }, schema: { summary: 'Stop every agent now; they stay stopped across restarts', body: EmergencyBody } },
    async (req) => {
      const b = req.body;
      let dump: string | undefined;
      if (b.preserve_state === true || b.dump_to !== undefined) {
        const dir = resolve(b.dump_to ?? join(ctx.dataDir, 'emergency'));
        mkdirSync(dir, { recursive: true });
        dump = join(dir, `caxton-emergency-${new Date().toISOString().replace(/[:.]/g, '-')}.db`);
        await ctx.backupDatabase(dump);
      }
      const stopped: string[] = [];
      for (const a of ctx.deployments.list()) {
        if (a.live === undefined) continue;
        try {
          await ctx.deployments.stop(a.deployment.name, { graceful: false });
          stopped.push(a.deployment.name);
        } catch (e) {
          ctx.logger.warn({ agent: a.deployment.name, err: (e as Error).message }, 'emergency stop: agent did not stop');
        }
      }
      ctx.logger.warn({ stopped: stopped.length, key: req.apiKey?.name, dump }, 'emergency stop');
      return { stopped, ...(dump === undefined ? {} : { dump }) };
    },
  );

  app.get('/debug/dump', { config: { ...admin, audit: 'debug.dump' }, schema: { summary: 'A tar.gz of the node\'s state, config, logs and metrics' } }, async (_req, reply) => {
    const stats = await ctx.pool.stats();
    const logs = [...ctx.logs.since(0)].map((l) => JSON.stringify({ ...l, time: new Date(l.time).toISOString() })).join('\n');
    const body = tarGz([
      { name: 'status.json', data: json({ node_id: ctx.nodeId, version: ctx.version, pid: process.pid, started_at: new Date(ctx.startedAt).toISOString(), dumped_at: new Date().toISOString(), memory: process.memoryUsage() }) },
      { name: 'agents.json', data: json(ctx.deployments.list().map(agentView)) },
      { name: 'stats.json', data: json(stats.map(statsView)) },
      { name: 'conversations.json', data: json(await ctx.pool.conversations()) },
      { name: 'dead-letters.json', data: json(ctx.deadLetters.list({}, 1000)) },
      { name: 'journal.json', data: json(ctx.journal.entries().slice(-5000)) },
      { name: 'config.json', data: json(ctx.config()) },
      { name: 'logs.jsonl', data: logs },
      { name: 'metrics.txt', data: await ctx.metricsText() },
    ]);
    return reply
      .type('application/gzip')
      .header('content-disposition', `attachment; filename="caxton-debug-${Date.now()}.tar.gz"`)
      .send(body);
  });
}

/** Drops compiled modules that no agent (nor a canary) uses; deployments keep the bytes in SQLite. */
function evictUnusedModules(ctx: ApiContext): number {
  const used = new Set<string>();
  for (const a of ctx.pool.list()) {
    used.add(a.module);
    if (a.canary !== undefined) used.add(a.canary.module);
  }
  return ctx.pool.evictModules(used);
}

let gc: (() => void) | undefined;
/** Runs a full collection on the main thread; Node does not expose gc() without a flag, so set it once. */
function collectGarbage(): void {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

function json(v: unknown): string {
  return `${JSON.stringify(v, null, 2)}\n`;
}

