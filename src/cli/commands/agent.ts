/**
 * `caxton agent ...` (alias `caxton agents ...`) and the top-level `caxton deploy`: deploy, list,
 * inspect, lifecycle, upgrades, logs and statistics of agents.
 */
import { basename, extname } from 'node:path';
import { type Command, Option } from 'commander';
import {
  AGENT_STATES,
  type AgentDetail,
  type AgentList,
  type AgentView,
  PLACEMENT_STRATEGIES,
  type Coverage,
  type MissingNodeView,
  PRIORITIES,
  type StatsView,
} from '../api-types.js';
import type { ApiClient, ServerEvent } from '../client.js';
import { type Context, context } from '../context.js';
import { CliError, usageError } from '../errors.js';
import {
  countFooter,
  formatAge,
  formatBytes,
  formatCount,
  formatDuration,
  formatLatency,
  formatSince,
  renderFields,
  renderJson,
  renderTable,
  shortId,
} from '../output.js';
import {
  type CanaryStage,
  durationOption,
  intOption,
  parseCanaryStages,
  parseObjectArg,
  parseRollbackOn,
  type RollbackLimits,
} from '../parse.js';
import { spinner, withSpinner } from '../progress.js';
import { agentPath, clusterWide, compactJson, failIfMissing, interruptible, missingLines, nodeOption, nodeQuery, ok, readModule, sleep } from './common.js';
import { destructive } from '../destructive.js';

