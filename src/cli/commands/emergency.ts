/** `caxton emergency stop`: stop every agent at once. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { context } from '../context.js';
import { countFooter, renderTable } from '../output.js';
import { withSpinner } from '../progress.js';
import { destructive } from '../destructive.js';

export function registerEmergency(program: Command): void {
  const emergency = program.command('emergency').description('emergency procedures');
  destructive(emergency.command('stop'))
    .description('stop every agent immediately; they stay stopped across restarts until `caxton agent restart`')
    .option('--all-agents', 'every agent of the node (the default; the flag is accepted for the runbook\'s form)')
    .option('--preserve-state', 'first save a copy of the node\'s database (agents, their state, outbox) to <data-dir>/emergency')
    .option('--dump-to <dir>', 'save that copy into this directory on the node instead (implies --preserve-state)')
    .action(async (opts: { allAgents?: boolean; preserveState?: boolean; dumpTo?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const body = { preserve_state: opts.preserveState === true, ...(opts.dumpTo === undefined ? {} : { dump_to: resolve(opts.dumpTo) }) };
      const r = await withSpinner('stopping every agent…', () => ctx.client.post<{ stopped: string[]; dump?: string }>('/emergency/stop', body, { timeoutMs: 300_000 }));
      ctx.print(r, () =>
        (r.stopped.length === 0 ? '' : renderTable(['AGENT', 'STATE'], r.stopped.map((n) => [n, 'stopped']))) +
          `${countFooter(r.stopped.length, 'agent')} stopped; restart one with \`caxton agent restart <name>\`\n` +
          (r.dump === undefined ? '' : `state saved to ${r.dump}\n`),
      );
    });
}
