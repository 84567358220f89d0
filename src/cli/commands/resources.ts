/** `caxton resources` and `caxton memory stats|gc`: what the node uses. */
import type { Command } from 'commander';
import type { MemoryView, MissingNodeView, ResourcesView } from '../api-types.js';
import { context } from '../context.js';
import { formatBytes, formatCount, formatPercent, renderTable } from '../output.js';
import { clusterWide, failIfMissing, missingLines, nodeOption, nodeQuery, ok } from './common.js';

export function registerResources(program: Command): void {
  program
    .command('resources')
    .description('CPU, memory and agents of every node, or of --node (NODE CPU MEMORY AGENTS)')
    .option('--agents', 'also list each agent\'s memory, fuel and queue')
    .addOption(nodeOption())
    .action(async (opts: { agents?: boolean; node?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const r = await ctx.client.get<ResourcesView>('/resources', nodeQuery(opts.node));
      const wide = clusterWide(r);
      const nodes = r.per_node ?? [{ ...r.node, node: r.node.id }];
      ctx.print(r, () => {
        let text = renderTable(['NODE', 'CPU', 'MEMORY', 'AGENTS'], nodes.map((n) => [n.node, formatPercent(n.cpu_percent), formatBytes(n.memory_rss_bytes), formatCount(n.agents)]));
        if (opts.agents === true && r.agents.length > 0) {
          const agents = [...r.agents].sort((a, b) => b.memory_bytes - a.memory_bytes);
          text += '\n' + (wide
            ? renderTable(['AGENT', 'NODE', 'MEMORY', 'FUEL', 'QUEUED'], agents.map((a) => [a.name, a.node, formatBytes(a.memory_bytes), formatCount(a.fuel_used), formatCount(a.queued)]))
            : renderTable(['AGENT', 'MEMORY', 'FUEL', 'QUEUED'], agents.map((a) => [a.name, formatBytes(a.memory_bytes), formatCount(a.fuel_used), formatCount(a.queued)])));
        }
        return text + missingLines(r);
      });
    });

  const memory = program.command('memory').description('memory of the node and its agents');
  memory
    .command('stats')
    .description('memory used and its limit, per node, or of --node (NODE USED LIMIT AGENTS)')
    .addOption(nodeOption())
    .action(async (opts: { node?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const m = await ctx.client.get<MemoryView>('/memory', nodeQuery(opts.node));
      const nodes = m.per_node ?? [{ ...m, node: m.node_id }];
      ctx.print(m, () => {
        const table = renderTable(['NODE', 'USED', 'LIMIT', 'AGENTS'], nodes.map((n) => [n.node, formatBytes(n.used_bytes), formatBytes(n.limit_bytes), formatCount(n.agents)]));
        // The detail line is one node's: with several, each node's is in -o json (per_node).
        const detail = nodes.length === 1 ? `agents' linear memory ${formatBytes(m.agents_memory_bytes)}, JS heap ${formatBytes(m.heap_used_bytes)}, available ${formatBytes(m.available_bytes)}\n` : '';
        return table + detail + missingLines(m);
      });
      failIfMissing(m, 'answer');
    });
  memory
    .command('gc')
    .description('collect garbage on every node (or --node) and its workers; --aggressive also evicts cached modules')
    .option('--aggressive', 'also drop compiled modules no agent uses')
    .addOption(nodeOption())
    .action(async (opts: { aggressive?: boolean; node?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const r = await ctx.client.post<GcView>('/memory/gc', { aggressive: opts.aggressive === true, ...nodeQuery(opts.node) }, { timeoutMs: 300_000 });
      ctx.print(r, () => {
        if (r.nodes === undefined) return ok(`freed ${formatBytes(r.freed_bytes)} (${formatBytes(r.before_bytes)} → ${formatBytes(r.after_bytes)}), ${r.modules_evicted} cached modules evicted`);
        const rows = r.nodes.map((n) => [n.node, formatBytes(n.before_bytes), formatBytes(n.after_bytes), formatBytes(n.freed_bytes), formatCount(n.modules_evicted)]);
        return renderTable(['NODE', 'BEFORE', 'AFTER', 'FREED', 'MODULES EVICTED'], rows) +
          ok(`freed ${formatBytes(r.freed_bytes)} on ${r.nodes.length === 1 ? '1 node' : `${r.nodes.length} nodes`}, ${r.modules_evicted} cached modules evicted`) +
          missingLines({ missing: r.missing ?? [] });
      });
      failIfMissing({ missing: r.missing ?? [] }, 'collect garbage');
    });
}

interface GcFigures {
  before_bytes: number;
  after_bytes: number;
  freed_bytes: number;
  modules_evicted: number;
}

/** POST /memory/gc: totals; a cluster adds each node's figures and the nodes that did not answer. */
interface GcView extends GcFigures {
  nodes?: (GcFigures & { node: string })[];
  missing?: MissingNodeView[];
}