export function registerAgent(program: Command): void {
  const agent = program
    .command('agent')
    .alias('agents')
    .description('deploy, inspect and control agents (also: caxton agents ...)');

  defineDeploy(agent.command('deploy'));

  agent
    .command('list')
    .alias('ls')
    .description('list the agents of every node (NODE column in a cluster), or of --node')
    .addOption(new Option('--state <state>', 'only agents in this state').choices(AGENT_STATES))
    .addOption(nodeOption())
    .action(async (opts: { state?: string; node?: string }, cmd: Command) => listAgents(context(cmd), opts.state, opts.node));

  agent
    .command('inspect')
    .description('show one agent: state, module, priority, faults, canary, statistics')
    .argument('<name>', 'agent name or id')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const a = await ctx.client.get<AgentDetail>(agentPath(name));
      ctx.print(a, () => renderAgent(a));
    });

  // Takes agents out of service (their messages wait until resume).
  destructive(agent.command('suspend'))
    .description('suspend an agent (its messages wait in its mailbox), or every running agent of a priority on every node')
    .argument('[name]', 'agent name or id')
    .addOption(new Option('--priority <priority>', 'suspend every running agent of this priority, on every node of the cluster').choices(PRIORITIES))
    .option('--node <name>', 'with --priority: only this node\'s agents')
    .action(async (name: string | undefined, opts: { priority?: string; node?: string }, cmd: Command) => {
      const ctx = context(cmd);
      if (name !== undefined && opts.priority !== undefined) throw usageError('give an agent name or --priority, not both');
      if (opts.node !== undefined && opts.priority === undefined) throw usageError('--node goes with --priority (an agent name already says where it runs)');
      if (name === undefined && opts.priority === undefined) {
        throw usageError('suspend needs an agent name or --priority <low|normal|high|critical>', 'e.g. `caxton agent suspend calc` or `caxton agents suspend --priority low`.');
      }
      if (name !== undefined) return lifecycle(ctx, name, 'suspend', 'suspended');
      return suspendByPriority(ctx, opts.priority!, opts.node);
    });

  for (const [verb, done, description] of [
    ['resume', 'resumed', 'resume a suspended agent'],
    ['restart', 'restarted', 'restart an agent (also a stopped or failed one); waits until it runs'],
  ] as const) {
    const c = agent
      .command(verb)
      .description(description)
      .argument('<name>', 'agent name or id')
      .action(async (name: string, _opts: unknown, cmd: Command) => lifecycle(context(cmd), name, verb, done));
    // A restart loses what the running instance held in memory.
    if (verb === 'restart') destructive(c);
  }

  destructive(agent.command('stop'))
    .description('stop an agent: by default it first handles what is in its mailbox (drain)')
    .argument('<name>', 'agent name or id')
    .option('--force', 'stop at once, without draining its mailbox')
    .option('--drain-timeout <duration>', 'how long to drain at most, e.g. 30s (default: messaging.drain_timeout)', durationOption('--drain-timeout'))
    .action(async (name: string, opts: { force?: boolean; drainTimeout?: number }, cmd: Command) => {
      const ctx = context(cmd);
      const body = { graceful: opts.force !== true, ...(opts.drainTimeout === undefined ? {} : { drain_timeout_ms: opts.drainTimeout }) };
      const a = await withSpinner(`stopping ${name}…`, () =>
        ctx.client.post<AgentView>(agentPath(name, '/stop'), body, { timeoutMs: (opts.drainTimeout ?? 300_000) + 60_000 }),
      );
      ctx.print(a, () => ok(`agent ${a.name} stopped (state ${a.state})`));
    });

  destructive(agent.command('upgrade'))
    .description('replace an agent\'s module: immediate, graceful (default) or canary')
    .argument('<name>', 'agent name or id')
    .argument('<wasm-file>', 'the new module')
    .addOption(new Option('--strategy <strategy>', 'how to switch (default graceful; canary when --canary-stages or --rollback-on is given)').choices(['immediate', 'graceful', 'canary']))
    .option('--canary-stages <stages>', 'canary traffic stages as percent:duration, e.g. "5:5m,25:10m,50:10m"', (v) => parseCanaryStages(v))
    .option('--rollback-on <conditions>', 'roll the canary back when e.g. "error_rate>1%,p99>100ms" (also min_samples>=N)', (v) => parseRollbackOn(v))
    .option('--wait', 'canary: follow it until it is promoted or rolled back (exit 1 on rollback)')
    .action(async (name: string, file: string, opts: UpgradeOptions, cmd: Command) => upgrade(context(cmd), name, file, opts));

  destructive(agent.command('promote'))
    .description('promote a running canary now: the new version takes all traffic')
    .argument('<name>', 'agent name or id')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const a = await ctx.client.post<AgentView>(agentPath(name, '/canary/promote'));
      ctx.print(a, () => ok(`canary of ${a.name} promoted (module ${shortId(a.canary?.module ?? a.module, 12)})`));
    });

  destructive(agent.command('rollback'))
    .description('roll a running canary back: the previous version keeps all traffic')
    .argument('<name>', 'agent name or id')
    .option('--reason <text>', 'recorded with the rollback')
    .action(async (name: string, opts: { reason?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const a = await ctx.client.post<AgentView>(agentPath(name, '/canary/rollback'), opts.reason === undefined ? {} : { reason: opts.reason });
      ctx.print(a, () => ok(`canary of ${a.name} rolled back (module ${shortId(a.module, 12)} keeps running)`));
    });

  destructive(agent.command('remove'))
    .alias('delete')
    .description('remove an agent and delete its key-value state')
    .argument('<name>', 'agent name or id')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const r = await ctx.client.delete<{ name: string; removed: boolean }>(agentPath(name));
      ctx.print(r, () => ok(`agent ${r.name} removed (its state was deleted)`));
    });

  agent
    .command('logs')
    .description('print an agent\'s recent log lines; --follow keeps printing new ones')
    .argument('<name>', 'agent name or id')
    .option('--tail <n>', 'how many recent lines (1..1000)', intOption('--tail', 1), 100)
    .addOption(new Option('--level <level>', 'lowest level shown').choices(['trace', 'debug', 'info', 'warn', 'error']))
    .option('-f, --follow', 'keep printing new lines (Ctrl-C stops)')
    .action(async (name: string, opts: { tail: number; level?: string; follow?: boolean }, cmd: Command) => logs(context(cmd), name, opts));

  agent
    .command('stats')
    .description('an agent\'s counters: messages, errors, fuel, memory, latency')
    .argument('<name>', 'agent name or id')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const s = await ctx.client.get<StatsView>(agentPath(name, '/stats'));
      ctx.print(s, () => renderFields(statsFields(s)));
    });

  agent
    .command('slow')
    .description('agents whose P99 message-handling latency is at or above a threshold, on every node or on --node')
    .addOption(new Option('--threshold <duration>', 'P99 latency threshold, e.g. 100ms').argParser(durationOption('--threshold')).default(100, '100ms'))
    .addOption(nodeOption())
    .action(async (opts: { threshold: number; node?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const all = await ctx.client.get<{ agents: StatsView[] } & Coverage>('/stats/agents', nodeQuery(opts.node));
      const slow = all.agents.filter((s) => s.latency.count > 0 && s.latency.p99_ms >= opts.threshold).sort((a, b) => b.latency.p99_ms - a.latency.p99_ms);
      const wide = clusterWide(all);
      const coverage = wide ? { nodes: all.nodes, missing: all.missing } : {};
      ctx.print({ agents: slow, ...coverage }, () =>
        renderTable(
          wide ? ['AGENT-ID', 'NODE', 'AVG-LATENCY', 'P99-LATENCY'] : ['AGENT-ID', 'AVG-LATENCY', 'P99-LATENCY'],
          slow.map((s) => (wide ? [s.name, s.node, formatLatency(s.latency.mean_ms), formatLatency(s.latency.p99_ms)] : [s.name, formatLatency(s.latency.mean_ms), formatLatency(s.latency.p99_ms)])),
        ) +
          `${slow.length} of ${all.agents.length} agents at or above ${formatLatency(opts.threshold)} P99${wide ? ` on ${countNodes(all)}` : ''}\n` +
          missingLines(all),
      );
    });

  defineDeploy(program.command('deploy').description('deploy an agent from a .wasm file (same as `caxton agent deploy`)'));
}

