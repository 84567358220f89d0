/** `caxton server status`: what the node reports about itself. */
import type { Command } from 'commander';
import type { StatusView } from '../api-types.js';
import { context } from '../context.js';
import { describeKeySource } from '../credentials.js';
import { formatCount, formatDuration, renderFields } from '../output.js';

export function registerServerStatus(server: Command): void {
  server
    .command('status')
    .description('the node\'s identity, version, uptime, agents by state, outbox and dead letters')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const s = await ctx.client.get<StatusView>('/status');
      ctx.print(s, () => {
        const states = Object.entries(s.agents.by_state).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ');
        return renderFields([
          ['node', s.node_id],
          ['version', s.version],
          ['status', 'running'],
          ['pid', s.pid],
          ['uptime', `${formatDuration(s.uptime_s * 1000)} (since ${s.started_at})`],
          ['data dir', s.data_dir],
          ['api', `${s.api_addr} (this CLI: ${ctx.connection.apiUrl}, ${describeKeySource(ctx.connection.keySource)})`],
          ['metrics', s.metrics_addr],
          ['workers', s.workers],
          ['agents', `${s.agents.total}${states === '' ? '' : ` (${states})`}`],
          ['outbox pending', formatCount(s.outbox_pending)],
          ['dead letters', formatCount(s.dead_letters)],
        ]);
      });
    });
}
