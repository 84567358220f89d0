/** `caxton audit list`: who did which management action, on what, with which result (admin only). */
import { type Command, Option } from 'commander';
import type { AuditEntryView } from '../api-types.js';
import { context } from '../context.js';
import { countFooter, renderTable } from '../output.js';
import { durationOption, intOption } from '../parse.js';

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the audit log of management actions through the API (needs an admin key)');
  audit
    .command('list')
    .alias('ls')
    .description('the last audit entries of this node, oldest first')
    .addOption(new Option('--limit <n>', 'show the last N entries that match').argParser(intOption('--limit', 1)).default(100))
    .option('--actor <name>', 'only this actor: an API key\'s name or id, a client certificate\'s name, or anonymous')
    .option('--action <action>', 'only this action (agent.deploy), or a prefix ending in * (\'agent.*\')')
    .addOption(new Option('--since <duration>', 'only entries of the last duration, e.g. 1h or 30m').argParser(durationOption('--since')))
    .action(async (opts: { limit: number; actor?: string; action?: string; since?: number }, cmd: Command) => {
      const ctx = context(cmd);
      const r = await ctx.client.get<{ node: string; entries: AuditEntryView[] }>('/audit', {
        limit: opts.limit,
        ...(opts.actor === undefined ? {} : { actor: opts.actor }),
        ...(opts.action === undefined ? {} : { action: opts.action }),
        ...(opts.since === undefined ? {} : { since: new Date(Date.now() - opts.since).toISOString() }),
      });
      ctx.print(r, () =>
        renderTable(
          ['TIME', 'ACTOR', 'ACTION', 'TARGET', 'RESULT'],
          r.entries.map((e) => [e.time, e.actor, e.action, e.target, e.result === 'ok' ? 'ok' : `error ${e.status}${e.error_code === null ? '' : ` ${e.error_code}`}`]),
        ) + `${countFooter(r.entries.length, 'entry')}\n`,
      );
    });
}