function defineDeploy(cmd: Command): Command {
  if (cmd.description() === '') cmd.description('deploy an agent from a .wasm file');
  return cmd
    .argument('<wasm-file>', 'the agent, a WebAssembly module')
    .option('-n, --name <name>', 'agent name, unique on the node (default: the file name without .wasm)')
    .option('--config <json|@file>', 'configuration handed to agent_init: a JSON object, or @file.json / @file.yaml', (v) => parseObjectArg(v, '--config'))
    .addOption(new Option('--priority <priority>', 'operational priority (default normal)').choices(PRIORITIES))
    .option('--no-start', 'load the agent without starting it')
    .addOption(new Option('--placement-strategy <strategy>', 'how the owner node is chosen among alive members (default even-distribution)').choices(PLACEMENT_STRATEGIES))
    .option('--prefer-nodes <a,b>', 'place on one of these nodes when one of them is alive', (v) => parseNodeList(v, '--prefer-nodes'))
    .option('--target-node <node>', 'place on this node; refused unless it is an alive member')
    .action(async (file: string, opts: DeployOpts, c: Command) => {
      const ctx = context(c);
      const name = opts.name ?? basename(file, extname(file));
      if (opts.targetNode !== undefined && opts.preferNodes !== undefined) throw usageError('--target-node and --prefer-nodes exclude each other: a target pins the agent, a preference only favours nodes');
      const mod = readModule(file);
      const body = {
        name,
        module: mod.base64,
        ...(opts.config === undefined ? {} : { config: opts.config }),
        ...(opts.priority === undefined ? {} : { priority: opts.priority }),
        start: opts.start,
        ...(opts.placementStrategy === undefined ? {} : { placement_strategy: opts.placementStrategy }),
        ...(opts.preferNodes === undefined ? {} : { prefer_nodes: opts.preferNodes }),
        ...(opts.targetNode === undefined ? {} : { target_node: opts.targetNode }),
      };
      const a = await withSpinner(`deploying ${name} (${formatBytes(mod.bytes)})…`, () => ctx.client.post<AgentView & { node?: string }>('/agents', body, { timeoutMs: 180_000 }));
      ctx.print(a, () =>
        ok(`agent ${a.name} deployed: ${a.state}`) +
          renderFields([
            ['id', a.id],
            ['node', a.node ?? '-'],
            ['module', `sha256:${shortId(a.module, 16)}`],
            ['priority', a.priority],
            ['worker', a.worker],
          ]),
      );
    });
}

interface DeployOpts {
  name?: string;
  config?: Record<string, unknown>;
  priority?: string;
  start: boolean;
  placementStrategy?: string;
  preferNodes?: string[];
  targetNode?: string;
}

