/**
 * `caxton cluster upgrade start --version V [--canary-duration D]`, `cluster upgrade status`,
 * `cluster upgrade rollback` (docs/operations.md, "Upgrading Caxton"): the node behind --api-url
 * coordinates (POST /cluster/upgrade); `status` works against any node. `--wait` follows the plan
 * until it ends (the coordinator restarts itself last: the status is not answered for a moment then).
 */
import { type Command, Option } from 'commander';
import { context, type Context } from '../context.js';
import { CliError } from '../errors.js';
import { renderFields, renderTable, stdout } from '../output.js';
import { durationOption } from '../parse.js';
import { spinner } from '../progress.js';
import { destructive } from '../destructive.js';
import { interruptible, ok, sleep } from './common.js';

interface StepView {
  node: string;
  from: string;
  to: string;
  state: string;
  restart_at?: string;
  back_at?: string;
  done_at?: string;
  error?: string;
}

interface PlanView {
  id?: string;
  kind?: 'upgrade' | 'rollback';
  version?: string;
  coordinator?: string;
  canary?: string | null;
  phase: string;
  steps?: StepView[];
  error?: string;
  finished_at?: string;
  status: { phase: string; progress: string; canary: string; eta: string };
}

const TERMINAL = new Set(['completed', 'canary_failed', 'halted', 'rolled_back', 'rollback_failed', 'none']);
const POLL_MS = 1000;

export function registerUpgrade(cluster: Command): void {
  const upgrade = destructive(cluster.command('upgrade').description('upgrade every node to another installed release, one at a time, a canary first (nodes run under `caxton server start --releases DIR`)'));
  destructive(
    upgrade
      .command('start')
      .description('start a rolling upgrade: the canary (another node than this one) restarts on the release and is watched for --canary-duration, then the other nodes one at a time, this node last, each through the health gate')
      .requiredOption('--version <version>', 'the release to run, installed on every node as <releases>/<version>/ (1.2.0 or v1.2.0)')
      .addOption(new Option('--canary-duration <duration>', 'how long the canary is watched before the other nodes follow').argParser(durationOption('--canary-duration')).default(86_400_000, '24h'))
      .addOption(new Option('--node-watch <duration>', 'how long each later node is watched (default: the canary duration, at most 60s)').argParser(durationOption('--node-watch')))
      .option('--wait', 'follow the upgrade until it ends (exit 1 if it fails)')
      .option('--timeout <duration>', 'with --wait: give up waiting after this long (the upgrade goes on)', durationOption('--timeout'))
      .action(async (opts: { version: string; canaryDuration: number; nodeWatch?: number; wait?: boolean; timeout?: number }, cmd: Command) => {
        const ctx = context(cmd);
        const p = await ctx.client.post<PlanView>('/cluster/upgrade', {
          version: opts.version,
          canary_duration_ms: opts.canaryDuration,
          ...(opts.nodeWatch === undefined ? {} : { node_watch_ms: opts.nodeWatch }),
        });
        if (opts.wait === true) return follow(ctx, p, opts.timeout);
        ctx.print(p, () => {
          const order = (p.steps ?? []).map((s) => s.node);
          return ok(`upgrade ${p.id} to ${p.version} started: canary ${p.canary}, then ${order.slice(1).join(', ') || 'no other node'}`) + '  Follow it with `caxton cluster upgrade status`; stop it with `caxton cluster upgrade rollback`.\n';
        });
      }),
  );
  upgrade
    .command('status')
    .description('the last upgrade or rollback: PHASE, PROGRESS, CANARY and ETA, and each node (from any node)')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const p = await ctx.client.get<PlanView>('/cluster/upgrade');
      ctx.print(p, () => renderStatus(p));
    });
  destructive(
    upgrade
      .command('rollback')
      .description('put every node the last upgrade moved back on the version it ran before, one at a time, each through the health gate (a running upgrade stops first)')
      .option('--wait', 'follow the rollback until it ends (exit 1 if it fails)')
      .option('--timeout <duration>', 'with --wait: give up waiting after this long (the rollback goes on)', durationOption('--timeout'))
      .action(async (opts: { wait?: boolean; timeout?: number }, cmd: Command) => {
        const ctx = context(cmd);
        const p = await ctx.client.post<PlanView>('/cluster/upgrade/rollback', {});
        if (opts.wait === true) return follow(ctx, p, opts.timeout);
        ctx.print(p, () => ok(`rollback ${p.id} started: ${(p.steps ?? []).map((s) => `${s.node} ${s.from} -> ${s.to}`).join(', ')}`) + '  Follow it with `caxton cluster upgrade status`.\n');
      }),
  );
}

export function renderStatus(p: PlanView): string {
  const head = renderFields([
    ['PHASE', p.status.phase],
    ['PROGRESS', p.status.progress],
    ['CANARY', p.status.canary],
    ['ETA', p.status.eta],
  ]);
  if (p.steps === undefined) return head;
  const rows = p.steps.map((s) => [s.node, s.from, s.to, s.state, s.done_at ?? s.back_at ?? s.restart_at ?? '', s.error ?? '']);
  const footer = p.error === undefined ? '' : `\n${p.kind === 'rollback' ? 'rollback' : 'upgrade'} stopped: ${p.error}\n`;
  return `${head}\n${renderTable(['NODE', 'FROM', 'TO', 'STATE', 'SINCE', 'ERROR'], rows)}${footer}`;
}

/** Polls the status until the plan ends; its nodes' progress on stderr (spinner) and the end on stdout. */
async function follow(ctx: Context, started: PlanView, timeoutMs: number | undefined): Promise<void> {
  const progress = spinner(`${started.kind ?? 'upgrade'} ${started.id}: ${started.status.progress}`);
  const stop = interruptible();
  const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
  let last: PlanView = started;
  const seen = new Set<string>();
  try {
    while (!TERMINAL.has(last.phase)) {
      if (stop.signal.aborted) throw new CliError(`stopped following ${started.id}; it goes on: \`caxton cluster upgrade status\``, { code: 'CAXTON_CLI_INTERRUPTED' });
      if (Date.now() > deadline) throw new CliError(`${started.id} has not ended within the --timeout; it goes on: \`caxton cluster upgrade status\``, { code: 'CAXTON_CLI_TIMEOUT' });
      await sleep(POLL_MS, stop.signal);
      // The coordinator restarts itself as the last step: no answer for a moment is expected.
      const p = await ctx.client.get<PlanView>('/cluster/upgrade').catch(() => undefined);
      if (p === undefined || (p.id !== undefined && p.id !== started.id)) continue;
      last = p;
      progress.update(`${p.status.phase}: ${p.status.progress}; canary ${p.status.canary}; ETA ${p.status.eta}`);
      for (const s of p.steps ?? []) {
        if (s.state === 'done' && !seen.has(s.node)) {
          seen.add(s.node);
          if (!ctx.json) stdout.write(`${s.node}: ${s.from} -> ${s.to}, back and healthy (${s.done_at})\n`);
        }
      }
    }
  } finally {
    progress.stop();
    stop.dispose();
  }
  if (ctx.json) ctx.print(last, () => '');
  else stdout.write(renderStatus(last));
  if (last.phase !== 'completed' && last.phase !== 'rolled_back') {
    throw new CliError(`${last.kind ?? 'upgrade'} ${last.id ?? ''} ended ${last.status.phase.toLowerCase()}: ${last.error ?? 'see `caxton cluster upgrade status`'}`, { code: 'CAXTON_CLI_UPGRADE_FAILED', hint: 'Nodes already on the new release stay there; `caxton cluster upgrade rollback` puts them back.' });
  }
}
