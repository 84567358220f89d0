/** Troubleshooting: `caxton trace`, `caxton analyze messages`, `caxton profile`, `caxton debug dump`. */
import { existsSync, statSync } from 'node:fs';
import { type Command, Option } from 'commander';
import type { ConversationView, ErrorCascadeView, StatsView } from '../api-types.js';
import { context } from '../context.js';
import { CliError, usageError } from '../errors.js';
import {
  countFooter,
  formatAge,
  formatBytes,
  formatCount,
  formatDuration,
  formatLatency,
  formatRate,
  renderFields,
  renderTable,
} from '../output.js';
import { checkRegex, durationOption } from '../parse.js';
import { bar, spinner, withSpinner } from '../progress.js';
import { count, percentileMs, subtractHistograms, sumMs } from '../../observability/latency.js';
import { MAX_WINDOW_MS } from '../../api/error-cascade.js';
import { agentPath, failIfMissing, interruptible, missingLines, nodeOption, nodeQuery, ok, sleep } from './common.js';

export function registerDebug(program: Command): void {
  program
    .command('trace')
    .description('every hop of one conversation (--conversation-id), or the recent errors grouped into cascades with their root cause (--error-cascade)')
    .option('--conversation-id <id>', 'the conversation (message send prints it)')
    .option('--error-cascade', 'the errors of the window (--last): agent faults, undeliverable messages, failures and error log lines, grouped into cascades, each with its root cause')
    .addOption(new Option('--last <duration>', 'the window of --error-cascade, e.g. 5m (default 5m)').argParser(durationOption('--last')))
    .action(async (opts: { conversationId?: string; errorCascade?: boolean; last?: number }, cmd: Command) => {
      const cascade = opts.errorCascade === true;
      if (cascade === (opts.conversationId !== undefined)) {
        throw usageError(
          cascade ? 'give --conversation-id or --error-cascade, not both' : 'caxton trace needs --conversation-id <id> (the hops of one conversation) or --error-cascade (the recent errors and their root cause)',
          'Examples: caxton trace --conversation-id abc-123; caxton trace --error-cascade --last 5m',
        );
      }
      if (!cascade && opts.last !== undefined) throw usageError('--last sets the window of --error-cascade; a conversation\'s trace is shown whole');
      const ctx = context(cmd);
      if (cascade) {
        const last = opts.last ?? 300_000;
        if (last < 1) throw usageError('--last must be above 0, e.g. --last 5m');
        if (last > MAX_WINDOW_MS) throw lastTooLong(last);
        const r = await ctx.client.get<ErrorCascadeView>('/error-cascade', { last_ms: last });
        ctx.print(r, () => renderCascades(r, last) + missingLines({ missing: r.missing ?? [] }));
        failIfMissing({ missing: r.missing ?? [] }, 'send their errors');
        return;
      }
      const id = opts.conversationId as string;
      const t = await ctx.client.get<ConversationView>(`/conversations/${encodeURIComponent(id)}`);
      ctx.print(t, () => renderTrace(id, t));
    });

  const analyze = program.command('analyze').description('look for patterns in what the node saw');
  analyze
    .command('messages')
    .description('group dead letters, failures, undeliverable messages and agent log lines matching a pattern')
    .requiredOption('--pattern <regex>', 'a regular expression, e.g. "timeout|error"', (v) => checkRegex(v, '--pattern'))
    .addOption(new Option('--last <duration>', 'how far back to look, e.g. 1h').argParser(durationOption('--last')).default(3_600_000, '1h'))
    .action(async (opts: { pattern: string; last: number }, cmd: Command) => {
      const ctx = context(cmd);
      if (opts.last > MAX_WINDOW_MS) throw lastTooLong(opts.last);
      const r = await ctx.client.get<{ pattern: string; since: string; total: number; groups: { kind: string; agent: string; reason: string; count: number; last_at: string }[] }>(
        '/messages/analyze',
        { pattern: opts.pattern, last_ms: opts.last },
      );
      ctx.print(r, () =>
        (r.groups.length === 0 ? '' : renderTable(['KIND', 'AGENT', 'REASON', 'COUNT', 'LAST-SEEN'], r.groups.map((g) => [g.kind, g.agent, g.reason, formatCount(g.count), formatAge(g.last_at)]))) +
          `${countFooter(r.total, 'match')} for /${r.pattern}/ in the last ${formatDuration(opts.last)}\n`,
      );
    });

  program
    .command('profile')
    .description('profile an agent over a time window: message rate, errors, fuel, memory, latency')
    .requiredOption('--agent <name>', 'agent name or id')
    .addOption(new Option('--duration <duration>', 'the window, e.g. 60s').argParser(durationOption('--duration')).default(60_000, '60s'))
    .action(async (opts: { agent: string; duration: number }, cmd: Command) => {
      const ctx = context(cmd);
      if (opts.duration < 100) throw usageError('--duration must be at least 100ms');
      const path = agentPath(opts.agent, '/stats');
      const first = await ctx.client.get<StatsView>(path);
      const t0 = Date.now();
      const stop = interruptible();
      const progress = spinner(`profiling ${opts.agent}…`);
      try {
        for (;;) {
          const elapsed = Date.now() - t0;
          if (elapsed >= opts.duration || stop.signal.aborted) break;
          progress.update(`profiling ${opts.agent} ${bar(elapsed / opts.duration)} ${formatDuration(Math.ceil((opts.duration - elapsed) / 1000) * 1000)} left`);
          await sleep(Math.min(500, opts.duration - elapsed), stop.signal);
        }
      } finally {
        progress.stop();
        stop.dispose();
      }
      const second = await ctx.client.get<StatsView>(path);
      const window = profileWindow(first, second, Date.now() - t0);
      ctx.print({ agent: opts.agent, duration_ms: window.duration_ms, window, start: first, end: second }, () => renderProfile(opts.agent, window));
    });

  const debug = program.command('debug').description('collect state for troubleshooting');
  debug
    .command('dump')
    .description('download one tar.gz of status, agents, stats, conversations, dead letters, config, logs and metrics of every node (a directory per node, and cluster.json), or of --node')
    .requiredOption('--output <file>', 'where to write it, e.g. debug-$(date +%s).tar.gz')
    .option('--force', 'overwrite the file if it exists')
    .addOption(nodeOption())
    .action(async (opts: { output: string; force?: boolean; node?: string }, cmd: Command) => {
      const ctx = context(cmd);
      if (existsSync(opts.output) && opts.force !== true) {
        throw new CliError(`${opts.output} already exists`, { hint: 'Pick another file name, or pass --force to overwrite it.', code: 'CAXTON_CLI_FILE_EXISTS' });
      }
      if (existsSync(opts.output) && statSync(opts.output).isDirectory()) throw usageError(`${opts.output} is a directory; --output takes a file name`);
      const { bytes, headers } = await withSpinner('collecting the debug dump…', (p) =>
        ctx.client.download('/debug/dump', opts.output, (n) => p.update(`downloading the debug dump… ${formatBytes(n)}`), nodeQuery(opts.node)),
      );
      // In a cluster the archive's cluster.json says why; the header names them for the exit code.
      const missing = (headers.get('x-caxton-missing-nodes') ?? '').split(',').filter((n) => n !== '').map((node) => ({ node, code: null, reason: 'not in the archive (see its cluster.json)' }));
      ctx.print({ file: opts.output, bytes, missing }, () => ok(`wrote ${formatBytes(bytes)} to ${opts.output}`) + missingLines({ missing }));
      failIfMissing({ missing }, 'send their dump');
    });
}