/** `a,b,c` → ['a', 'b', 'c']; empty names are a usage error. */
export function parseNodeList(v: string, flag: string): string[] {
  const names = v.split(',').map((s) => s.trim());
  if (names.some((n) => n === '')) throw usageError(`${flag} takes node names separated by commas, like node-1,node-2 (got ${JSON.stringify(v)})`);
  return names;
}

async function listAgents(ctx: Context, state: string | undefined, node: string | undefined): Promise<void> {
  const list = await ctx.client.get<AgentList>('/agents', { state, ...nodeQuery(node) });
  if (ctx.json) {
    ctx.print(list, () => '');
    return;
  }
  // Message counts come from the statistics; the list is still useful without them. In a cluster
  // two nodes may briefly hold the same name (a move under way): the node is part of the key.
  const key = (name: string, at: string | undefined) => `${at ?? ''}\n${name}`;
  const stats = new Map<string, StatsView>();
  if (list.agents.length > 0) {
    try {
      for (const s of (await ctx.client.get<{ agents: StatsView[] }>('/stats/agents', nodeQuery(node))).agents) stats.set(key(s.name, s.node), s);
    } catch {
      /* counts shown as - */
    }
  }
  const wide = clusterWide(list);
  const agents = [...list.agents].sort((a, b) => a.name.localeCompare(b.name) || (a.node ?? '').localeCompare(b.node ?? ''));
  const byState: Record<string, number> = {};
  for (const a of agents) byState[a.state] = (byState[a.state] ?? 0) + 1;
  const head = ['AGENT-ID', 'NAME', ...(wide ? ['NODE'] : []), 'STATUS', 'PRIORITY', 'UPTIME', 'MESSAGES', 'RESTARTS'];
  ctx.out.write(
    renderTable(
      head,
      agents.map((a) => {
        const s = stats.get(key(a.name, a.node));
        return [
          shortId(a.id),
          a.name,
          ...(wide ? [a.node] : []),
          a.canary === null ? a.state : `${a.state} (canary ${a.canary.percent}%)`,
          a.priority,
          formatSince(a.running_since),
          s === undefined ? '-' : formatCount(s.messages_in),
          a.restarts,
        ];
      }),
    ) +
      countFooter(agents.length, 'agent', byState) +
      (wide ? ` on ${countNodes(list)}` : '') +
      '\n' +
      missingLines(list),
  );
}

/** `3 nodes` (or `1 node`): the nodes that answered a cluster-wide view. */
function countNodes(c: Coverage): string {
  const n = c.nodes?.length ?? 1;
  return `${n} node${n === 1 ? '' : 's'}`;
}

export function renderAgent(a: AgentDetail): string {
  const fields: [string, string | number | null][] = [
    ['name', a.name],
    ['id', a.id],
    ['state', a.state],
    ['priority', a.priority],
    ['module', `sha256:${a.module}`],
    ['worker', a.worker],
    ['restarts', a.restarts],
    ['deployed', `${a.deployed_at} (${formatAge(a.deployed_at)})`],
    ['updated', `${a.updated_at} (${formatAge(a.updated_at)})`],
    ['last fault', a.last_fault === null ? null : `${a.last_fault.kind}${a.last_fault.phase === undefined ? '' : ` in ${a.last_fault.phase}`}: ${a.last_fault.message} (${formatAge(a.last_fault.at)})`],
    ['canary', a.canary === null ? null : `module sha256:${shortId(a.canary.module, 16)} at ${a.canary.percent}%`],
    ['config', a.config === undefined || Object.keys(a.config).length === 0 ? null : compactJson(a.config, 200)],
  ];
  let text = renderFields(fields);
  if (a.stats !== undefined) text += '\n' + renderFields(statsFields(a.stats).filter(([k]) => k !== 'name' && k !== 'state'));
  return text;
}

