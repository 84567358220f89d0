/** The cluster as this node sees it: members and a summary. A single node reports itself alone. */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { CaxtonError } from '../../errors.js';
import type { Cluster } from '../../cluster/cluster.js';
import { decodeGossipKey, keyFingerprint, keyResponseProblem, type KeyResponse } from '../../cluster/serf/key-manager.js';
import { memberLoad } from '../../cluster/node-tags.js';
import { ADDRESS_EXAMPLES, ADDRESS_FORM, formatAddress, requireAddress, resolveAll, type Address } from '../../config/address.js';
import type { ApiContext, ClusterStateChecks } from '../context.js';
import { NodeQuery, requireLocalNode } from '../cluster-views.js';
import type { ClusterAgents } from '../../agents/cluster-agents.js';
import { REBALANCE_STRATEGIES } from '../../agents/rebalance.js';
import { upNodes } from '../../agents/ownership.js';
import type { DriftReport, StateRow } from '../../cluster/directory/index.js';
import { partitionView } from './partitions.js';

const NodeParams = Type.Object({ node: Type.String({ minLength: 1, maxLength: 255 }) });
// Each address is checked and resolved by src/config/address.ts, as every address is: one error names it.
const JoinBody = Type.Object(
  { addresses: Type.Array(Type.String({ minLength: 1, maxLength: 300, description: `${ADDRESS_FORM}, e.g. ${ADDRESS_EXAMPLES}` }), { minItems: 1, maxItems: 64 }) },
  { additionalProperties: false },
);
/**
 * Name lookups of one join request run at most this many at a time: each holds one of libuv's 4
 * threadpool threads (file system, crypto and every other lookup share them) until it returns.
 */
const JOIN_LOOKUPS = 2;
const RemoveQuery = Type.Object({ prune: Type.Optional(Type.Boolean({ description: 'also forget it on every member at once (serf force-leave -prune)' })) }, { additionalProperties: false });
const KeyOpParams = Type.Object({ op: Type.Union([Type.Literal('install'), Type.Literal('use'), Type.Literal('remove')]) });
const QueryTimeout = Type.Integer({ minimum: 100, maximum: 600_000, description: 'how long to wait for every member (ms); the default scales with the cluster size' });
const KeyBody = Type.Object({ key: Type.String({ minLength: 1, maxLength: 64, description: 'base64 of 16, 24 or 32 bytes' }), timeout_ms: Type.Optional(QueryTimeout) }, { additionalProperties: false });
const KeyQuery = Type.Object({ timeout_ms: Type.Optional(QueryTimeout) }, { additionalProperties: false });
const PerformanceQuery = Type.Object({ node: NodeQuery }, { additionalProperties: false });
const LeaveBody = Type.Object({ drain_timeout_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })) }, { additionalProperties: false });
const RebalanceBody = Type.Object(
  {
    strategy: Type.Union(REBALANCE_STRATEGIES.map((s) => Type.Literal(s)), { description: 'least-loaded: shares by free CPU; even-distribution: equal counts' }),
    max_moves: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'live moves per round (default 10)' })),
    rounds: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'rounds at most, each planned again from what the nodes run (default 10)' })),
  },
  { additionalProperties: false },
);
const VerifyQuery = Type.Object(
  {
    deep: Type.Optional(Type.Boolean({ description: 'compare entry by entry (missing, stale, extra) and name agents hosted on more than one node' })),
    node: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'only this node\'s rows and the nodes it is authority or holder for' })),
  },
  { additionalProperties: false },
);
const NodeBody = Type.Object({ node: Type.String({ minLength: 1, maxLength: 255 }) }, { additionalProperties: false });
const RebuildBody = Type.Object({ node: Type.String({ minLength: 1, maxLength: 255 }), from_peers: Type.Literal(true, { description: 'the source: the peers\' replicas (the only one this version has)' }) }, { additionalProperties: false });

