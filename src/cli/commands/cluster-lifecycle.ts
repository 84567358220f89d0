/**
 * `caxton cluster stop --all`, `caxton cluster restore --id` and `caxton cluster start [--verify]`
 * (docs/operations.md, "Stopping and starting a cluster"), the runbook's recovery from a backup: stop
 * every node, restore each data dir, start them again and check that every agent is back.
 *
 * The CLI cannot start processes on other machines: a stopped node's `caxton server start` process
 * stays up, parked (src/cli/parked-node.ts), and `cluster start` asks each one to start its node again.
 * A node whose process was started by its supervisor instead (not parked) counts as back.
 */
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { ApiClient } from '../client.js';
import { context, type Context } from '../context.js';
import { CliError } from '../errors.js';
import { formatBytes, formatDuration, renderTable, stdout } from '../output.js';
import { spinner } from '../progress.js';
import { durationOption } from '../parse.js';
import { tlsFetch } from '../tls-fetch.js';
import { politely } from '../poll.js';
import type { AgentList, StatusView } from '../api-types.js';
import { destructive } from '../destructive.js';
import { ok, sleep } from './common.js';
import type { StopRecord } from '../../cluster/stop-record.js';

interface MembersView {
  members: { name: string; status: string; address: string; tags: Record<string, string> }[];
}

interface HealthView {
  status: string;
  node_id: string;
  stopped_at?: string;
  reason?: string;
}

const POLL_MS = 500;

export function registerClusterLifecycle(cluster: Command): void {
  destructive(
    cluster
      .command('stop')
      .description('stop every node of the cluster (the node behind --api-url last), each keeping its agents, state and queued messages on disk; the processes stay up, parked, for `cluster start`')
      .requiredOption('--all', 'every node (required: there is no partial cluster stop)')
      .option('--reason <text>', 'why (kept in the audit log and the nodes\' logs)', 'cluster stop')
      .addOption(new Option('--timeout <duration>', 'how long one node may take to stop').argParser(durationOption('--timeout')).default(120_000, '120s')),
  ).action(async (opts: { reason: string; timeout: number }, cmd: Command) => stopAll(context(cmd), opts.reason, opts.timeout));
  destructive(
    cluster
      .command('restore')
      .description('with the cluster stopped (`cluster stop --all`), every parked node writes its own backup into its own data dir; a running node refuses')
      .requiredOption('--id <id>', 'the backup, as `cluster backup` named it (the same id on every node)')
      .option('--from <location>', 'the --destination the cluster backup was taken with (each node reads <location>/<node>); default: each node\'s catalog')
      .option('--s3-endpoint <url>', 'an S3-compatible store\'s URL (default: the node\'s backup.s3.endpoint)')
      .option('--s3-region <region>', 'the bucket\'s region (default: the node\'s backup.s3.region)')
      .option('--s3-force-path-style', 'address the bucket as <endpoint>/<bucket>')
      .addOption(new Option('--timeout <duration>', 'how long one node\'s restore may take').argParser(durationOption('--timeout')).default(1_800_000, '30m')),
  ).action(async (opts: RestoreFlags, cmd: Command) => restoreAll(context(cmd), opts));
  cluster
    .command('start')
    .description('start every node that `cluster stop --all` parked, wait until each is a member again, and with --verify compare the agents with what ran at the stop')
    .option('--verify', 'check that every agent that ran at the stop runs again, none missing and none twice (exit 1 otherwise)')
    .addOption(new Option('--timeout <duration>', 'how long the nodes may take to come back').argParser(durationOption('--timeout')).default(120_000, '120s'))
    .action(async (opts: { verify?: boolean; timeout: number }, cmd: Command) => startAll(context(cmd), opts.verify === true, opts.timeout));
}

