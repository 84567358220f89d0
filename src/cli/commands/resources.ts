/** `caxton resources` and `caxton memory stats|gc`: what the node uses. */
import type { Command } from 'commander';
import type { MemoryView, ResourcesView } from '../api-types.js';
import { context } from '../context.js';
import { formatBytes, formatCount, formatPercent, renderTable } from '../output.js';
import { ok } from './common.js';

export function registerResources(program: Command): void {
  program
    .command('resources')
    .description('CPU, memory and agents of the node (NODE CPU MEMORY AGENTS)')
    .option('--agents', 'also list each agent\'s memory, fuel and queue')
    .action(async (opts: { agents?: boolean }, cmd: Command) => {
      const ctx = context(cmd);
      const r = await ctx.client.get<ResourcesView>('/resources');
      ctx.print(r, () => {
        let text = renderTable(['NODE', 'CPU', 'MEMORY', 'AGENTS'], [[r.node.id, formatPercent(r.node.cpu_percent), formatBytes(r.node.memory_rss_bytes), formatCount(r.node.agents)]]);
        if (opts.agents === true && r.agents.length > 0) {
          text += '\n' + renderTable(['AGENT', 'MEMORY', 'FUEL', 'QUEUED'], [...r.agents].sort((a, b) => b.memory_bytes - a.memory_bytes).map((a) => [a.name, formatBytes(a.memory_bytes), formatCount(a.fuel_used), formatCount(a.queued)]));
        }
        return text;
      });
    });

  const memory = program.command('memory').description('memory of the node and its agents');
  memory
    .command('stats')
    .description('memory used and its limit (NODE USED LIMIT AGENTS)')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const m = await ctx.client.get<MemoryView>('/memory');
      ctx.print(m, () =>
        renderTable(['NODE', 'USED', 'LIMIT', 'AGENTS'], [[m.node_id, formatBytes(m.used_bytes), formatBytes(m.limit_bytes), formatCount(m.agents)]]) +
          `agents' linear memory ${formatBytes(m.agents_memory_bytes)}, JS heap ${formatBytes(m.heap_used_bytes)}, available ${formatBytes(m.available_bytes)}\n`,
      );
    });
  memory
    .command('gc')
    .description('collect garbage in the node and its workers; --aggressive also evicts cached modules')
    .option('--aggressive', 'also drop compiled modules no agent uses')
    .action(async (opts: { aggressive?: boolean }, cmd: Command) => {
      const ctx = context(cmd);
      const r = await ctx.client.post<{ before_bytes: number; after_bytes: number; freed_bytes: number; modules_evicted: number }>(
        '/memory/gc',
        { aggressive: opts.aggressive === true },
        { timeoutMs: 120_000 },
      );
      ctx.print(r, () => ok(`freed ${formatBytes(r.freed_bytes)} (${formatBytes(r.before_bytes)} → ${formatBytes(r.after_bytes)}), ${r.modules_evicted} cached modules evicted`));
    });
}