function renderTrace(id: string, t: ConversationView): string {
  const c = t.conversation;
  // The conversation itself is forgotten when idle; its journal (the trace) may outlive it.
  let text = c === null
    ? renderFields([['conversation', `${id} (no longer active; its trace follows)`]])
    : renderFields([
        ['conversation', c.id],
        ['protocol', c.protocol ?? null],
        ['participants', c.participants?.join(', ') ?? null],
        ['messages', c.messages ?? null],
        ['started', c.started_at === undefined ? null : `${c.started_at} (${formatAge(c.started_at)})`],
      ]);
  if (t.trace.length > 0) {
    const start = Date.parse(t.trace[0]!.time);
    text += '\n' + renderTable(
      ['TIME', 'KIND', 'FROM', 'TO', 'PERFORMATIVE', 'MESSAGE-ID', 'DETAIL'],
      t.trace.map((e) => [`+${formatLatencyDelta(Date.parse(e.time) - start)}`, e.kind, e.from, e.to, e.performative, e.message_id, e.detail]),
    );
  }
  return text;
}

/** `caxton trace --error-cascade`: per cascade, its root cause, the agents it took down and its errors. */
export function renderCascades(r: ErrorCascadeView, lastMs: number): string {
  const shown = r.truncated ? `; the largest ${r.cascades.length} shown` : '';
  const over = r.nodes === undefined ? '' : ` on ${countFooter(r.nodes.length, 'node')}`;
  const head = `${countFooter(r.errors, 'error')}${over} in the last ${formatDuration(lastMs)}${r.cascades_total === 0 ? '' : `, in ${countFooter(r.cascades_total, 'cascade')}${shown}`}\n`;
  if (r.cascades.length === 0) return head;
  const parts = r.cascades.map((c, i) => {
    const start = Date.parse(c.first_at);
    const at = (iso: string) => `+${formatLatencyDelta(Date.parse(iso) - start)}`;
    const root = c.root;
    let text = `CASCADE ${i + 1}: ${countFooter(c.errors, 'error')}, ${c.first_at} to ${c.last_at} (${formatLatencyDelta(Date.parse(c.last_at) - start)})\n`;
    // The peer felt the error (the receiver of a failure, the sender of an undeliverable message): it
    // is never the cause, so a root whose agent the journal does not know is named as unknown.
    const felt = root.agent === null && root.peer !== null ? ` (felt by ${root.peer})` : '';
    const on = root.node === undefined ? '' : ` on ${root.node}`;
    text += `root cause: ${root.agent ?? '(unknown agent)'}${on}: ${root.kind}${root.detail === '' ? '' : ` ${shorten(root.detail, 120)}`}${felt}\n`;
    if ((c.nodes ?? []).length > 1) text += `spread across nodes: ${(c.nodes ?? []).join(' → ')}\n`;
    const convs = c.conversations ?? [];
    if (convs.length > 0) {
      text += `conversations: ${convs.slice(0, 10).map((x) => `${x.id}${x.nodes.length === 0 ? '' : ` (${x.nodes.join(', ')})`}`).join(', ')}${convs.length > 10 ? `, … ${convs.length - 10} more` : ''}\n`;
    }
    if (c.agents.length > 0) {
      text += renderTable(['AGENT', 'ERRORS', 'FIRST', 'CAUSED-BY'], c.agents.map((a) => [a.name, formatCount(a.errors), at(a.first_at), a.caused_by ?? '-']));
    }
    if (c.affected.length > 0) text += `felt by: ${c.affected.join(', ')}\n`;
    const clustered = r.nodes !== undefined;
    text += clustered
      ? renderTable(['TIME', 'NODE', 'KIND', 'AGENT', 'PEER', 'DETAIL'], c.events.map((e) => [at(e.time), e.node ?? '-', e.kind, e.agent ?? '-', e.peer ?? '-', shorten(e.detail, 80)]))
      : renderTable(['TIME', 'KIND', 'AGENT', 'PEER', 'DETAIL'], c.events.map((e) => [at(e.time), e.kind, e.agent ?? '-', e.peer ?? '-', shorten(e.detail, 80)]));
    if (c.events.length < c.errors) text += `… ${c.errors - c.events.length} more (-o json has the counts; narrow --last to see them)\n`;
    return text;
  });
  const rest = r.truncated ? `\n… ${r.cascades_total - r.cascades.length} smaller cascades not shown (narrow --last to see them)\n` : '';
  return `${head}\n${parts.join('\n')}${rest}`;
}