async function stopAll(ctx: Context, reason: string, timeoutMs: number): Promise<void> {
  const self = await ctx.client.get<StatusView>('/status');
  const members = (await ctx.client.get<MembersView>('/cluster/members')).members.filter((m) => m.tags['role'] === 'caxton');
  const down = members.filter((m) => m.status !== 'alive');
  if (down.length > 0) {
    throw new CliError(`not every node is alive: ${down.map((m) => `${m.name} (${m.status})`).join(', ')}`, {
      hint: 'A cluster stop records every member and where each agent runs: start from a healthy cluster (`caxton cluster status`), or `caxton cluster remove` a node gone for good.',
      code: 'CAXTON_CLI_NODES_MISSING',
    });
  }
  const agents = await ctx.client.get<AgentList>('/agents');
  const record: StopRecord = {
    stopped_at: new Date().toISOString(),
    reason,
    members: members.map((m) => ({ name: m.name, api: m.tags['api'] ?? '', gossip: m.address })),
    agents: agents.agents.map((a) => ({ name: a.name, node: a.node ?? self.node_id })),
  };
  const order = [...members.map((m) => m.name).filter((n) => n !== self.node_id).sort(), self.node_id];
  // First every node freezes (no failover, move or redelivery), so that no agent moves onto the nodes
  // that stop last; then they stop one at a time.
  for (const node of order) await ctx.client.post('/server/stop', { reason, prepare: true, ...(node === self.node_id ? {} : { node }) }, { timeoutMs: 90_000 });
  const rows: { node: string; state: string; stopped_at: string; took_ms: number }[] = [];
  for (const node of order) {
    const t0 = Date.now();
    await ctx.client.post('/server/stop', { reason, record, ...(node === self.node_id ? {} : { node }) });
    const api = record.members.find((m) => m.name === node)?.api ?? '';
    const h = await parkedWithin(ctx, node, api, t0 + timeoutMs, timeoutMs);
    rows.push({ node, state: 'stopped', stopped_at: h.stopped_at ?? '', took_ms: Date.now() - t0 });
    if (!ctx.json) stdout.write(`${node}: stopped, parked (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  }
  ctx.print({ reason, stopped: rows, agents: record.agents.length }, () =>
    `${renderTable(['NODE', 'STATE', 'STOPPED-AT'], rows.map((r) => [r.node, r.state, r.stopped_at]))}${ok(`cluster stopped: ${rows.length} node${rows.length === 1 ? '' : 's'}, ${record.agents.length} agent${record.agents.length === 1 ? '' : 's'} kept on their nodes; \`caxton cluster start --verify\` starts them again`)}`,
  );
}

/** Waits until `node`'s API (its `api` tag) answers as a parked node. */
async function parkedWithin(ctx: Context, node: string, api: string, deadline: number, timeoutMs: number): Promise<HealthView> {
  let seen = 'no answer yet';
  while (Date.now() < deadline) {
    await sleep(POLL_MS);
    const h = await nodeClient(ctx, api)
      .get<HealthView>('/health', undefined, { timeoutMs: 5000 })
      .catch((e: unknown) => (seen = e instanceof Error ? e.message : String(e), undefined));
    if (h?.status === 'stopped' && h.node_id === node) return h;
    if (h !== undefined) seen = `status ${h.status}`;
  }
  throw new CliError(`${node} did not stop within ${timeoutMs / 1000} s: its API answers ${seen}`, {
    hint: `Look at ${node}'s log. The nodes stopped so far stay parked: \`caxton cluster start\` starts them again.`,
    code: 'CAXTON_CLI_STOP_TIMEOUT',
  });
}

interface RestoreFlags {
  id: string;
  from?: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3ForcePathStyle?: boolean;
  timeout: number;
}

interface RestoreAnswer {
  node: string;
  id: string;
  chain: string[];
  created_at: string;
  database_bytes: number;
  duration_ms: number;
  agents: string[];
}

type RestoreRow = { node: string; state: 'restored' | 'failed' | 'not reached'; id?: string; taken_at?: string; agents?: number; code?: string; detail: string };

