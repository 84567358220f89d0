/** Agents: deploy, list, inspect, lifecycle, upgrades, removal, logs and stats. */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { PRIORITIES } from '../../agents/deployments.js';
import { PLACEMENT_STRATEGIES, placeAgent, type PlacementOptions } from '../../agents/placement.js';
import { canaryPlan, parseCanaryStages, type CanaryPlan } from '../../agents/canary-plan.js';
import { AGENT_NAME_PATTERN } from '../../messaging/message-schema.js';
import { CaxtonError } from '../../errors.js';
import { LOG_LEVELS } from '../../observability/agent-logs.js';
import type { ApiContext } from '../context.js';
import { readUpload } from '../module-upload.js';
import { agentView, idleStatsView, statsView } from '../views.js';
import { NodeQuery, requireLocalNode } from '../cluster-views.js';

const Name = Type.String({ pattern: AGENT_NAME_PATTERN, description: 'Agent name' });
const NodeName = Type.String({ minLength: 1, maxLength: 255, pattern: '^[^,\\s]+$', description: 'A cluster member\'s name' });
const NameParams = Type.Object({ name: Name });
type NameParams = Static<typeof NameParams>;

const DeployFields = Type.Object(
  {
    name: Name,
    config: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Handed to agent_init' })),
    priority: Type.Optional(Type.Union(PRIORITIES.map((p) => Type.Literal(p)))),
    start: Type.Optional(Type.Boolean()),
    placement_strategy: Type.Optional(Type.Union(PLACEMENT_STRATEGIES.map((p) => Type.Literal(p)), { description: 'How the owner node is chosen; default even-distribution' })),
    prefer_nodes: Type.Optional(
      Type.Union([Type.Array(NodeName, { minItems: 1, maxItems: 64 }), Type.String({ pattern: '^[^,\\s]+(,[^,\\s]+)*$', maxLength: 4096 })], { description: 'Nodes to place on when one is alive: an array, or names separated by commas' }),
    ),
    target_node: Type.Optional(NodeName),
  },
  { additionalProperties: false },
);
type DeployFields = Static<typeof DeployFields>;

/** The placement options of a deploy body. */
function placementOf(f: DeployFields): PlacementOptions {
  const prefer = typeof f.prefer_nodes === 'string' ? f.prefer_nodes.split(',') : f.prefer_nodes;
  return {
    ...(f.placement_strategy === undefined ? {} : { strategy: f.placement_strategy }),
    ...(prefer === undefined ? {} : { preferNodes: prefer }),
    ...(f.target_node === undefined ? {} : { targetNode: f.target_node }),
  };
}

const CanaryFields = Type.Object(
  {
    stages: Type.Optional(Type.Union([Type.String(), Type.Array(Type.Object({ percent: Type.Number(), duration_ms: Type.Number() }, { additionalProperties: false }), { minItems: 1, maxItems: 20 })])),
    max_error_rate: Type.Optional(Type.Number()),
    max_p99_ms: Type.Optional(Type.Number()),
    min_samples: Type.Optional(Type.Integer()),
  },
  { additionalProperties: false },
);
const UpgradeFields = Type.Object(
  {
    strategy: Type.Optional(Type.Union([Type.Literal('immediate'), Type.Literal('graceful'), Type.Literal('canary')])),
    canary: Type.Optional(CanaryFields),
  },
  { additionalProperties: false },
);
type UpgradeFields = Static<typeof UpgradeFields>;

const StopBody = Type.Object(
  { graceful: Type.Optional(Type.Boolean()), drain_timeout_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })) },
  { additionalProperties: false },
);
const LogsQuery = Type.Object(
  { tail: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })), level: Type.Optional(Type.Union(LOG_LEVELS.map((l) => Type.Literal(l)))) },
  { additionalProperties: false },
);
const ListQuery = Type.Object({ state: Type.Optional(Type.String({ maxLength: 32 })), node: NodeQuery }, { additionalProperties: false });
const StatsQuery = Type.Object({ node: NodeQuery }, { additionalProperties: false });
const RollbackBody = Type.Object({ reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })) }, { additionalProperties: false });

const read = { permission: 'read' } as const;
/** Deploy, upgrade, canary steps, undeploy: management writes, refused on the minority side of a partition. */
const deploy = { permission: 'deploy', management: true } as const;
const control = { permission: 'control' } as const;