/** --last past what the node looks back over: a usage error here, not the API's querystring.last_ms. */
function lastTooLong(ms: number): CliError {
  return usageError(`--last may be at most 30d, got ${formatDuration(ms)}`, 'Narrow the window, e.g. --last 1h or --last 7d.');
}

function shorten(text: string, max: number): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

function formatLatencyDelta(ms: number): string {
  return Number.isFinite(ms) ? formatLatency(Math.max(0, ms)) : '-';
}

export interface ProfileWindow {
  duration_ms: number;
  messages_in: number;
  messages_out: number;
  messages_per_s: number;
  errors: number;
  faults: number;
  restarts: number;
  fuel_used: number;
  fuel_per_s: number;
  memory_bytes: number;
  memory_delta_bytes: number;
  queued: number;
  calls: number;
  mean_ms: number;
  p50_ms: number;
  p99_ms: number;
  /** The counters went down in the window: the agent was restarted, so `end` counts from zero. */
  reset: boolean;
}

/** What happened between two StatsView snapshots of one agent, `durationMs` apart. */
export function profileWindow(a: StatsView, b: StatsView, durationMs: number): ProfileWindow {
  const reset = b.messages_in < a.messages_in || b.fuel_used < a.fuel_used || b.latency.count < a.latency.count;
  const d = (x: number, y: number) => (reset ? y : y - x);
  const seconds = Math.max(durationMs, 1) / 1000;
  const buckets = subtractHistograms(b.latency.buckets, reset ? [] : a.latency.buckets);
  const calls = count(buckets);
  const messagesIn = d(a.messages_in, b.messages_in);
  const fuel = d(a.fuel_used, b.fuel_used);
  return {
    duration_ms: durationMs,
    messages_in: messagesIn,
    messages_out: d(a.messages_out, b.messages_out),
    messages_per_s: messagesIn / seconds,
    errors: d(a.errors, b.errors),
    faults: d(a.faults, b.faults),
    restarts: Math.max(0, b.restarts - a.restarts),
    fuel_used: fuel,
    fuel_per_s: fuel / seconds,
    memory_bytes: b.memory_bytes,
    memory_delta_bytes: b.memory_bytes - a.memory_bytes,
    queued: b.queued,
    calls,
    mean_ms: calls === 0 ? 0 : sumMs(buckets) / calls,
    p50_ms: percentileMs(buckets, 0.5),
    p99_ms: percentileMs(buckets, 0.99),
    reset,
  };
}