/**
 * Every recorded member restores its own backup, all at once (each reads and writes its own disk).
 * The nodes' answers are the only judge of "parked": a running one refuses (CAXTON_ERR_NODE_NOT_PARKED).
 */
async function restoreAll(ctx: Context, o: RestoreFlags): Promise<void> {
  const members = await restoreMembers(ctx);
  const s3 = { ...(o.s3Endpoint === undefined ? {} : { endpoint: o.s3Endpoint }), ...(o.s3Region === undefined ? {} : { region: o.s3Region }), ...(o.s3ForcePathStyle === true ? { forcePathStyle: true } : {}) };
  const body = { id: o.id, ...(o.from === undefined ? {} : { from: o.from.startsWith('s3://') ? o.from : resolve(o.from) }), ...(Object.keys(s3).length === 0 ? {} : { s3 }) };
  const p = spinner(`cluster restore ${o.id}: ${members.length} node(s) restoring`);
  let left = members.length;
  const rows = await Promise.all(
    members.map(async (m): Promise<RestoreRow> => {
      try {
        const a = await nodeClient(ctx, m.api).post<RestoreAnswer>('/server/restore', body, { timeoutMs: o.timeout });
        const row: RestoreRow = { node: m.name, state: 'restored', id: a.id, taken_at: a.created_at, agents: a.agents.length, detail: `${a.chain.join(' <- ')}, ${formatBytes(a.database_bytes)} in ${formatDuration(a.duration_ms)}` };
        p.update(`cluster restore ${o.id}: ${m.name} restored, ${--left} left`);
        return row;
      } catch (e) {
        p.update(`cluster restore ${o.id}: ${m.name} failed, ${--left} left`);
        const code = e instanceof CliError ? e.code : 'CAXTON_CLI_ERROR';
        // A node that does not answer at all (down, or gone) is not one that refused.
        return { node: m.name, state: code === 'CAXTON_CLI_UNREACHABLE' || code === 'CAXTON_CLI_TIMEOUT' ? 'not reached' : 'failed', code, detail: e instanceof Error ? e.message : String(e) };
      }
    }),
  );
  p.stop();
  rows.sort((a, b) => a.node.localeCompare(b.node));
  const bad = rows.filter((r) => r.state !== 'restored');
  ctx.print({ id: o.id, nodes: rows, ok: bad.length === 0 }, () =>
    renderTable(['NODE', 'STATE', 'BACKUP-ID', 'TAKEN', 'AGENTS', 'DETAIL'], rows.map((r) => [r.node, r.state, r.id, r.taken_at?.replace(/\.\d+Z$/, 'Z'), r.agents === undefined ? undefined : String(r.agents), r.state === 'restored' ? r.detail : `${r.code ?? ''}: ${r.detail}`])) +
      (bad.length === 0 ? ok(`cluster restored from ${o.id}: ${rows.length} node${rows.length === 1 ? '' : 's'}; \`caxton cluster start --verify\` starts them on it`) : ''),
  );
  if (bad.length > 0) {
    throw new CliError(`not restored: ${bad.map((r) => `${r.node} (${r.state}${r.code === undefined ? '' : `, ${r.code}`})`).join(', ')}`, {
      hint: 'Each node is listed with its reason. A running node is restored only once it is stopped (`caxton cluster stop --all`); the nodes restored so far keep the backup: fix the others and run `caxton cluster restore` again before `cluster start`.',
      code: 'CAXTON_CLI_RESTORE_FAILED',
    });
  }
}

/**
 * The members to restore: the stop record's (the node behind --api-url, parked); a cluster never
 * stopped has none, and then the running members are asked, each refusing (not parked) on its own.
 */