export function statsFields(s: StatsView): [string, string | number][] {
  const fields: [string, string | number][] = [
    ['name', s.name],
    ['state', s.state],
    ['messages in', formatCount(s.messages_in)],
    ['messages out', formatCount(s.messages_out)],
    ['errors', s.errors],
    ['faults', s.faults],
    ['restarts', s.restarts],
    ['queued', s.queued],
    ['queued bytes', formatBytes(s.queued_bytes)],
    ['timers', s.timers],
    ['duplicates', s.duplicates],
    ['poisoned', s.poisoned],
    ['fuel used', formatCount(s.fuel_used)],
    ['memory', formatBytes(s.memory_bytes)],
    ['circuit', s.circuit],
    ['latency', s.latency.count === 0 ? 'no calls yet' : `mean ${formatLatency(s.latency.mean_ms)}, p50 ${formatLatency(s.latency.p50_ms)}, p99 ${formatLatency(s.latency.p99_ms)} over ${formatCount(s.latency.count)} calls`],
  ];
  if (s.blocked_senders.length > 0) {
    fields.push(['blocked senders', s.blocked_senders.map((b) => `${b.sender} until ${b.until}`).join(', ')]);
  }
  if (s.canary !== null) {
    fields.push(['canary', `${s.canary.percent}% on sha256:${shortId(s.canary.module, 12)}: ${s.canary.messages_in} messages, ${s.canary.errors} errors, ${s.canary.faults} faults, p99 ${formatLatency(s.canary.p99_ms)}`]);
  }
  return fields;
}

async function lifecycle(ctx: Context, name: string, verb: 'suspend' | 'resume' | 'restart', done: string): Promise<void> {
  const call = () => ctx.client.post<AgentView>(agentPath(name, `/${verb}`), undefined, { timeoutMs: verb === 'restart' ? 180_000 : 30_000 });
  const a = verb === 'restart' ? await withSpinner(`restarting ${name}…`, call) : await call();
  ctx.print(a, () => ok(`agent ${a.name} ${done} (state ${a.state})`));
}

/**
 * POST /agents/suspend: every node suspends its own running agents of the priority (a node alone
 * answers without `nodes`). Agents that could not be suspended and nodes that did not answer are
 * shown and make the command fail.
 */
async function suspendByPriority(ctx: Context, priority: string, node: string | undefined): Promise<void> {
  const r = await ctx.client.post<SuspendView>('/agents/suspend', { priority, ...nodeQuery(node) }, { timeoutMs: 300_000 });
  const missing = { missing: r.missing ?? [] };
  // Which node each agent was on, in a cluster.
  const where = new Map((r.nodes ?? []).flatMap((n) => [...n.suspended.map((a) => [a, n.node] as const), ...n.failed.map((f) => [f.agent, n.node] as const)]));
  ctx.print(r, () => {
    const rows = [...r.suspended.map((a) => [a, 'suspended']), ...r.failed.map((f) => [f.agent, `not suspended: ${f.reason}`])].map(([a, state]) => (r.nodes === undefined ? [a, state] : [a, where.get(a as string) ?? '-', state]));
    const perNode = r.nodes === undefined ? '' : ` on ${r.nodes.length === 1 ? '1 node' : `${r.nodes.length} nodes`} (${r.nodes.map((n) => `${n.node}: ${n.suspended.length}`).join(', ')})`;
    return (rows.length === 0 ? '' : renderTable(r.nodes === undefined ? ['AGENT', 'STATE'] : ['AGENT', 'NODE', 'STATE'], rows)) +
      `${countFooter(r.suspended.length, 'agent')} of priority ${priority} suspended${perNode}${r.failed.length === 0 ? '' : `, ${r.failed.length} failed`}\n` +
      missingLines(missing);
  });
  if (r.failed.length > 0) {
    throw new CliError(`${r.failed.length} of ${r.suspended.length + r.failed.length} ${priority}-priority agents could not be suspended`, {
      hint: 'See the table above; retry with `caxton agent suspend <name>`.',
      code: 'CAXTON_CLI_PARTIAL',
    });
  }
  failIfMissing(missing, `suspend their ${priority}-priority agents`);
}

interface SuspendView {
  priority: string;
  suspended: string[];
  failed: { agent: string; reason: string }[];
  nodes?: { node: string; suspended: string[]; failed: { agent: string; reason: string }[] }[];
  missing?: MissingNodeView[];
}