export function registerAgentRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { deployments: d } = ctx;
  const view = (name: string) => agentView(d.require(name));

  app.post('/agents', { config: { ...deploy, audit: 'agent.deploy' }, schema: { summary: 'Deploy an agent (JSON with base64 module, or multipart)', consumes: ['application/json', 'multipart/form-data'] } }, async (req, reply) => {
    const { fields, module } = await readUpload<DeployFields>(req, DeployFields, ['config']);
    const placement = placementOf(fields);
    // Without a cluster link this node is the only candidate: the options are still checked against it.
    const owner = ctx.placement?.owner(fields.name, placement) ?? placeAgent(fields.name, [{ name: ctx.nodeId, status: 'alive', tags: { role: 'caxton' } }], placement);
    const request = { name: fields.name, module, config: fields.config ?? {}, priority: fields.priority ?? 'normal', start: fields.start ?? true } as const;
    // target_node pins: the owner keeps the pin with the deployment, so failover keeps the agent there.
    const pinned = fields.target_node !== undefined;
    // A multipart upload has no req.body: the audit entry takes its fields from here (never the config).
    req.auditFacts = { name: fields.name, priority: request.priority, start: request.start, node: owner };
    if (owner !== ctx.nodeId && ctx.placement !== undefined) {
      const view = (await ctx.placement.forward(owner, { ...request, ...(pinned ? { pinned } : {}) })) as Record<string, unknown>;
      ctx.logger.info({ agent: fields.name, node: owner, key: req.apiKey?.name }, 'agent deployed on another node');
      return reply.status(201).send({ ...view, node: owner });
    }
    const a = await d.deploy({ ...request, ...(pinned ? { pin: ctx.nodeId } : {}) });
    req.auditFacts = { ...req.auditFacts, module: a.deployment.module };
    // Answered once every node can route to it (an agent off its computed owner needs the directory).
    await ctx.placement?.routable(fields.name);
    ctx.logger.info({ agent: fields.name, module: a.deployment.module, key: req.apiKey?.name }, 'agent deployed');
    return reply.status(201).send({ ...agentView(a), node: ctx.nodeId });
  });

  app.get<{ Querystring: Static<typeof ListQuery> }>('/agents', { config: read, schema: { summary: 'List agents (of every node in a cluster, or of `node`)', querystring: ListQuery } }, async (req) => {
    const { state, node } = req.query;
    if (ctx.clusterViews !== undefined) return ctx.clusterViews.agents(state, node);
    requireLocalNode(ctx.nodeId, node);
    return ctx.nodeViews.agents(state);
  });

  app.get<{ Params: NameParams }>('/agents/:name', { config: read, schema: { summary: 'Inspect an agent', params: NameParams } }, async (req) => {
    const a = d.require(req.params.name);
    return { ...agentView(a), stats: await statsOf(ctx, req.params.name) };
  });

  app.get<{ Params: NameParams }>('/agents/:name/stats', { config: read, schema: { summary: 'An agent\'s statistics', params: NameParams } }, async (req) => {
    d.require(req.params.name);
    return statsOf(ctx, req.params.name);
  });

  app.get<{ Querystring: Static<typeof StatsQuery> }>('/stats/agents', { config: read, schema: { summary: 'Statistics of every agent (of every node in a cluster, or of `node`)', querystring: StatsQuery } }, async (req) => {
    if (ctx.clusterViews !== undefined) return ctx.clusterViews.stats(req.query.node);
    requireLocalNode(ctx.nodeId, req.query.node);
    return ctx.nodeViews.stats();
  });

  app.post<{ Params: NameParams }>('/agents/:name/suspend', { config: { ...control, audit: 'agent.suspend' }, schema: { params: NameParams } }, async (req) => agentView(d.suspend(req.params.name)));
  app.post<{ Params: NameParams }>('/agents/:name/resume', { config: { ...control, audit: 'agent.resume' }, schema: { params: NameParams } }, async (req) => agentView(d.resume(req.params.name)));
  app.post<{ Params: NameParams }>('/agents/:name/restart', { config: { ...control, audit: 'agent.restart' }, schema: { params: NameParams } }, async (req) => agentView(await d.restart(req.params.name)));
  app.post<{ Params: NameParams; Body: Static<typeof StopBody> }>(
    '/agents/:name/stop',
    { config: { ...control, audit: 'agent.stop' }, schema: { params: NameParams, body: StopBody } },
    async (req) => {
      const b = req.body;
      return agentView(await d.stop(req.params.name, { graceful: b.graceful ?? true, drainTimeoutMs: b.drain_timeout_ms ?? ctx.drainTimeoutMs }));
    },
  );

  app.post<{ Params: NameParams }>(
    '/agents/:name/upgrade',
    { config: { ...deploy, audit: 'agent.upgrade' }, schema: { summary: 'Upgrade to a new module: immediate, graceful or canary', params: NameParams, consumes: ['application/json', 'multipart/form-data'] } },
    async (req, reply) => {
      const { fields, module } = await readUpload<UpgradeFields>(req, UpgradeFields, ['canary']);
      const strategy = fields.strategy ?? 'graceful';
      req.auditFacts = { strategy };
      const canary = strategy === 'canary' ? canaryOptions(fields.canary) : undefined;
      const { agent, done } = await d.upgrade(req.params.name, module, { strategy, ...(canary === undefined ? {} : { canary }) });
      // A canary's new module is the canary's until it is promoted.
      req.auditFacts = { strategy, module: agent.live?.canary?.module ?? agent.deployment.module };
      if (strategy !== 'canary') return agentView(agent);
      done.then(
        (info) => ctx.logger.info({ agent: info.name, module: info.module }, 'canary promoted'),
        (e: unknown) => ctx.logger.warn({ agent: req.params.name, err: (e as Error).message }, 'canary rolled back'),
      );
      return reply.status(202).send(agentView(agent));
    },
  );
  app.post<{ Params: NameParams }>('/agents/:name/canary/promote', { config: { ...deploy, audit: 'agent.canary-promote' }, schema: { params: NameParams } }, async (req, reply) => {
    d.require(req.params.name);
    ctx.pool.promoteCanary(req.params.name);
    return reply.status(202).send(view(req.params.name));
  });
  app.post<{ Params: NameParams; Body: Static<typeof RollbackBody> }>(
    '/agents/:name/canary/rollback',
    { config: { ...deploy, audit: 'agent.canary-rollback' }, schema: { params: NameParams, body: RollbackBody } },
    async (req, reply) => {
      d.require(req.params.name);
      ctx.pool.rollbackCanary(req.params.name, req.body.reason ?? `rolled back by ${req.apiKey?.name ?? 'the operator'}`);
      return reply.status(202).send(view(req.params.name));
    },
  );

  app.delete<{ Params: NameParams }>('/agents/:name', { config: { ...deploy, audit: 'agent.remove' }, schema: { summary: 'Remove an agent and its key-value state', params: NameParams } }, async (req) => {
    await d.remove(req.params.name);
    ctx.logs.forget(req.params.name);
    ctx.logger.info({ agent: req.params.name, key: req.apiKey?.name }, 'agent removed');
    return { name: req.params.name, removed: true };
  });

  app.get<{ Params: NameParams; Querystring: Static<typeof LogsQuery> }>(
    '/agents/:name/logs',
    { config: read, schema: { summary: 'The last log lines of an agent, from the node that runs it', params: NameParams, querystring: LogsQuery } },
    async (req) => {
      const name = req.params.name;
      const tail = req.query.tail ?? 100;
      const level = req.query.level ?? 'trace';
      // In a cluster the agent may run on another node, which keeps its lines: that node is asked.
      const found = ctx.clusterViews === undefined ? ctx.nodeViews.logs(name, tail, level) : await ctx.clusterViews.logs(name, tail, level);
      if (found === null) throw new CaxtonError('CAXTON_ERR_AGENT_NOT_FOUND', `no agent named ${name}${ctx.clusterViews === undefined ? '' : ' on any node of the cluster'}`, { agent: name });
      return { node: ctx.nodeViews.nodeId, ...found };
    },
  );
}

async function statsOf(ctx: ApiContext, name: string): Promise<Record<string, unknown>> {
  const s = (await ctx.pool.stats()).find((x) => x.name === name);
  if (s !== undefined) return statsView(s);
  return idleStatsView(name, String(agentView(ctx.deployments.require(name))['state']));
}

/** The API's snake_case canary fields as a plan (validated by canaryPlan). */
function canaryOptions(c: UpgradeFields['canary']): Partial<CanaryPlan> {
  if (c === undefined) return {};
  const stages = c.stages === undefined ? undefined : typeof c.stages === 'string' ? parseCanaryStages(c.stages) : c.stages.map((s) => ({ percent: s.percent, durationMs: s.duration_ms }));
  const plan: Partial<CanaryPlan> = {
    ...(stages === undefined ? {} : { stages }),
    ...(c.max_error_rate === undefined ? {} : { maxErrorRate: c.max_error_rate }),
    ...(c.max_p99_ms === undefined ? {} : { maxP99Ms: c.max_p99_ms }),
    ...(c.min_samples === undefined ? {} : { minSamples: c.min_samples }),
  };
  canaryPlan(plan); // refuse a bad plan before anything is stored
  return plan;
}