async function restoreMembers(ctx: Context): Promise<StopRecord['members']> {
  try {
    return (await ctx.client.get<StopRecord>('/server/stopped')).members;
  } catch (e) {
    if (!(e instanceof CliError) || e.code !== 'CAXTON_ERR_STOP_RECORD_NOT_FOUND') throw e;
    const view = await ctx.client.get<MembersView>('/cluster/members');
    return view.members.filter((m) => m.tags['role'] === 'caxton').map((m) => ({ name: m.name, api: m.tags['api'] ?? '', gossip: m.address }));
  }
}

type NodeResult = { node: string; state: 'back' | 'not back'; detail: string; agents: number };

async function startAll(ctx: Context, verify: boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // The record: from the node behind --api-url, parked or started from it.
  const record = await politely(() => ctx.client.get<StopRecord>('/server/stopped'), deadline);
  const started: string[] = [];
  // Each node's own record says which agents are its own: after `cluster restore`, those of its
  // restored database (src/cluster/node-restore.ts); without a restore, every record is the same.
  const own = new Map<string, StopRecord['agents']>();
  for (const m of record.members) {
    const c = nodeClient(ctx, m.api);
    const h = await c.get<HealthView>('/health', undefined, { timeoutMs: 5000 }).catch(() => undefined);
    const r = await c.get<StopRecord>('/server/stopped', undefined, { timeoutMs: 5000 }).catch(() => undefined);
    if (r !== undefined) own.set(m.name, r.agents.filter((a) => a.node === m.name));
    if (h?.status !== 'stopped') continue; // running already (its supervisor started it), or not reachable
    await politely(() => c.post('/server/start', {}), deadline);
    started.push(m.name);
    if (!ctx.json) stdout.write(`${m.name}: starting\n`);
  }
  // Back: its own API answers as a running node, and every other running node sees it alive.
  const back = new Set<string>();
  const why = new Map<string, string>();
  while (Date.now() < deadline) {
    await sleep(POLL_MS);
    const running: StopRecord['members'][number][] = [];
    for (const m of record.members) {
      const h = await nodeClient(ctx, m.api).get<HealthView>('/health', undefined, { timeoutMs: 5000 }).catch((e: unknown) => (why.set(m.name, `its API: ${e instanceof Error ? e.message : String(e)}`), undefined));
      if (h === undefined) continue;
      if (h.status === 'stopped') why.set(m.name, 'still parked');
      else running.push(m);
    }
    const views = new Map<string, Set<string>>();
    for (const m of running) {
      const v = await politely(() => nodeClient(ctx, m.api).get<MembersView>('/cluster/members'), deadline).catch(() => undefined);
      if (v !== undefined) views.set(m.name, new Set(v.members.filter((x) => x.status === 'alive' && x.tags['role'] === 'caxton').map((x) => x.name)));
    }
    back.clear();
    for (const m of running) {
      const blind = running.filter((o) => o.name !== m.name && views.get(o.name)?.has(m.name) !== true).map((o) => o.name);
      if (blind.length === 0 && views.has(m.name)) back.add(m.name);
      else why.set(m.name, `running; ${blind.length === 0 ? 'its members not read yet' : `${blind.join(', ')} do${blind.length === 1 ? 'es' : ''} not see it alive yet`}`);
    }
    if (back.size === record.members.length) break;
  }
  const results: NodeResult[] = record.members.map((m) => ({ node: m.name, state: back.has(m.name) ? 'back' : 'not back', detail: back.has(m.name) ? (started.includes(m.name) ? 'started' : 'was running') : (why.get(m.name) ?? 'no answer'), agents: 0 }));
  let drift: { missing: string[]; duplicated: string[]; notRunning: string[] } | undefined;
  const expected: StopRecord = { ...record, agents: record.members.flatMap((m) => own.get(m.name) ?? record.agents.filter((a) => a.node === m.name)) };
  if (verify && back.size > 0) {
    const via = record.members.find((m) => back.has(m.name)) as StopRecord['members'][number];
    drift = await verifyAgents(ctx, via.api, expected, deadline);
    for (const r of results) r.agents = expected.agents.filter((a) => a.node === r.node).length;
  }
  const notBack = results.filter((r) => r.state !== 'back').map((r) => r.node);
  const bad = notBack.length > 0 || (drift !== undefined && drift.missing.length + drift.duplicated.length + drift.notRunning.length > 0);
  ctx.print({ stopped_at: record.stopped_at, nodes: results, ...(drift === undefined ? {} : { verify: { agents: expected.agents.length, ...drift } }), ok: !bad }, () => {
    let out = renderTable(['NODE', 'STATE', 'DETAIL', ...(verify ? ['AGENTS-AT-STOP'] : [])], results.map((r) => [r.node, r.state, r.detail, ...(verify ? [String(r.agents)] : [])]));
    if (drift !== undefined) {
      if (drift.missing.length > 0) out += `missing: ${drift.missing.join(', ')}\n`;
      if (drift.notRunning.length > 0) out += `not running: ${drift.notRunning.join(', ')}\n`;
      if (drift.duplicated.length > 0) out += `running twice: ${drift.duplicated.join(', ')}\n`;
    }
    if (!bad) out += ok(`cluster started: ${results.length} node${results.length === 1 ? '' : 's'} back${drift === undefined ? '' : `, ${expected.agents.length} agent${expected.agents.length === 1 ? '' : 's'} as at the stop (or as restored)`}`);
    return out;
  });
  if (notBack.length > 0) {
    throw new CliError(`not back within ${timeoutMs / 1000} s: ${notBack.map((n) => `${n} (${results.find((r) => r.node === n)?.detail})`).join(', ')}`, {
      hint: 'Look at those nodes\' logs; a process that exited is started by its supervisor (`caxton server start` on the same data dir), then run `caxton cluster start --verify` again.',
      code: 'CAXTON_CLI_NODES_MISSING',
    });
  }
  if (bad) throw new CliError('the agents differ from the stop record', { hint: '`caxton agent list` shows where each runs; a missing agent\'s node may have been restored from an older backup.', code: 'CAXTON_CLI_VERIFY_FAILED' });
}

