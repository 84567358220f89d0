/** `caxton circuit-breaker activate|reset`: stop a cascade of failures, then recover. */
import type { Command } from 'commander';
import { context } from '../context.js';
import { usageError } from '../errors.js';
import { formatDuration } from '../output.js';
import { durationOption } from '../parse.js';
import { ok } from './common.js';
import { destructive } from '../destructive.js';

export function registerCircuitBreaker(program: Command): void {
  const cb = program.command('circuit-breaker').description('open or reset the circuit breakers that protect agents');
  destructive(cb.command('activate'))
    .description('open circuit breakers: messages to the agent(s) fail fast instead of piling up')
    .option('--all', 'every agent')
    .option('--agent <name>', 'one agent')
    .action(async (opts: { all?: boolean; agent?: string }, cmd: Command) => {
      const ctx = context(cmd);
      if ((opts.all === true) === (opts.agent !== undefined)) throw usageError('give exactly one of --all and --agent <name>');
      const r = await ctx.client.post<{ activated: number }>('/circuit-breakers/activate', opts.agent === undefined ? {} : { agent: opts.agent });
      ctx.print(r, () => ok(`${r.activated} circuit breaker${r.activated === 1 ? '' : 's'} opened${opts.agent === undefined ? '' : ` (${opts.agent})`}`));
    });
  destructive(cb.command('reset'))
    .description('close circuit breakers again; --gradual lets traffic back in over --duration')
    .option('--agent <name>', 'only this agent (default: all)')
    .option('--gradual', 'let traffic back in gradually (over --duration, default 10m)')
    .option('--duration <duration>', 'how long a gradual reset takes, e.g. 10m (implies --gradual)', durationOption('--duration'))
    .action(async (opts: { agent?: string; gradual?: boolean; duration?: number }, cmd: Command) => {
      const ctx = context(cmd);
      const gradual = opts.gradual === true || opts.duration !== undefined;
      const gradualMs = gradual ? (opts.duration ?? 600_000) : undefined;
      if (gradualMs !== undefined && gradualMs <= 0) throw usageError('--duration of a gradual reset must be above 0');
      const r = await ctx.client.post<{ reset: number }>('/circuit-breakers/reset', {
        ...(opts.agent === undefined ? {} : { agent: opts.agent }),
        ...(gradualMs === undefined ? {} : { gradual_ms: gradualMs }),
      });
      ctx.print(r, () => ok(`${r.reset} circuit breaker${r.reset === 1 ? '' : 's'} reset${gradualMs === undefined ? '' : `, traffic returns gradually over ${formatDuration(gradualMs)}`}`));
    });
}