interface UpgradeOptions {
  strategy?: 'immediate' | 'graceful' | 'canary';
  canaryStages?: CanaryStage[];
  rollbackOn?: RollbackLimits;
  wait?: boolean;
}

async function upgrade(ctx: Context, name: string, file: string, opts: UpgradeOptions): Promise<void> {
  const canaryFlags = opts.canaryStages !== undefined || opts.rollbackOn !== undefined;
  const strategy = opts.strategy ?? (canaryFlags ? 'canary' : 'graceful');
  if (strategy !== 'canary' && canaryFlags) throw usageError(`--canary-stages and --rollback-on apply to --strategy canary, not ${strategy}`);
  if (strategy !== 'canary' && opts.wait === true) throw usageError('--wait applies to --strategy canary (immediate and graceful upgrades already wait)');
  const mod = readModule(file);
  const canary = strategy !== 'canary' ? undefined : { ...(opts.canaryStages === undefined ? {} : { stages: opts.canaryStages }), ...(opts.rollbackOn ?? {}) };
  const body = { module: mod.base64, strategy, ...(canary === undefined ? {} : { canary }) };

  if (strategy !== 'canary') {
    const a = await withSpinner(`upgrading ${name} (${strategy})…`, () => ctx.client.post<AgentView>(agentPath(name, '/upgrade'), body, { timeoutMs: 300_000 }));
    ctx.print(a, () => ok(`agent ${a.name} upgraded (${strategy}) to module sha256:${shortId(a.module, 16)}; state ${a.state}`));
    return;
  }
  if (opts.wait !== true) {
    const a = await withSpinner(`starting canary of ${name}…`, () => ctx.client.post<AgentView>(agentPath(name, '/upgrade'), body, { timeoutMs: 300_000 }));
    ctx.print(a, () =>
      ok(`canary of ${a.name} started${a.canary === null ? '' : ` at ${a.canary.percent}% (module sha256:${shortId(a.canary.module, 16)})`}`) +
        `follow it with \`caxton agent inspect ${a.name}\`; end it early with \`caxton agent promote ${a.name}\` or \`caxton agent rollback ${a.name}\`\n`,
    );
    return;
  }
  await canaryAndWait(ctx, name, body);
}

/** Starts a canary and polls the agent until the canary is gone: promoted (new module) or rolled back. */
async function canaryAndWait(ctx: Context, name: string, body: object): Promise<void> {
  const before = await ctx.client.get<AgentDetail>(agentPath(name));
  const stop = interruptible();
  // The event stream says why a rollback happened; it is optional, the polling decides.
  const reasons = watchCanaryEvents(ctx.client, name, stop.signal);
  const progress = spinner(`starting canary of ${name}…`);
  try {
    const started = await ctx.client.post<AgentView>(agentPath(name, '/upgrade'), body, { timeoutMs: 300_000 });
    const newModule = started.canary?.module;
    let current: AgentDetail = started;
    const t0 = Date.now();
    while (current.canary !== null && !stop.signal.aborted) {
      const c = current.stats?.canary;
      progress.update(
        `canary of ${name} at ${current.canary.percent}% for ${formatDuration(Date.now() - t0)}` +
          (c === null || c === undefined ? '' : `: ${c.messages_in} messages, ${c.errors} errors, ${c.faults} faults, p99 ${formatLatency(c.p99_ms)}`),
      );
      await sleep(1000, stop.signal);
      if (stop.signal.aborted) break;
      current = await ctx.client.get<AgentDetail>(agentPath(name));
    }
    progress.stop();
    if (stop.signal.aborted) {
      throw new CliError(`stopped waiting; the canary of ${name} is still running`, {
        hint: `Follow it with \`caxton agent inspect ${name}\`, or end it with \`caxton agent promote ${name}\` / \`caxton agent rollback ${name}\`.`,
        code: 'CAXTON_CLI_INTERRUPTED',
      });
    }
    const promoted = newModule !== undefined ? current.module === newModule : current.module !== before.module;
    if (promoted) {
      ctx.print(current, () => ok(`canary of ${name} promoted: module sha256:${shortId(current.module, 16)} takes all traffic (${formatDuration(Date.now() - t0)})`));
      return;
    }
    const reason = reasons.last();
    if (ctx.json) ctx.out.write(renderJson(current));
    throw new CliError(`the canary of ${name} was rolled back${reason === undefined ? '' : `: ${reason}`}; module sha256:${shortId(current.module, 16)} keeps running`, {
      code: 'CAXTON_ERR_UPGRADE_ROLLED_BACK',
      hint: `See why with \`caxton agent logs ${name}\`; fix the new version, or loosen --rollback-on if the limits were too strict.`,
    });
  } finally {
    progress.stop();
    stop.dispose();
    reasons.close();
  }
}