/** The recorded agents against the cluster's list (through `api`), until they match or `deadline`. */
async function verifyAgents(ctx: Context, api: string, record: StopRecord, deadline: number): Promise<{ missing: string[]; duplicated: string[]; notRunning: string[] }> {
  let result = { missing: [] as string[], duplicated: [] as string[], notRunning: [] as string[] };
  do {
    const list = await politely(() => nodeClient(ctx, api).get<AgentList>('/agents'), deadline);
    const copies = new Map<string, number>();
    for (const a of list.agents) copies.set(a.name, (copies.get(a.name) ?? 0) + 1);
    const running = new Set(list.agents.filter((a) => a.state === 'running').map((a) => a.name));
    result = {
      missing: record.agents.filter((a) => !copies.has(a.name)).map((a) => a.name),
      duplicated: [...copies].filter(([, n]) => n > 1).map(([name]) => name),
      notRunning: record.agents.filter((a) => copies.has(a.name) && !running.has(a.name)).map((a) => a.name),
    };
    if (result.missing.length + result.duplicated.length + result.notRunning.length === 0 && (list.missing?.length ?? 0) === 0) return result;
    await sleep(POLL_MS);
  } while (Date.now() < deadline);
  return result;
}

/** A client for another node's API at `hostPort` (its `api` tag), with the same key and TLS settings. */
function nodeClient(ctx: Context, hostPort: string): ApiClient {
  if (hostPort === '') return ctx.client;
  const scheme = /^https:/i.test(ctx.connection.apiUrl) ? 'https' : 'http';
  const connection = { ...ctx.connection, apiUrl: `${scheme}://${hostPort}` };
  return new ApiClient(connection, connection.tls === undefined ? fetch : tlsFetch(connection));
}
