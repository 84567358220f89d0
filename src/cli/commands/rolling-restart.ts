/**
 * `caxton cluster rolling-restart --reason TEXT` (docs/operations.md, "Rolling restart"): every node
 * restarts in place (POST /server/restart), one at a time, the node behind --api-url last. The next
 * one starts only when this one is a member again, serves its API with a new start time, every
 * agent that ran before runs again, and where the agents run has not changed for `--settle`.
 */
import { type Command, Option } from 'commander';
import { ApiClient } from '../client.js';
import { context, type Context } from '../context.js';
import { CliError } from '../errors.js';
import { stdout } from '../output.js';
import { durationOption } from '../parse.js';
import { tlsFetch } from '../tls-fetch.js';
import type { AgentList, StatusView } from '../api-types.js';
import { ok, sleep } from './common.js';
import { politely } from '../poll.js';

interface MembersView {
  members: { name: string; status: string; tags: Record<string, string> }[];
}

interface RestartAnswer {
  node: string;
  reason: string;
  started_at: string;
}

const POLL_MS = 500;

export function registerRollingRestart(cluster: Command): void {
  cluster
    .command('rolling-restart')
    .description('restart every node in place, one at a time (the node behind --api-url last), each waiting for the previous to rejoin with its agents running: for settings that cannot be reloaded')
    .requiredOption('--reason <text>', 'why (kept in the audit log and the nodes\' logs)')
    .addOption(new Option('--timeout <duration>', 'how long one node may take to come back').argParser(durationOption('--timeout')).default(120_000, '120s'))
    .addOption(
      new Option('--settle <duration>', 'how long where the agents run must stay unchanged once a node is back, before the next node restarts (0: at once)')
        .argParser(durationOption('--settle'))
        .default(2000, '2s'),
    )
    .action(async (opts: { reason: string; timeout: number; settle: number }, cmd: Command) => {
      const ctx = context(cmd);
      const self = await ctx.client.get<StatusView & { started_at: string }>('/status');
      const members = (await ctx.client.get<MembersView>('/cluster/members')).members.filter((m) => m.tags['role'] === 'caxton');
      const down = members.filter((m) => m.status !== 'alive');
      if (down.length > 0) {
        throw new CliError(`not every node is alive: ${down.map((m) => `${m.name} (${m.status})`).join(', ')}`, { hint: 'A rolling restart starts from a healthy cluster: `caxton cluster status` shows the members.', code: 'CAXTON_CLI_NODES_MISSING' });
      }
      // What must run again after each node: the agents running now.
      const agents = (await ctx.client.get<AgentList>('/agents')).agents.filter((a) => a.state === 'running').map((a) => a.name);
      const order = [...members.map((m) => m.name).filter((n) => n !== self.node_id).sort(), self.node_id];
      const done: { node: string; before: string; after: string; took_ms: number }[] = [];
      for (const node of order) {
        const t0 = Date.now();
        const r = await politely(() => ctx.client.post<RestartAnswer>('/server/restart', { reason: opts.reason, ...(node === self.node_id ? {} : { node }) }), t0 + opts.timeout);
        const after = await comeBack(ctx, node, r.started_at, members.length, agents, opts.timeout, opts.settle);
        done.push({ node, before: r.started_at, after, took_ms: Date.now() - t0 });
        if (!ctx.json) stdout.write(`${node}: restarted (started ${after}), a member again, ${agents.length} agent${agents.length === 1 ? '' : 's'} running (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
      }
      if (ctx.json) ctx.print({ reason: opts.reason, restarted: done, agents: agents.length }, () => '');
      else stdout.write(ok(`rolling restart done: ${done.length} node${done.length === 1 ? '' : 's'} restarted`));
    });
}

/**
 * Waits until `node` runs again with a start time after `before`, and the agents' placement has not
 * changed for `settleMs`; its new start time. The settle wait is a health gate, not a condition of
 * correctness: the agents come back to the node by join moves once it is a member again, and the next
 * node's hand-over would otherwise move agents while those moves run. Waiting for them keeps one
 * node's agents in motion at a time (each agent pauses once per move, the cluster's spare capacity
 * serves one node's agents); messages are kept either way (docs/operations.md, "Rolling restart").
 */
async function comeBack(ctx: Context, node: string, before: string, size: number, agents: readonly string[], timeoutMs: number, settleMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let waitingFor = 'to stop';
  let started: string | undefined;
  let placement = '';
  let stableSince = 0;
  while (Date.now() < deadline) {
    await sleep(POLL_MS);
    const step = await politely(() => check(ctx, node, before, size, agents), deadline).catch((e: unknown) => ({ waiting: `its API (${e instanceof Error ? e.message : String(e)})`, started: undefined, placement: '' }));
    waitingFor = step.waiting;
    started = step.started ?? started;
    if (step.waiting !== '' || step.placement !== placement) stableSince = Date.now();
    placement = step.placement;
    if (step.waiting !== '') continue;
    if (Date.now() - stableSince >= settleMs) return started as string;
    waitingFor = `the agents' placement to settle (unchanged for ${settleMs / 1000} s)`;
  }
  throw new CliError(`${node} did not come back within ${timeoutMs / 1000} s: still waiting for ${waitingFor}`, {
    hint: `Look at ${node}'s log; the remaining nodes were not restarted. Run the command again once \`caxton cluster status\` is healthy.`,
    code: 'CAXTON_CLI_RESTART_TIMEOUT',
  });
}

async function check(ctx: Context, node: string, before: string, size: number, agents: readonly string[]): Promise<{ waiting: string; started?: string; placement: string }> {
  const members = (await ctx.client.get<MembersView>('/cluster/members')).members.filter((m) => m.tags['role'] === 'caxton');
  const m = members.find((x) => x.name === node);
  if (m === undefined || m.status !== 'alive') return { waiting: `${node} to be an alive member (${m?.status ?? 'not a member'})`, placement: '' };
  const alive = members.filter((x) => x.status === 'alive').length;
  if (alive < size) return { waiting: `every node to be alive (${alive} of ${size})`, placement: '' };
  const api = m.tags['api'];
  if (api === undefined) return { waiting: `${node} to announce its API`, placement: '' };
  const status = await nodeClient(ctx, api).get<{ node_id: string; started_at: string }>('/status');
  if (status.node_id !== node || status.started_at <= before) return { waiting: `${node}'s API to answer as a new start (started ${status.started_at})`, placement: '' };
  const list = await ctx.client.get<AgentList>('/agents');
  const running = new Set(list.agents.filter((a) => a.state === 'running').map((a) => a.name));
  const missing = agents.filter((a) => !running.has(a));
  const placement = list.agents.map((a) => `${a.name}@${a.node ?? ''}:${a.state}`).sort().join(',');
  if (missing.length > 0 || (list.missing?.length ?? 0) > 0) return { waiting: `the agents to run again (${missing.length} not running: ${missing.slice(0, 5).join(', ')})`, started: status.started_at, placement };
  return { waiting: '', started: status.started_at, placement };
}

/** A client for another node's API at `hostPort` (its `api` tag), with the same key and TLS settings. */
function nodeClient(ctx: Context, hostPort: string): ApiClient {
  const scheme = /^https:/i.test(ctx.connection.apiUrl) ? 'https' : 'http';
  const connection = { ...ctx.connection, apiUrl: `${scheme}://${hostPort}` };
  return new ApiClient(connection, connection.tls === undefined ? fetch : tlsFetch(connection));
}