export function renderProfile(agent: string, w: ProfileWindow): string {
  const sign = w.memory_delta_bytes > 0 ? '+' : w.memory_delta_bytes < 0 ? '-' : '±';
  const rows: [string, string][] = [
    ['window', formatDuration(w.duration_ms)],
    ['messages in', `${formatCount(w.messages_in)} (${formatRate(w.messages_per_s)})`],
    ['messages out', formatCount(w.messages_out)],
    ['errors', `${formatCount(w.errors)}${w.messages_in === 0 ? '' : ` (${((w.errors / w.messages_in) * 100).toFixed(2).replace(/\.?0+$/, '')}%)`}`],
    ['faults', formatCount(w.faults)],
    ['restarts', formatCount(w.restarts)],
    ['fuel', `${formatCount(w.fuel_used)} (${formatRate(w.fuel_per_s)})`],
    ['memory', `${formatBytes(w.memory_bytes)} (${sign}${formatBytes(Math.abs(w.memory_delta_bytes))})`],
    ['queued', formatCount(w.queued)],
    ['latency mean', w.calls === 0 ? '-' : formatLatency(w.mean_ms)],
    ['latency P50', w.calls === 0 ? '-' : formatLatency(w.p50_ms)],
    ['latency P99', w.calls === 0 ? '-' : formatLatency(w.p99_ms)],
  ];
  return `profile of ${agent}\n` + renderTable(['METRIC', 'VALUE'], rows) +
    (w.calls === 0 ? 'no calls in the window: send the agent some traffic while profiling\n' : '') +
    (w.reset ? 'note: the agent restarted during the window; the figures count from its restart\n' : '');
}
