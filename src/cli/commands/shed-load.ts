/**
 * `caxton cluster shed-load --percentage N [--node <name>]`: the runbook's last step against memory
 * exhaustion. Every up node (or one) refuses N % of new external messages with a 503 and Retry-After
 * until `--percentage 0`; without --percentage it shows what each node sheds now.
 */
import type { Command } from 'commander';
import type { MissingNodeView } from '../api-types.js';
import { context } from '../context.js';
import { CliError, usageError } from '../errors.js';
import { renderTable } from '../output.js';
import { destructive } from '../destructive.js';
import { missingLines, ok } from './common.js';

interface ShedRowView {
  readonly node: string;
  readonly percentage: number;
  readonly shed_total: number;
}

/** GET and POST /cluster/shed-load: the nodes that answered (applied it), the ones that did not. */
interface ShedView {
  readonly nodes: readonly ShedRowView[];
  readonly missing: MissingNodeView[];
}

/** `--percentage`: a whole number from 0 to 100. */
export function parsePercentageArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n > 100) {
    throw usageError(`--percentage takes a whole number from 0 to 100, got "${value}"`, 'Give the share of new external messages to refuse, e.g. --percentage 20; --percentage 0 stops shedding.');
  }
  return n;
}

export function registerShedLoad(cluster: Command): void {
  // Takes traffic out of service: never suggested for a mistyped command (src/cli/destructive.ts).
  destructive(cluster.command('shed-load'))
    .description('refuse a share of new external messages (503 CAXTON_ERR_LOAD_SHED with Retry-After) on every node, or one; replies and messages between agents pass; --percentage 0 stops it; not kept across restarts. Without --percentage: what each node sheds now')
    .option('--percentage <n>', 'share of new external messages to refuse, 0 to 100 (0 stops shedding)', parsePercentageArg)
    .option('--node <name>', 'only this node (default: every up node of the cluster)')
    .action(async (opts: { percentage?: number; node?: string }, cmd: Command) => {
      const ctx = context(cmd);
      if (opts.percentage === undefined) {
        const v = await ctx.client.get<ShedView>('/cluster/shed-load', opts.node === undefined ? {} : { node: opts.node });
        ctx.print(v, () => renderTable(['NODE', 'SHEDDING', 'SHED TOTAL'], v.nodes.map((r) => [r.node, `${r.percentage}%`, r.shed_total]), { align: ['left', 'right', 'right'] }) + missingLines({ missing: v.missing }));
        return;
      }
      const p = opts.percentage;
      const v = await ctx.client.post<ShedView & { percentage: number }>('/cluster/shed-load', { percentage: p, ...(opts.node === undefined ? {} : { node: opts.node }) });
      const names = v.nodes.map((r) => r.node).join(', ');
      ctx.print(v, () => (v.nodes.length === 0 ? '' : ok(p === 0 ? `load shedding stopped on ${names}` : `shedding ${p}% of new external messages on ${names}`)) + missingLines({ missing: v.missing }));
      if (v.missing.length > 0) {
        throw new CliError(`${v.missing.length} node(s) did not apply it: ${v.missing.map((m) => `${m.node} (${m.reason})`).join(', ')}`, {
          hint: 'Check them with `caxton cluster members` and `caxton cluster ping <node>`, then run the command again (with --node <name> for one). A node that restarts starts at 0.',
          code: 'CAXTON_CLI_SHED_INCOMPLETE',
        });
      }
    });
}