function watchCanaryEvents(client: ApiClient, name: string, outer: AbortSignal): { last(): string | undefined; close(): void } {
  const ac = new AbortController();
  outer.addEventListener('abort', () => ac.abort(), { once: true });
  let reason: string | undefined;
  void (async () => {
    try {
      for await (const ev of await client.events('agent.canary_*', ac.signal)) {
        const d = ev.data as Record<string, unknown> | null;
        if (d?.['agent'] !== name) continue;
        if (ev.event === 'agent.canary_rolled_back' || d['type'] === 'agent.canary_rolled_back') {
          reason = typeof d['reason'] === 'string' ? d['reason'] : typeof d['message'] === 'string' ? d['message'] : undefined;
        }
      }
    } catch {
      /* no event stream: the rollback is still detected by polling, only without its reason */
    }
  })();
  return { last: () => reason, close: () => ac.abort() };
}

interface LogLine {
  time: string;
  level: string;
  text: string;
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

function formatLogLine(l: LogLine): string {
  return `${l.time}  ${l.level.toUpperCase().padEnd(5)}  ${l.text}\n`;
}

async function logs(ctx: Context, name: string, opts: { tail: number; level?: string; follow?: boolean }): Promise<void> {
  if (opts.tail > 1000) throw usageError('--tail takes at most 1000 (the node keeps the last 1,000 lines per agent)');
  const query = { tail: opts.tail, level: opts.level };
  if (opts.follow !== true) {
    const r = await ctx.client.get<{ logs: LogLine[] }>(agentPath(name, '/logs'), query);
    ctx.print(r, () => r.logs.map(formatLogLine).join(''));
    return;
  }
  const stop = interruptible();
  try {
    // Subscribe first, then read the tail, so no line falls between the two. By agent: the node
    // relays the lines of an agent that runs on another node (the plain stream has its own agents' only).
    const stream = await ctx.client.events('agent.log', stop.signal, name);
    const r = await ctx.client.get<{ logs: LogLine[] }>(agentPath(name, '/logs'), query);
    const seen = new Set(r.logs.map((l) => `${l.time}|${l.text}`));
    const emit = (l: LogLine) => ctx.out.write(ctx.json ? JSON.stringify(l) + '\n' : formatLogLine(l));
    r.logs.forEach(emit);
    const minLevel = opts.level === undefined ? 0 : LEVELS.indexOf(opts.level);
    for await (const ev of stream) {
      const line = logLineOf(ev, name);
      if (line === undefined || LEVELS.indexOf(line.level) < minLevel) continue;
      const key = `${line.time}|${line.text}`;
      if (seen.has(key)) {
        seen.delete(key);
        continue;
      }
      emit(line);
    }
    if (!stop.signal.aborted) {
      throw new CliError(`the node at ${ctx.connection.apiUrl} closed the event stream`, { hint: 'The node stopped or restarted; run the command again once it is up.', code: 'CAXTON_CLI_STREAM' });
    }
  } catch (e) {
    if (stop.signal.aborted) return; // Ctrl-C: the normal way to end --follow
    throw e;
  } finally {
    stop.dispose();
  }
}

function logLineOf(ev: ServerEvent, name: string): LogLine | undefined {
  const d = ev.data as Record<string, unknown> | null;
  if (d === null || typeof d !== 'object' || d['agent'] !== name) return undefined;
  const time = typeof d['time'] === 'string' ? d['time'] : new Date().toISOString();
  const level = typeof d['level'] === 'string' ? d['level'] : 'info';
  const text = typeof d['text'] === 'string' ? d['text'] : typeof d['message'] === 'string' ? d['message'] : JSON.stringify(d);
  return { time, level, text };
}