function requireCluster(ctx: ApiContext): Cluster {
  const c = ctx.cluster();
  if (c === undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_DISABLED', 'clustering is off on this node');
  return c;
}

function requireClusterAgents(ctx: ApiContext): ClusterAgents {
  requireCluster(ctx);
  const a = ctx.clusterAgents();
  if (a === undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_DISABLED', 'this node does not place agents in its cluster');
  return a;
}

/** A move as the API shows it. */
function moveView(m: { agent: string; from: string; to: string; ok: boolean; epoch?: number; pauseMs?: number; error?: string }): Record<string, unknown> {
  return { agent: m.agent, from: m.from, to: m.to, ok: m.ok, epoch: m.epoch ?? null, pause_ms: m.pauseMs === undefined ? null : Math.round(m.pauseMs * 10) / 10, error: m.error ?? null };
}

/**
 * The nodes `cluster verify` and `compare-state` ask: every up Caxton member, isolated ones included
 * (out of placement, but members whose data the runbook verifies before `cluster rejoin`).
 */
function stateChecks(ctx: ApiContext): { checks: ClusterStateChecks; nodes: string[]; cluster: Cluster } {
  const cluster = requireCluster(ctx);
  const checks = ctx.clusterState();
  if (checks === undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_DISABLED', 'this node runs no cluster directory');
  const nodes = upNodes(cluster.members());
  if (!nodes.includes(ctx.nodeId)) nodes.push(ctx.nodeId);
  return { checks, nodes: nodes.sort(), cluster };
}

/** verify's answer on the API: the directory's report, snake_case. */
function driftView(r: DriftReport, nodes: readonly string[]): Record<string, unknown> {
  return {
    deep: r.deep,
    ok: r.ok,
    nodes,
    rows: r.rows.map((x) => ({
      node: x.node,
      status: x.status,
      hosted: x.hosted,
      held: x.held,
      mismatched: x.mismatched,
      ...(r.deep ? { missing: x.missing ?? 0, stale: x.stale ?? 0, extra: x.extra ?? 0, conflicting: x.conflicting ?? 0 } : {}),
      error: x.error ?? null,
    })),
    conflicts: r.conflicts.map((c) => ({ agent: c.agent, nodes: c.nodes })),
  };
}

function stateRowView(x: StateRow): Record<string, unknown> {
  return {
    node: x.node,
    status: x.status,
    alive: x.alive ?? null,
    view_digest: x.viewDigest ?? null,
    majority_view: x.majorityView ?? null,
    hosted: x.hosted ?? null,
    held: x.held ?? null,
    error: x.error ?? null,
  };
}

function requireKeyring(c: Cluster): void {
  if (c.keyring === undefined || !c.keyring.enabled) throw new CaxtonError('CAXTON_ERR_CLUSTER_ENCRYPTION_OFF', 'gossip encryption is off on this node: there is no keyring to change');
}

/** A key operation's tally, with fingerprints in place of keys: no route ever returns key material. */
function keyView(r: KeyResponse): Record<string, unknown> {
  const fp = (counts: Readonly<Record<string, number>>) => Object.entries(counts).map(([k, nodes]) => ({ fingerprint: keyFingerprint(k), nodes }));
  return { nodes: r.numNodes, responses: r.numResponses, errors: r.numErrors, responded: r.responded, messages: r.messages, keys: fp(r.keys), primary_keys: fp(r.primaryKeys) };
}

/** The least a key operation waits for every member by default, ms. */
const KEY_WAIT_MIN_MS = 5000;

/**
 * How long a key operation waits for every member: the request's timeout_ms, else serf's query default
 * (gossip interval × 16 × ceil(log10(N + 1)): 1.6 s for 3 nodes on the local profile) but at least
 * KEY_WAIT_MIN_MS. The operation ends as soon as every member answered, so the floor costs nothing
 * then; it keeps a member that answers late on a busy host from failing a step of a rotation.
 */
function keyWait(c: Cluster, ms: number | undefined): { timeoutMs: number } {
  return { timeoutMs: ms ?? Math.max(c.serf.defaultQueryTimeoutMs(), KEY_WAIT_MIN_MS) };
}

export function registerClusterRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const read = { permission: 'read' } as const;

  app.get('/cluster/members', { config: read, schema: { summary: 'Cluster members: status, address, agents, CPU, memory, tags' } }, async () => {
    const cluster = ctx.cluster();
    if (cluster === undefined) {
      return {
        enabled: false,
        members: [{ name: ctx.nodeId, status: 'alive', address: ctx.apiAddr, incarnation: 0, since: new Date(ctx.startedAt).toISOString(), agents: ctx.deployments.count(), cpu_percent: null, memory_rss_bytes: null, tags: {} }],
      };
    }
    return {
      enabled: true,
      members: cluster.members().map((m) => {
        // From the member's tags as last announced (src/cluster/node-tags.ts); null for a serf node.
        const load = memberLoad(m.tags);
        return {
          name: m.name,
          status: m.status,
          address: formatAddress(m),
          incarnation: m.incarnation,
          since: new Date(m.since).toISOString(),
          agents: m.tags['agents'] === undefined ? null : Number(m.tags['agents']),
          cpu_percent: load.cpuPercent,
          memory_rss_bytes: load.rssBytes,
          tags: m.tags,
        };
      }),
    };
  });

  app.get('/cluster/status', { config: read, schema: { summary: 'Nodes alive out of expected, and which side of a partition this node is on' } }, async () => {
    const cluster = ctx.cluster();
    const counts = { alive: 0, suspect: 0, failed: 0, left: 0 };
    if (cluster === undefined) counts.alive = 1;
    else for (const m of cluster.members()) counts[m.status]++;
    const p = ctx.partitions();
    if (p === undefined) {
      const expected = Math.max(ctx.clusterExpect, 1);
      return { enabled: cluster !== undefined, node: ctx.nodeId, expected, ...counts, healthy: counts.alive >= expected, partition: partitionView(undefined), shed_load_percent: ctx.loadShedding.percentage, mtls: cluster?.mtls ?? false };
    }
    const v = p.partitions.view;
    return { enabled: true, node: ctx.nodeId, expected: v.expected, ...counts, healthy: v.state === 'healthy', partition: partitionView(p), shed_load_percent: ctx.loadShedding.percentage, mtls: cluster?.mtls ?? false };
  });

  app.get<{ Querystring: Static<typeof PerformanceQuery> }>(
    '/cluster/performance',
    { config: read, schema: { summary: 'Live figures against the performance budgets, per node (METRIC TARGET ACTUAL STATUS)', querystring: PerformanceQuery } },
    async (req) => {
      if (ctx.clusterViews !== undefined) return ctx.clusterViews.performance(req.query.node);
      requireLocalNode(ctx.nodeId, req.query.node);
      return { per_node: [await ctx.nodeViews.performance()], nodes: [ctx.nodeId], missing: [] };
    },
  );

  app.get<{ Querystring: Static<typeof VerifyQuery> }>(
    '/cluster/verify',
    { config: read, schema: { summary: 'Compare what each node holds of the cluster directory with what its authorities announce (drift per node)', querystring: VerifyQuery } },
    async (req) => {
      const { checks, nodes, cluster } = stateChecks(ctx);
      const node = req.query.node;
      if (node !== undefined && !nodes.includes(node)) {
        const m = cluster.members().find((x) => x.name === node);
        if (m === undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_UNKNOWN_NODE', `no cluster member named ${node}`, { node });
        throw new CaxtonError('CAXTON_ERR_CLUSTER_UNKNOWN_NODE', `${node} is ${m.status === 'alive' || m.status === 'suspect' ? 'not a Caxton node (no role=caxton tag)' : m.status}: verify compares the up Caxton members`, { node, status: m.status });
      }
      const r = await checks.verify({ deep: req.query.deep === true, nodes, ...(node === undefined ? {} : { node }) });
      return driftView(r, nodes);
    },
  );

  app.get('/cluster/compare-state', { config: read, schema: { summary: 'What each node sees: members, a digest of their names, whether that is the majority view, hosted and held counts' } }, async () => {
    const { checks, nodes } = stateChecks(ctx);
    const rows = await checks.compareState(nodes);
    return { nodes: rows.map(stateRowView), majority: rows.filter((x) => x.majorityView === true).map((x) => x.node) };
  });

  app.post<{ Params: Static<typeof NodeParams> }>('/cluster/ping/:node', { config: read, schema: { summary: 'Probe a member: direct, through peers, and over TCP', params: NodeParams } }, async (req) => {
    const c = requireCluster(ctx);
    if (c.members().find((m) => m.name === req.params.node) === undefined) {
      throw new CaxtonError('CAXTON_ERR_CLUSTER_UNKNOWN_NODE', `no cluster member named ${req.params.node}`, { node: req.params.node });
    }
    const r = await c.membership.ping(req.params.node);
    return {
      node: r.node,
      address: formatAddress(r.address),
      direct_ms: r.direct ?? null,
      indirect: r.indirect.map((i) => ({ via: i.via, rtt_ms: i.rttMs ?? null, nack: i.nack })),
      tcp_ms: r.tcp ?? null,
    };
  });

  app.post<{ Body: Static<typeof JoinBody> }>('/cluster/join', { config: { permission: 'control', audit: 'cluster.join' }, schema: { summary: 'Join the cluster of these nodes (caxton cluster add-node)', body: JoinBody } }, async (req) => {
    const c = requireCluster(ctx);
    // As with the --join seeds: an address that is not host:port refuses the whole request (nothing is
    // tried), a name that does not resolve is skipped and reported, and the join goes through the rest.
    const items = req.body.addresses.map((text, i) => ({ address: requireAddress(text, `body.addresses[${i}]`, 'peer'), where: `body.addresses[${i}]` }));
    const { resolved, failed } = await resolveAll(items, JOIN_LOOKUPS);
    // None resolved: the first by position, whichever lookup ended first.
    if (failed.length === items.length) throw (failed[0] as { error: CaxtonError }).error;
    const answered = await c.join(resolved.filter((a): a is Address => a !== undefined));
    const skipped = failed.map((f) => ({ address: req.body.addresses[f.index] as string, field: f.error.details?.['field'] ?? null, code: f.error.code, message: f.error.message }));
    if (answered === 0) throw new CaxtonError('CAXTON_ERR_CLUSTER_JOIN_FAILED', `none of ${req.body.addresses.join(', ')} answered`, { skipped });
    return { answered, skipped };
  });

  app.post<{ Body: Static<typeof LeaveBody> }>('/cluster/leave', { config: { permission: 'control', audit: 'cluster.leave' }, schema: { summary: 'Drain this node\'s agents, then leave the cluster gracefully', body: LeaveBody } }, async (req) => {
    const c = requireCluster(ctx);
    const timeout = req.body.drain_timeout_ms ?? ctx.drainTimeoutMs;
    const t0 = Date.now();
    // First the agents move, live with their state, to their owners among the other nodes; what could
    // not move (no other node, a failed move) is drained and stopped here, and comes back at the next start.
    const handOver = await ctx.clusterAgents()?.handOver();
    const moved = (handOver?.moves ?? []).map(moveView);
    await Promise.all(
      ctx.pool
        .list()
        .filter((a) => a.state !== 'stopped' && a.state !== 'failed')
        .map((a) => ctx.pool.stop(a.name, { graceful: true, drainTimeoutMs: timeout }).catch(() => 0)),
    );
    await c.leave(Math.max(1000, timeout - (Date.now() - t0)));
    ctx.logger.warn({ by: req.apiKey?.name, moved: moved.filter((m) => m.ok === true).length, stayed: handOver?.stayed.length ?? 0 }, 'left the cluster; agents handed over (those that stayed stopped and come back at the next start)');
    return { node: ctx.nodeId, left: true, drained_ms: Date.now() - t0, moved, stayed: handOver?.stayed ?? ctx.pool.list().map((a) => a.name) };
  });

  app.post<{ Body: Static<typeof RebalanceBody> }>(
    '/cluster/rebalance',
    { config: { permission: 'control', management: true, audit: 'cluster.rebalance' }, schema: { summary: 'Move agents live toward the placement the strategy computes, a bounded number per round', body: RebalanceBody } },
    async (req) => {
      const r = await requireClusterAgents(ctx).rebalance(req.body.strategy, req.body.max_moves ?? 10, req.body.rounds ?? 10);
      ctx.logger.info({ strategy: r.strategy, moves: r.moves.length, remaining: r.remaining, by: req.apiKey?.name }, 'rebalance');
      return { strategy: r.strategy, rounds: r.rounds, moves: r.moves.map(moveView), remaining: r.remaining };
    },
  );

  app.post<{ Body: Static<typeof NodeBody> }>(
    '/cluster/isolate',
    { config: { permission: 'control', management: true, audit: 'cluster.isolate' }, schema: { summary: 'Take a node out of placement: its agents move away live; it stays a member', body: NodeBody } },
    async (req) => {
      const r = await requireClusterAgents(ctx).isolate(req.body.node);
      ctx.logger.warn({ node: r.node, moved: r.moves.length, by: req.apiKey?.name }, 'node isolated');
      return { node: r.node, isolated: true, moves: r.moves.map(moveView) };
    },
  );

  app.post<{ Body: Static<typeof NodeBody> }>(
    '/cluster/rejoin',
    { config: { permission: 'control', management: true, audit: 'cluster.rejoin' }, schema: { summary: 'Put an isolated node back into placement: agents it owns by rank move back to it', body: NodeBody } },
    async (req) => {
      const r = await requireClusterAgents(ctx).rejoin(req.body.node);
      ctx.logger.warn({ node: r.node, by: req.apiKey?.name }, 'node rejoined placement');
      return { node: r.node, isolated: false };
    },
  );

  app.post<{ Body: Static<typeof RebuildBody> }>(
    '/cluster/rebuild',
    { config: { permission: 'control', management: true, audit: 'cluster.rebuild' }, schema: { summary: 'Rebuild a node\'s agents, deployments and replica data from its peers', body: RebuildBody } },
    async (req) => {
      const r = await requireClusterAgents(ctx).rebuild(req.body.node);
      ctx.logger.warn({ ...r, by: req.apiKey?.name }, 'node rebuilt from its peers');
      return { node: r.node, restored: r.restored, repushed: r.repushed, moved: r.moved, failed: r.failed, silent: r.silent };
    },
  );

  app.delete<{ Params: Static<typeof NodeParams>; Querystring: Static<typeof RemoveQuery> }>(
    '/cluster/members/:node',
    // Allowed on a minority too: removing a node that is gone for good is how an operator shrinks the
    // cluster's agreed size, and so its quorum (docs/operations.md, "Network partition").
    { config: { permission: 'control', audit: 'cluster.remove' }, schema: { summary: 'Remove a failed node for good: left everywhere, no reconnects, no longer counted for the quorum (caxton cluster remove)', params: NodeParams, querystring: RemoveQuery } },
    async (req) => {
      const c = requireCluster(ctx);
      const m = c.members().find((x) => x.name === req.params.node);
      const p = ctx.partitions();
      if (m === undefined && p !== undefined && p.knows(req.params.node)) {
        // Failed long enough ago that membership dropped it (gossip_to_dead_time): only the quorum still counts it.
        const r = await p.forget(req.params.node);
        ctx.logger.warn({ node: req.params.node, applied: r.applied, by: req.apiKey?.name }, 'removed a node gone for good from the cluster\'s agreed size');
        return { node: req.params.node, removed: true, pruned: false, was: 'failed' };
      }
      if (m === undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_UNKNOWN_NODE', `no cluster member named ${req.params.node}`, { node: req.params.node });
      if (m.status !== 'failed' && m.status !== 'left') {
        throw new CaxtonError('CAXTON_ERR_CLUSTER_NODE_NOT_FAILED', `${m.name} is ${m.status}, not failed`, { node: m.name, status: m.status });
      }
      await c.removeNode(m.name, req.query.prune === true);
      await p?.forget(m.name);
      ctx.logger.warn({ node: m.name, prune: req.query.prune === true, by: req.apiKey?.name }, 'removed a failed node from the cluster');
      return { node: m.name, removed: true, pruned: req.query.prune === true, was: m.status };
    },
  );

  app.get<{ Querystring: Static<typeof KeyQuery> }>(
    '/cluster/keys',
    { config: { permission: 'admin' }, schema: { summary: 'Gossip keys held across the cluster, as fingerprints, with how many nodes hold each', querystring: KeyQuery } },
    async (req) => {
      const c = requireCluster(ctx);
      requireKeyring(c);
      return keyView(await c.keys.list(keyWait(c, req.query.timeout_ms)));
    },
  );

  app.post<{ Params: Static<typeof KeyOpParams>; Body: Static<typeof KeyBody> }>(
    '/cluster/keys/:op',
    { config: { permission: 'admin', management: true, audit: 'cluster.gossip-key' }, schema: { summary: 'Install, use (make primary) or remove a gossip key on every member', params: KeyOpParams, body: KeyBody } },
    async (req) => {
      // The key is a secret: the audit entry keeps its fingerprint alone.
      req.auditFacts = { fingerprint: keyFingerprint(req.body.key) };
      const c = requireCluster(ctx);
      requireKeyring(c);
      let key: Uint8Array;
      try {
        key = decodeGossipKey(req.body.key);
      } catch (e) {
        throw new CaxtonError('CAXTON_ERR_CLUSTER_KEY_INVALID', (e as Error).message);
      }
      const r = await c.keys[req.params.op](key, keyWait(c, req.body.timeout_ms));
      const problem = keyResponseProblem(r);
      ctx.logger.warn({ op: req.params.op, key: keyFingerprint(req.body.key), problem, by: req.apiKey?.name }, 'gossip key change');
      if (problem !== undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_KEY_OPERATION_FAILED', `${req.params.op}: ${problem}`, keyView(r));
      return { op: req.params.op, fingerprint: keyFingerprint(req.body.key), ...keyView(r) };
    },
  );

  app.get<{ Querystring: Static<typeof KeyQuery> }>('/cluster/verify-auth', { config: read, schema: { summary: 'Check that every member holds the same gossip keys and primary key', querystring: KeyQuery } }, async (req) => {
    const c = requireCluster(ctx);
    const encrypted = c.keyring !== undefined && c.keyring.enabled;
    const r = await c.keys.list(keyWait(c, req.query.timeout_ms));
    const problems: string[] = [];
    const warnings: string[] = [];
    const alive = c.members().filter((m) => m.status === 'alive' || m.status === 'suspect').map((m) => m.name);
    const silent = alive.filter((n) => !r.responded.includes(n));
    if (silent.length > 0) problems.push(`${silent.length} member(s) did not answer: ${silent.join(', ')}`);
    const off = Object.entries(r.messages).filter(([, msg]) => /encryption not enabled/.test(msg)).map(([n]) => n);
    if (off.length > 0) problems.push(`gossip encryption is off on ${off.length} of ${r.numResponses} answering member(s): ${off.join(', ')}`);
    for (const [node, msg] of Object.entries(r.messages)) if (!off.includes(node)) problems.push(`${node}: ${msg}`);
    const answeredOk = r.numResponses - r.numErrors;
    const primaries = Object.entries(r.primaryKeys);
    if (primaries.length > 1) problems.push(`members disagree on the primary key: ${primaries.map(([k, n]) => `${keyFingerprint(k)} on ${n}`).join(', ')}`);
    for (const [k, n] of Object.entries(r.keys)) {
      if (n < answeredOk) warnings.push(`key ${keyFingerprint(k)} is installed on ${n} of ${answeredOk} members (a rotation left half done? install or remove it everywhere)`);
    }
    const primary = primaries.length === 1 ? keyFingerprint((primaries[0] as [string, number])[0]) : null;
    return { ok: problems.length === 0, encrypted, nodes: r.numNodes, responses: r.numResponses, primary, keys: Object.keys(r.keys).map(keyFingerprint), problems, warnings };
  });
}
