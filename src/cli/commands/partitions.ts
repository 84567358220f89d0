/**
 * `caxton cluster detect-partition`, `resolve-partition` and `conflicts`: the runbook's partition
 * procedures (docs/operations.md, "Network partition"), against the node behind --api-url.
 */
import { Command, Option } from 'commander';
import { context } from '../context.js';
import { CliError } from '../errors.js';
import { renderTable } from '../output.js';
import { destructive } from '../destructive.js';
import { ok } from './common.js';
import type { PartitionView } from './cluster.js';

interface FanOutView {
  readonly applied: readonly string[];
  readonly failed: readonly { node: string; error: string }[];
}

interface ConflictView {
  readonly id: number;
  readonly agent: string;
  readonly node: string;
  readonly epoch: number;
  readonly winner: string;
  readonly winner_epoch: number;
  readonly created_at: string;
  readonly reviewed_at: string | null;
  readonly keys: number;
  readonly timers: number;
  readonly state: { kv: { key: string; value: string }[]; timers: number };
}

/** The runbook's detection lines: `Partition A: [node-1, node-2] (majority)`. */
export function renderPartition(v: PartitionView & { node: string }): string {
  if (v.forming) return `No network partition: the cluster is forming (${v.reachable.length} nodes have joined; quorum ${v.quorum} once formed)\n`;
  if (v.state === 'healthy') {
    const held = v.merge_held ? '\nMerge held for the operator: run `caxton cluster resolve-partition --prefer majority`' : '';
    return `No network partition: all ${v.reachable.length} nodes reachable from ${v.node} (quorum ${v.quorum})${held}\n`;
  }
  const mine = v.state === 'majority' ? 'majority' : 'minority';
  const theirs = v.state === 'majority' ? 'minority' : v.unreachable.length >= v.quorum ? 'majority' : 'minority';
  const lines = ['WARNING: Network partition detected', `Partition A: [${v.reachable.join(', ')}] (${mine})`, `Partition B: [${v.unreachable.join(', ')}] (${theirs})`];
  if (v.state === 'majority') lines.push(`Action: ${v.unreachable.join(', ')} entering degraded mode`);
  else lines.push(`Action: ${v.node} ${v.state === 'alone' ? 'reaches no other node: local-only' : 'is in degraded mode'}, read-only; ${v.queued_writes} queued writes`);
  return `${lines.join('\n')}\n`;
}

export function registerPartitionCommands(cluster: Command): void {
  cluster
    .command('detect-partition')
    .description('whether the cluster is split as this node sees it: the sides and their roles (majority read-write, minority read-only); exits 1 when partitioned. --resolve-strategy manual: hold the merge after it heals until `cluster resolve-partition`')
    .addOption(new Option('--resolve-strategy <strategy>', 'manual: after the heal, replay nothing and settle no duplicate agent until `caxton cluster resolve-partition` (on every node this one reaches)').choices(['manual']))
    .action(async (opts: { resolveStrategy?: 'manual' }, cmd: Command) => {
      const ctx = context(cmd);
      const v = await ctx.client.get<PartitionView & { node: string }>('/cluster/partition');
      if (opts.resolveStrategy === 'manual') {
        const r = await ctx.client.post<FanOutView>('/cluster/partition/hold', {});
        ctx.print({ ...v, hold: r }, () => `${renderPartition(v)}${ok(`the merge waits for \`caxton cluster resolve-partition\` on ${r.applied.join(', ')}`)}${r.failed.map((f) => `  ${f.node}: not reached (${f.error})\n`).join('')}`);
        return;
      }
      ctx.print(v, () => renderPartition(v));
      if (v.state !== 'healthy' && !v.forming) {
        throw new CliError(`the cluster is partitioned: ${v.unreachable.length} node${v.unreachable.length === 1 ? '' : 's'} unreachable from ${v.node}`, {
          hint: 'Check the network between the sides (`caxton cluster ping <node>`); docs/operations.md "Network partition".',
          code: 'CAXTON_CLI_PARTITIONED',
        });
      }
    });
  destructive(cluster.command('resolve-partition'))
    .description('end a merge held by --resolve-strategy manual, on every node this one reaches: duplicate agents are settled (the majority\'s copies win; the others\' state is kept, see `cluster conflicts`) and queued messages are replayed')
    .requiredOption('--prefer <side>', '`majority` (the copies with the higher epoch, the majority\'s, win), or a node whose copies win')
    .action(async (opts: { prefer: string }, cmd: Command) => {
      const ctx = context(cmd);
      const r = await ctx.client.post<FanOutView & { prefer: string; replayed: number; reclaimed: number }>('/cluster/partition/resolve', { prefer: opts.prefer });
      const won = r.prefer === 'majority' ? '' : `; ${r.reclaimed} agent${r.reclaimed === 1 ? '' : 's'} kept as ${r.prefer} runs ${r.reclaimed === 1 ? 'it' : 'them'}`;
      ctx.print(r, () => `${ok(`resolved in favour of ${r.prefer} on ${r.applied.join(', ')}: ${r.replayed} queued messages replayed${won}`)}${r.failed.map((f) => `  ${f.node}: not reached (${f.error})\n`).join('')}`);
      if (r.failed.length > 0) throw new CliError(`not every node applied it: ${r.failed.map((f) => f.node).join(', ')}`, { hint: 'Run it again once they are reachable.', code: 'CAXTON_CLI_RESOLVE_INCOMPLETE' });
    });
  const conflicts = cluster
    .command('conflicts')
    .description('second copies of agents stopped after a partition on this node, with the state they had, for review (newest first)')
    .option('--all', 'reviewed ones too')
    .option('--show <id>', 'the keys and values (base64) of one')
    .action(async (opts: { all?: boolean; show?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const v = await ctx.client.get<{ node: string; conflicts: ConflictView[] }>('/cluster/conflicts', opts.all === true || opts.show !== undefined ? { all: 'true' } : {});
      if (opts.show !== undefined) {
        const c = v.conflicts.find((x) => String(x.id) === opts.show);
        if (c === undefined) throw new CliError(`no conflict ${opts.show} on ${v.node}`, { hint: 'List them with `caxton cluster conflicts --all`.', code: 'CAXTON_CLI_NOT_FOUND' });
        ctx.print(c, () => `${renderTable(['KEY', 'VALUE (base64)'], c.state.kv.map((e) => [e.key, e.value]))}${c.timers} pending timer(s)\n`);
        return;
      }
      ctx.print(v, () => {
        const rows = v.conflicts.map((c) => [c.id, c.agent, `${c.node} (epoch ${c.epoch})`, `${c.winner} (epoch ${c.winner_epoch})`, c.keys, c.created_at, c.reviewed_at ?? '-']);
        return `${renderTable(['ID', 'AGENT', 'STOPPED COPY', 'KEPT COPY', 'KEYS', 'AT', 'REVIEWED'], rows)}${v.conflicts.length} conflict${v.conflicts.length === 1 ? '' : 's'} on ${v.node}\n`;
      });
    });
  conflicts
    .command('review <id>')
    .description('mark a conflict reviewed (it stays listed with --all)')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const r = await ctx.client.post<{ id: number }>(`/cluster/conflicts/${encodeURIComponent(id)}/review`, {});
      ctx.print(r, () => ok(`conflict ${r.id} marked reviewed`));
    });
}
