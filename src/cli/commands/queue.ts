/** `caxton queue stats|drain`: mailbox depths and draining the backlog. */
import { type Command, Option } from 'commander';
import type { QueueView } from '../api-types.js';
import { context } from '../context.js';
import { CliError } from '../errors.js';
import { formatBytes, formatCount, formatDuration, renderFields, renderTable } from '../output.js';
import { durationOption } from '../parse.js';
import { withSpinner } from '../progress.js';
import { clusterWide, missingLines, nodeOption, nodeQuery, ok } from './common.js';

/** The runbook's rule of thumb: a queue depth above this is a backlog. */
export const BACKLOG_DEPTH = 10_000;

export function registerQueue(program: Command): void {
  const queue = program.command('queue').description('message queues: depth per agent, draining');
  queue
    .command('stats')
    .description('queued messages per agent, outbox and dead letters, over every node or --node (a depth above 10,000 is a backlog)')
    .addOption(nodeOption())
    .action(async (opts: { node?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const q = await ctx.client.get<QueueView>('/queue', nodeQuery(opts.node));
      const wide = clusterWide(q);
      ctx.print(q, () => {
        let text = renderFields([
          ['queued', formatCount(q.total_queued)],
          ['queued bytes', formatBytes(q.total_queued_bytes)],
          ['outbox pending', formatCount(q.outbox_pending)],
          ['dead letters', formatCount(q.dead_letters)],
        ]);
        if (wide && q.per_node !== undefined) {
          text += '\n' + renderTable(['NODE', 'QUEUED', 'BYTES', 'OUTBOX', 'DEAD-LETTERS'], q.per_node.map((n) => [n.node, formatCount(n.total_queued), formatBytes(n.total_queued_bytes), formatCount(n.outbox_pending), formatCount(n.dead_letters)]));
        }
        if (q.agents.length > 0) {
          text += '\n' + (wide
            ? renderTable(['AGENT', 'NODE', 'QUEUED', 'BYTES', 'STATE'], q.agents.map((a) => [a.name, a.node, formatCount(a.queued), formatBytes(a.queued_bytes), a.state]))
            : renderTable(['AGENT', 'QUEUED', 'BYTES', 'STATE'], q.agents.map((a) => [a.name, formatCount(a.queued), formatBytes(a.queued_bytes), a.state])));
        }
        if (q.total_queued > BACKLOG_DEPTH) {
          text += `\nwarning: queue depth ${formatCount(q.total_queued)} is above ${formatCount(BACKLOG_DEPTH)}: there is a backlog (see \`caxton agents slow\`)\n`;
        }
        return text + missingLines(q);
      });
    });

  queue
    .command('drain')
    .description('wait until every mailbox and the outbox are empty, or the timeout')
    .addOption(new Option('--timeout <duration>', 'how long to wait at most, e.g. 60s').argParser(durationOption('--timeout')).default(60_000, '60s'))
    .action(async (opts: { timeout: number }, cmd: Command) => {
      const ctx = context(cmd);
      const r = await withSpinner(`draining queues (up to ${formatDuration(opts.timeout)})…`, () =>
        ctx.client.post<{ drained: boolean; remaining: number; waited_ms: number }>('/queue/drain', { timeout_ms: opts.timeout }, { timeoutMs: opts.timeout + 30_000 }),
      );
      ctx.print(r, () => (r.drained ? ok(`queues drained in ${formatDuration(r.waited_ms)}`) : ''));
      if (!r.drained) {
        throw new CliError(`queues not drained within ${formatDuration(opts.timeout)}: ${formatCount(r.remaining)} messages remain`, {
          hint: 'Find the agents that keep messages with `caxton queue stats` and `caxton agents slow`; retry with a longer --timeout.',
          code: 'CAXTON_CLI_NOT_DRAINED',
        });
      }
    });
}
