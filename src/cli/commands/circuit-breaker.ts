/**
 * `caxton circuit-breaker activate|reset`: stop a cascade of failures, then recover, on every node of
 * the cluster (`--all`: every agent's breaker on every node; `--agent`: that agent's, wherever it runs).
 */
import type { Command } from 'commander';
import { context } from '../context.js';
import { usageError } from '../errors.js';
import { formatDuration } from '../output.js';
import { durationOption } from '../parse.js';
import type { MissingNodeView } from '../api-types.js';
import { failIfMissing, missingLines, nodeQuery, ok } from './common.js';
import { destructive } from '../destructive.js';

export function registerCircuitBreaker(program: Command): void {
  const cb = program.command('circuit-breaker').description('open or reset the circuit breakers that protect agents');
  destructive(cb.command('activate'))
    .description('open circuit breakers: messages to the agent(s) fail fast instead of piling up')
    .option('--all', 'every agent on every node')
    .option('--agent <name>', 'one agent, on the node that runs it')
    .option('--node <name>', 'only this node\'s breakers')
    .action(async (opts: { all?: boolean; agent?: string; node?: string }, cmd: Command) => {
      const ctx = context(cmd);
      if ((opts.all === true) === (opts.agent !== undefined)) throw usageError('give exactly one of --all and --agent <name>');
      const r = await ctx.client.post<CircuitView & { activated: number }>('/circuit-breakers/activate', { ...(opts.agent === undefined ? {} : { agent: opts.agent }), ...nodeQuery(opts.node) });
      ctx.print(r, () => ok(`${r.activated} circuit breaker${r.activated === 1 ? '' : 's'} opened${opts.agent === undefined ? '' : ` (${opts.agent})`}${onNodes(r)}`) + missingLines({ missing: r.missing ?? [] }));
      failIfMissing({ missing: r.missing ?? [] }, 'open their breakers');
    });
  destructive(cb.command('reset'))
    .description('close circuit breakers again; --gradual lets traffic back in over --duration')
    .option('--agent <name>', 'only this agent (default: every agent on every node)')
    .option('--node <name>', 'only this node\'s breakers')
    .option('--gradual', 'let traffic back in gradually (over --duration, default 10m)')
    .option('--duration <duration>', 'how long a gradual reset takes, e.g. 10m (implies --gradual)', durationOption('--duration'))
    .action(async (opts: { agent?: string; gradual?: boolean; duration?: number; node?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const gradual = opts.gradual === true || opts.duration !== undefined;
      const gradualMs = gradual ? (opts.duration ?? 600_000) : undefined;
      if (gradualMs !== undefined && gradualMs <= 0) throw usageError('--duration of a gradual reset must be above 0');
      const r = await ctx.client.post<CircuitView & { reset: number }>('/circuit-breakers/reset', {
        ...(opts.agent === undefined ? {} : { agent: opts.agent }),
        ...(gradualMs === undefined ? {} : { gradual_ms: gradualMs }),
        ...nodeQuery(opts.node),
      });
      ctx.print(r, () => ok(`${r.reset} circuit breaker${r.reset === 1 ? '' : 's'} reset${onNodes(r)}${gradualMs === undefined ? '' : `, traffic returns gradually over ${formatDuration(gradualMs)}`}`) + missingLines({ missing: r.missing ?? [] }));
      failIfMissing({ missing: r.missing ?? [] }, 'reset their breakers');
    });
}

/** A cluster's answer adds each node's count and the nodes that did not answer. */
interface CircuitView {
  nodes?: { node: string; agents: number }[];
  missing?: MissingNodeView[];
}

/** ` on node-1 (2), node-2 (1)`: where the breakers were, in a cluster. */
function onNodes(r: CircuitView): string {
  return r.nodes === undefined ? '' : ` on ${r.nodes.map((n) => `${n.node} (${n.agents})`).join(', ')}`;
}
