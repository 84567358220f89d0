/** `caxton cluster ...`: membership, placement and consistency of the cluster, through the node behind the API. */
import type { Command } from 'commander';
import type { CompareStateView, PerformanceRowView, PerformanceView, VerifyView } from '../api-types.js';
import { context } from '../context.js';
import { CliError } from '../errors.js';
import { formatBytes, formatDuration, formatLatency, formatPercent, formatRate, renderFields, renderTable } from '../output.js';
import { checkAddressArg, durationOption, intOption } from '../parse.js';
import { registerRollingRestart } from './rolling-restart.js';
import { registerUpgrade } from './upgrade.js';
import { registerClusterLifecycle } from './cluster-lifecycle.js';
import { Option } from 'commander';
import { missingLines, nodeOption, nodeQuery, ok } from './common.js';
import { destructive } from '../destructive.js';
import { registerShedLoad } from './shed-load.js';
import { registerPartitionCommands } from './partitions.js';

interface ClusterMembersView {
  readonly enabled: boolean;
  readonly members: readonly {
    name: string;
    status: string;
    address: string;
    incarnation: number;
    since: string;
    agents: number | null;
    /** Host CPU busy and the node's RSS, from its `cpu` and `mem` tags; null without them (a serf node). */
    cpu_percent: number | null;
    memory_rss_bytes: number | null;
    tags: Record<string, string>;
  }[];
}

/** POST /cluster/join: names that did not resolve are skipped (and listed); the rest are joined through. */
interface JoinView {
  readonly answered: number;
  readonly skipped: readonly { address: string; field: string | null; code: string; message: string }[];
}

/** How add-node names its i-th argument in errors: `address`, or `address 2` among several. */
function addressArg(i: number, n: number): string {
  return n === 1 ? 'address' : `address ${i + 1}`;
}

const API_ADDRESS_FIELD = /^body\.addresses\[(\d+)\]/;

/** An API text that names an address as the API does (`body.addresses[1]: ...`), with the argument's name instead. */
function argumentTerms(text: string, n: number): string {
  return text.replace(API_ADDRESS_FIELD, (_, i: string) => addressArg(Number(i), n));
}

/** The API's error about one of the addresses, naming it as the CLI's own check does (`address 2`). */
function inArgumentTerms(e: CliError, n: number): CliError {
  const field = e.details?.['field'];
  if (typeof field !== 'string' || !API_ADDRESS_FIELD.test(field)) return e;
  return new CliError(argumentTerms(e.message, n), {
    code: e.code,
    exitCode: e.exitCode,
    ...(e.status === undefined ? {} : { status: e.status }),
    ...(e.hint === undefined ? {} : { hint: e.hint }),
    details: { ...e.details, field: argumentTerms(field, n) },
  });
}

interface PingView {
  readonly node: string;
  readonly address: string;
  readonly direct_ms: number | null;
  readonly indirect: readonly { via: string; rtt_ms: number | null; nack: boolean }[];
  readonly tcp_ms: number | null;
}

interface ClusterStatusView {
  readonly enabled: boolean;
  readonly node: string;
  readonly expected: number;
  readonly alive: number;
  readonly suspect: number;
  readonly failed: number;
  readonly left: number;
  readonly healthy: boolean;
  readonly partition: PartitionView;
  readonly shed_load_percent: number;
  /** Whether the link between nodes (routing, replication, modules) runs over mTLS. */
  readonly mtls?: boolean;
}

/** GET /cluster/partition (and /cluster/status's `partition`): which side of a partition the node is on. */
export interface PartitionView {
  readonly state: 'healthy' | 'majority' | 'minority' | 'alone';
  /** The cluster has not reached bootstrap_expect yet (no partition: nodes still joining). */
  readonly forming: boolean;
  readonly status: string;
  readonly operations: string;
  readonly quorum: number;
  readonly reachable: readonly string[];
  readonly unreachable: readonly string[];
  readonly queued_writes: number;
  readonly queued_bytes: number;
  readonly refused_full: number;
  readonly resolve_strategy: 'auto' | 'manual';
  readonly merge_held: boolean;
  readonly last_split: { readonly majority: readonly string[]; readonly minority: readonly string[] } | null;
  readonly conflicts: number;
}

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('cluster membership (SWIM, serf-compatible)');
  registerShedLoad(cluster);
  registerPartitionCommands(cluster);
  cluster
    .command('members')
    .description('every member: NODE-ID, STATUS (alive/suspect/failed/left), ADDRESS, LAST-SEEN, AGENTS, CPU, MEMORY')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const v = await ctx.client.get<ClusterMembersView>('/cluster/members');
      ctx.print(v, () => {
        const now = Date.now();
        const rows = v.members.map((m) => [
          m.name,
          m.status,
          m.address,
          m.status === 'alive' ? 'now' : `${formatDuration(now - Date.parse(m.since))} ago`,
          m.agents ?? '-',
          formatPercent(m.cpu_percent),
          formatBytes(m.memory_rss_bytes),
        ]);
        const foot = `${v.members.length} member${v.members.length === 1 ? '' : 's'}${v.enabled ? '' : ' (single node: clustering is off; start with --bootstrap or --join)'}\n`;
        return `${renderTable(['NODE-ID', 'STATUS', 'ADDRESS', 'LAST-SEEN', 'AGENTS', 'CPU', 'MEMORY'], rows)}${foot}`;
      });
    });
  cluster
    .command('status')
    .description('nodes alive out of expected; exits 1 when fewer are alive than expected')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const s = await ctx.client.get<ClusterStatusView>('/cluster/status');
      const p = s.partition;
      ctx.print(s, () => {
        const lines = [
          `Node: ${s.node}${s.enabled ? '' : ' (single node: clustering is off)'}`,
          `Status: ${p.status}`,
          `Operations: ${p.operations}`,
          `Nodes: ${p.reachable.length === 0 ? s.alive : p.reachable.length}/${s.expected} active (quorum ${p.quorum}; suspect ${s.suspect}, failed ${s.failed}, left ${s.left})`,
          ...(p.unreachable.length === 0 ? [] : [`Unreachable: ${p.unreachable.join(', ')}`]),
          `Queued writes: ${p.queued_writes}${p.refused_full > 0 ? ` (${p.refused_full} refused: the partition queue was full)` : ''}`,
          ...(p.merge_held ? ['Merge: HELD for the operator (caxton cluster resolve-partition --prefer majority)'] : p.resolve_strategy === 'manual' ? ['Merge: manual (waits for caxton cluster resolve-partition after a heal)'] : []),
          ...(s.enabled && s.mtls !== undefined
            ? [s.mtls ? 'Node-to-node: mTLS (TLS 1.3)' : `Node-to-node: NOT ENCRYPTED${s.expected > 1 ? ' — routing, replication and module transfer travel in plaintext (security.cluster.mtls, docs/security.md)' : ''}`]
            : []),
          ...(s.shed_load_percent > 0 ? [`Load shedding: ${s.shed_load_percent}% of new external messages refused (caxton cluster shed-load --percentage 0 stops it)`] : []),
          ...(p.conflicts > 0 ? [`Conflicts to review: ${p.conflicts} (caxton cluster conflicts)`] : []),
        ];
        return `${lines.join('\n')}\n`;
      });
      if (p.forming) {
        throw new CliError(`the cluster is still forming: ${p.reachable.length} of ${s.expected} expected nodes have joined`, { hint: 'Start the others with `caxton server start --join <host:port>` (coordination.cluster.bootstrap_expect says how many).', code: 'CAXTON_CLI_CLUSTER_FORMING' });
      }
      if (p.state === 'minority' || p.state === 'alone') {
        throw new CliError(`this node is on the ${p.state === 'alone' ? 'isolated' : 'minority'} side of a network partition: ${p.reachable.length} of ${s.expected} nodes reachable, quorum ${p.quorum}`, {
          hint: 'Management writes are refused here until it heals. `caxton cluster detect-partition` names the sides; docs/operations.md "Network partition".',
          code: 'CAXTON_CLI_CLUSTER_DEGRADED',
        });
      }
    });

  cluster
    .command('performance')
    .description('live figures against the performance budgets, per node: METRIC TARGET ACTUAL STATUS; exits 1 when one is degraded')
    .addOption(nodeOption())
    .action(async (opts: { node?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const v = await ctx.client.get<PerformanceView>('/cluster/performance', nodeQuery(opts.node));
      ctx.print(v, () => renderPerformance(v));
      const degraded = v.per_node.flatMap((n) => n.metrics.filter((m) => m.status === 'degraded').map((m) => `${m.metric} on ${n.node}`));
      if (degraded.length > 0) {
        throw new CliError(`performance degraded: ${degraded.join(', ')}`, {
          hint: 'Find the cause with `caxton queue stats`, `caxton agents slow` and `caxton resources` (docs/operations.md, "Performance degradation").',
          code: 'CAXTON_CLI_PERFORMANCE_DEGRADED',
        });
      }
    });
  cluster
    .command('verify')
    .description('compare what every node holds of the cluster directory with what its authorities announce; exits 1 when a node drifts or does not answer')
    .option('--deep', 'compare entry by entry (missing, stale, extra) and find agents hosted on more than one node, instead of digests alone')
    .option('--node <name>', 'only this node and the nodes it is authority or holder for')
    .action(async (opts: { deep?: boolean; node?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const query: Record<string, string> = { ...(opts.deep === true ? { deep: 'true' } : {}), ...nodeQuery(opts.node) };
      const v = await ctx.client.get<VerifyView>('/cluster/verify', query);
      ctx.print(v, () => renderVerify(v));
      if (!v.ok) {
        const bad = v.rows.filter((r) => r.status !== 'ok').map((r) => `${r.node} (${r.status})`);
        const conflicts = v.conflicts.map((c) => c.agent);
        throw new CliError(`cluster state differs between nodes: ${[...bad, ...(conflicts.length === 0 ? [] : [`agents on more than one node: ${conflicts.join(', ')}`])].join(', ')}`, {
          hint: 'Drift right after a change is repaired by the next anti-entropy round (every 30 s): run it again. If it stays, follow docs/operations.md "Data corruption recovery" (isolate, rebuild --from-peers, verify --node, rejoin).',
          code: 'CAXTON_CLI_STATE_DRIFT',
        });
      }
    });
  cluster
    .command('compare-state')
    .description('what every node sees: its members, a digest of their names, whether that is the view most nodes share (the side to keep in a split brain); exits 1 when the views differ')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const v = await ctx.client.get<CompareStateView>('/cluster/compare-state');
      ctx.print(v, () => renderCompareState(v));
      const others = v.nodes.filter((n) => n.majority_view !== true).map((n) => `${n.node} (${n.status === 'ok' ? 'another view' : 'no answer'})`);
      if (others.length > 0) {
        throw new CliError(`the nodes do not all see the same cluster: ${others.join(', ')}`, {
          hint: 'The majority view is the side to keep; check the others with `caxton cluster ping <node>` and `caxton cluster members` against their own API.',
          code: 'CAXTON_CLI_VIEWS_DIFFER',
        });
      }
    });
  cluster
    .command('ping [node]')
    .description('probe a member (or, without a node, every other live member): a direct UDP ping, pings through other members, and a TCP ping, with round-trip times')
    .action(async (node: string | undefined, _opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const ping = (name: string) => ctx.client.post<PingView>(`/cluster/ping/${encodeURIComponent(name)}`, {});
      const ms = (x: number | null) => (x === null ? 'no answer' : `${x.toFixed(2)} ms`);
      const silent = (r: PingView) => r.direct_ms === null && r.tcp_ms === null && r.indirect.every((i) => i.rtt_ms === null);
      if (node !== undefined) {
        const r = await ping(node);
        ctx.print(r, () => {
          const rows: (string | number)[][] = [['direct (UDP)', '-', ms(r.direct_ms)], ...r.indirect.map((i) => ['indirect', i.via, i.nack ? 'nack' : ms(i.rtt_ms)]), ['TCP', '-', ms(r.tcp_ms)]];
          return `${r.node} at ${r.address}\n${renderTable(['PROBE', 'VIA', 'RTT'], rows)}`;
        });
        if (silent(r)) throw new CliError(`${node} did not answer any probe`, { hint: 'It may be down or cut off; `caxton cluster members` shows whether it is suspect or failed.', code: 'CAXTON_CLI_UNREACHABLE_NODE' });
        return;
      }
      const [status, members] = await Promise.all([ctx.client.get<ClusterStatusView>('/cluster/status'), ctx.client.get<ClusterMembersView>('/cluster/members')]);
      const targets = members.members.filter((m) => m.name !== status.node && (m.status === 'alive' || m.status === 'suspect')).map((m) => m.name);
      const results = await Promise.all(targets.map(ping));
      ctx.print(results, () => {
        const best = (r: PingView) => r.indirect.find((i) => i.rtt_ms !== null);
        const rows = results.map((r) => [r.node, r.address, ms(r.direct_ms), best(r) === undefined ? 'no answer' : `${ms(best(r)?.rtt_ms ?? null)} via ${best(r)?.via}`, ms(r.tcp_ms)]);
        return `${renderTable(['NODE-ID', 'ADDRESS', 'DIRECT', 'INDIRECT', 'TCP'], rows)}${results.length} member${results.length === 1 ? '' : 's'} probed\n`;
      });
      const down = results.filter(silent).map((r) => r.node);
      if (down.length > 0) throw new CliError(`${down.join(', ')} did not answer any probe`, { hint: '`caxton cluster members` shows whether they are suspect or failed.', code: 'CAXTON_CLI_UNREACHABLE_NODE' });
    });
  cluster
    .command('add-node <address...>')
    .description('join the cluster of the node(s) at host:port (gossip port, 7946 by default); host is a name or an IP, IPv6 in brackets')
    .action(async (addresses: string[], _opts: unknown, cmd: Command) => {
      const ctx = context(cmd); // first: with -o json, a bad address is printed as JSON too
      addresses.forEach((a, i) => checkAddressArg(a, addressArg(i, addresses.length)));
      let r: JoinView;
      try {
        r = await ctx.client.post<JoinView>('/cluster/join', { addresses });
      } catch (e) {
        throw e instanceof CliError ? inArgumentTerms(e, addresses.length) : e;
      }
      ctx.print(r, () => {
        const skipped = r.skipped.map((x) => `skipped ${x.address}: ${argumentTerms(x.message, addresses.length)}\n`).join('');
        return `${skipped}${ok(`joined: ${r.answered} of ${addresses.length} answered`)}`;
      });
    });
  destructive(cluster.command('leave'))
    .description('drain this node\'s agents, then leave the cluster gracefully (peers see it as left)')
    .addOption(new Option('--drain-timeout <duration>', 'how long agents may take to finish their queues').argParser(durationOption('--drain-timeout')).default(60_000, '60s'))
    .option('--node <name>', 'the node to leave: must be the one behind --api-url')
    .action(async (opts: { drainTimeout: number; node?: string }, cmd: Command) => {
      const ctx = context(cmd);
      if (opts.node !== undefined) {
        const s = await ctx.client.get<ClusterStatusView>('/cluster/status');
        if (s.node !== opts.node) {
          throw new CliError(`--node ${opts.node} is not the node behind ${ctx.connection.apiUrl} (${s.node})`, { hint: `Run it against that node's API: --api-url http://<${opts.node}>:8080`, code: 'CAXTON_CLI_USAGE', exitCode: 2 });
        }
      }
      const r = await ctx.client.post<{ node: string; left: boolean; drained_ms: number; moved?: MoveView[]; stayed?: string[] }>('/cluster/leave', { drain_timeout_ms: opts.drainTimeout }, { timeoutMs: opts.drainTimeout + LONG_CALL_MS });
      ctx.print(r, () => {
        const moved = (r.moved ?? []).filter((m) => m.ok).length;
        const stayed = r.stayed?.length ?? 0;
        return `${renderMoves(r.moved ?? [])}${ok(`${r.node} left the cluster (${moved} agent${moved === 1 ? '' : 's'} handed over; ${stayed} stopped here, back at its next start; ${formatDuration(r.drained_ms)})`)}`;
      });
    });
  registerRollingRestart(cluster);
  registerUpgrade(cluster);
  registerClusterLifecycle(cluster);
  cluster
    .command('watch')
    .description('stream membership events (joins, suspicions, failures, leaves) and agents moving between nodes (failovers, hand-overs, rebalances) (Ctrl-C to stop)')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      for await (const ev of await ctx.client.events('cluster.*')) {
        const e = (typeof ev.data === 'object' && ev.data !== null ? ev.data : {}) as Record<string, unknown>;
        if (ctx.format === 'json') process.stdout.write(`${JSON.stringify(e)}\n`);
        // Agent events carry their runbook line: `[INFO] agent counter moved node-2 → node-3 (failover, epoch 4)`.
        else if (typeof e['text'] === 'string') process.stdout.write(`${String(e['time'])}  ${e['text']}\n`);
        else process.stdout.write(`${String(e['time'])}  ${ev.event.replace('cluster.', '').padEnd(8)}  ${String(e['node'])}  ${String(e['address'])}  incarnation ${String(e['incarnation'])}\n`);
      }
    });
  cluster
    .command('rebalance')
    .description('move agents live (drain, hand the state over, redirect) toward the placement the strategy computes, a bounded number per round')
    .addOption(new Option('--strategy <strategy>', 'least-loaded: shares by free CPU; even-distribution: equal agent counts').choices(['least-loaded', 'even-distribution']).makeOptionMandatory())
    .addOption(new Option('--max-moves <n>', 'live moves per round').argParser(intOption('--max-moves', 1)).default(10))
    .addOption(new Option('--rounds <n>', 'rounds at most, each planned again from what the nodes run').argParser(intOption('--rounds', 1)).default(10))
    .action(async (opts: { strategy: string; maxMoves: number; rounds: number }, cmd: Command) => {
      const ctx = context(cmd);
      const r = await ctx.client.post<RebalanceView>('/cluster/rebalance', { strategy: opts.strategy, max_moves: opts.maxMoves, rounds: opts.rounds }, { timeoutMs: LONG_CALL_MS });
      ctx.print(r, () => {
        const moved = r.moves.filter((m) => m.ok).length;
        const tail = r.remaining === 0 ? 'balanced' : `${r.remaining} move${r.remaining === 1 ? '' : 's'} still planned: run it again`;
        return `${renderMoves(r.moves)}${ok(`${moved} agent${moved === 1 ? '' : 's'} moved in ${r.rounds} round${r.rounds === 1 ? '' : 's'} (${r.strategy}); ${tail}`)}`;
      });
      const failed = r.moves.filter((m) => !m.ok);
      if (failed.length > 0) throw new CliError(`${failed.length} move(s) failed; those agents run where they were`, { hint: 'The table names each reason; `caxton cluster members` shows whether the target is up.', code: 'CAXTON_CLI_MOVES_FAILED' });
    });
  destructive(cluster.command('isolate'))
    .description('take a node out of placement: its agents move live to other nodes, it stays a member (until `cluster rejoin`, across restarts)')
    .requiredOption('--node <name>', 'the node to isolate')
    .action(async (opts: { node: string }, cmd: Command) => {
      const ctx = context(cmd);
      const r = await ctx.client.post<{ node: string; moves: MoveView[] }>('/cluster/isolate', { node: opts.node }, { timeoutMs: LONG_CALL_MS });
      ctx.print(r, () => `${renderMoves(r.moves)}${ok(`${r.node} isolated: out of placement, ${r.moves.filter((m) => m.ok).length} agent(s) moved away`)}`);
      const failed = r.moves.filter((m) => !m.ok);
      if (failed.length > 0) throw new CliError(`${failed.length} agent(s) could not move and still run on ${r.node}`, { hint: 'Run `caxton cluster isolate` again, or `caxton cluster rebalance`, once the targets are up.', code: 'CAXTON_CLI_MOVES_FAILED' });
    });
  cluster
    .command('rejoin')
    .description('put an isolated node back into placement: agents it owns by rank move back to it, live')
    .requiredOption('--node <name>', 'the isolated node')
    .action(async (opts: { node: string }, cmd: Command) => {
      const ctx = context(cmd);
      const r = await ctx.client.post<{ node: string }>('/cluster/rejoin', { node: opts.node }, { timeoutMs: LONG_CALL_MS });
      ctx.print(r, () => ok(`${r.node} rejoined placement; agents it owns move back to it (follow with \`caxton cluster watch\`)`));
    });
  destructive(cluster.command('rebuild'))
    .description('rebuild a node whose data was wiped or found corrupt from its peers: replica data pushed again, lost agents restored from their replicas\' state and moved back')
    .requiredOption('--node <name>', 'the node to rebuild')
    .option('--from-peers', 'rebuild from the peers\' replicas (the only source this version has; required)')
    .action(async (opts: { node: string; fromPeers?: boolean }, cmd: Command) => {
      const ctx = context(cmd);
      if (opts.fromPeers !== true) throw new CliError('cluster rebuild needs --from-peers: the peers\' replicas are the only source this version has', { hint: `caxton cluster rebuild --node ${opts.node} --from-peers`, code: 'CAXTON_CLI_USAGE', exitCode: 2 });
      const r = await ctx.client.post<RebuildView>('/cluster/rebuild', { node: opts.node, from_peers: true }, { timeoutMs: LONG_CALL_MS });
      ctx.print(r, () =>
        `${renderFields([
          ['node', r.node],
          ['restored from replicas', r.restored],
          ['replica data pushed again', r.repushed],
          ['agents moved back', r.moved],
          ['peers silent', r.silent.length === 0 ? '-' : r.silent.join(', ')],
        ])}${r.failed.map((f) => `failed: ${f}\n`).join('')}`,
      );
      if (r.failed.length > 0 || r.silent.length > 0) throw new CliError(`rebuild of ${r.node} is incomplete`, { hint: 'Run it again once the silent peers are back; each step is safe to repeat.', code: 'CAXTON_CLI_REBUILD_INCOMPLETE' });
    });
  destructive(cluster.command('remove'))
    .description('remove a failed node for good: every member marks it left and stops reconnecting to it')
    .requiredOption('--node <name>', 'the failed node')
    .option('--force', 'also erase it from every member list now, instead of keeping it as left (serf force-leave -prune)')
    .action(async (opts: { node: string; force?: boolean }, cmd: Command) => {
      const ctx = context(cmd);
      const r = await ctx.client.delete<{ node: string; pruned: boolean; was: string }>(`/cluster/members/${encodeURIComponent(opts.node)}`, opts.force === true ? { prune: 'true' } : undefined);
      ctx.print(r, () => ok(`${r.node} (${r.was}) removed from the cluster${r.pruned ? ' and erased from every member list' : '; members list it as left'}`));
    });

  const keys = cluster.command('keys').description('gossip encryption keys across the cluster: rotate with install, use, then remove');
  keys
    .command('list')
    .description('every key any member holds (as a fingerprint), with how many members hold it and use it as primary')
    .addOption(queryTimeoutOption())
    .action(async (opts: { timeout?: number }, cmd: Command) => {
      const ctx = context(cmd);
      const r = await ctx.client.get<KeyView>('/cluster/keys', timeoutQuery(opts.timeout), { timeoutMs: (opts.timeout ?? 60_000) + 30_000 });
      ctx.print(r, () => renderKeyView(r));
    });
  for (const [op, what] of [
    ['install', 'add a key to every member\'s keyring (step 1 of a rotation)'],
    ['use', 'make an installed key the primary on every member (step 2)'],
    ['remove', 'remove a key from every member (step 3, for the old key)'],
  ] as const) {
    const step = keys.command(`${op} <key>`);
    // `use` makes a key primary: members without it stop understanding this node; `remove` drops one.
    if (op !== 'install') destructive(step);
    step
      .description(`${what}; <key> is base64 of 16, 24 or 32 bytes, or - to read it from stdin`)
      .addOption(queryTimeoutOption())
      .action(async (key: string, opts: { timeout?: number }, cmd: Command) => {
        const ctx = context(cmd);
        const value = key === '-' ? (await readStdin()).trim() : key;
        const body = { key: value, ...(opts.timeout === undefined ? {} : { timeout_ms: opts.timeout }) };
        const r = await ctx.client.post<KeyView & { fingerprint: string }>(`/cluster/keys/${op}`, body, { timeoutMs: (opts.timeout ?? 60_000) + 30_000 });
        ctx.print(r, () => ok(`${op}: key ${r.fingerprint} on ${r.responses}/${r.nodes} members`));
      });
  }
  cluster
    .command('verify-auth')
    .description('check that every member holds the same gossip keys and primary key; exits 1 on a mismatch')
    .addOption(queryTimeoutOption())
    .action(async (opts: { timeout?: number }, cmd: Command) => {
      const ctx = context(cmd);
      const r = await ctx.client.get<VerifyAuthView>('/cluster/verify-auth', timeoutQuery(opts.timeout), { timeoutMs: (opts.timeout ?? 60_000) + 30_000 });
      ctx.print(r, () => {
        const fields: [string, string | number][] = [
          ['result', r.ok ? 'OK: every member holds the same keys' : 'MISMATCH'],
          ['encryption', r.encrypted ? 'on' : 'off'],
          ['members', `${r.responses}/${r.nodes} answered`],
          ['primary key', r.primary ?? '-'],
          ['keys', r.keys.length === 0 ? '-' : r.keys.join(', ')],
        ];
        return `${renderFields(fields)}${[...r.problems.map((p) => `problem: ${p}\n`), ...r.warnings.map((w) => `warning: ${w}\n`)].join('')}`;
      });
      if (!r.ok) {
        throw new CliError(`gossip keys do not match across the cluster: ${r.problems.join('; ')}`, { hint: 'Rotate with `caxton cluster keys install|use|remove`, or fix the keys in the failing nodes\' config and restart them.', code: 'CAXTON_CLI_AUTH_MISMATCH' });
      }
    });
}

/** How long the CLI waits for a command that moves agents (each drains, then hands its state over). */
const LONG_CALL_MS = 30 * 60_000;

interface MoveView {
  readonly agent: string;
  readonly from: string;
  readonly to: string;
  readonly ok: boolean;
  readonly epoch: number | null;
  readonly pause_ms: number | null;
  readonly error: string | null;
}

interface RebalanceView {
  readonly strategy: string;
  readonly rounds: number;
  readonly moves: readonly MoveView[];
  readonly remaining: number;
}

interface RebuildView {
  readonly node: string;
  readonly restored: number;
  readonly repushed: number;
  readonly moved: number;
  readonly failed: readonly string[];
  readonly silent: readonly string[];
}

function renderMoves(moves: readonly MoveView[]): string {
  if (moves.length === 0) return '';
  const rows = moves.map((m) => [m.agent, m.from, m.to, m.epoch ?? '-', m.pause_ms === null ? '-' : `${m.pause_ms} ms`, m.ok ? 'moved' : `failed: ${m.error ?? ''}`]);
  return renderTable(['AGENT', 'FROM', 'TO', 'EPOCH', 'PAUSE', 'RESULT'], rows);
}

interface KeyView {
  readonly nodes: number;
  readonly responses: number;
  readonly errors: number;
  readonly messages: Readonly<Record<string, string>>;
  readonly keys: readonly { fingerprint: string; nodes: number }[];
  readonly primary_keys: readonly { fingerprint: string; nodes: number }[];
}

interface VerifyAuthView {
  readonly ok: boolean;
  readonly encrypted: boolean;
  readonly nodes: number;
  readonly responses: number;
  readonly primary: string | null;
  readonly keys: readonly string[];
  readonly problems: readonly string[];
  readonly warnings: readonly string[];
}

function renderKeyView(r: KeyView): string {
  const primary = new Map(r.primary_keys.map((k) => [k.fingerprint, k.nodes]));
  const rows = r.keys.map((k) => [k.fingerprint, `${k.nodes}/${r.responses}`, primary.get(k.fingerprint) ?? 0]);
  const errors = Object.entries(r.messages).map(([node, msg]) => `${node}: ${msg}\n`).join('');
  return `${renderTable(['KEY (SHA-256 PREFIX)', 'INSTALLED', 'PRIMARY ON'], rows)}${r.responses}/${r.nodes} members answered\n${errors}`;
}

function queryTimeoutOption(): Option {
  return new Option('--timeout <duration>', 'how long to wait for every member to answer (default: scales with the cluster size, 3.2 s up to 10 nodes on lan)').argParser(durationOption('--timeout'));
}

function timeoutQuery(ms: number | undefined): Record<string, string> | undefined {
  return ms === undefined ? undefined : { timeout_ms: String(ms) };
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

const STATUS_TEXT: Readonly<Record<PerformanceRowView['status'], string>> = { ok: '✓ OK', degraded: '✗ DEGRADED', no_data: '- no data', 'n/a': '- n/a' };

function performanceFigure(m: PerformanceRowView, value: number): string {
  return m.unit === 'per_second' ? formatRate(value) : formatLatency(value * 1000);
}

/** The runbook's table; with several nodes, a NODE column and one group of rows per node. */
function renderPerformance(v: PerformanceView): string {
  const several = v.per_node.length > 1 || v.missing.length > 0;
  const rows = v.per_node.flatMap((n) =>
    n.metrics.map((m) => {
      const actual = m.actual === null ? (m.status === 'n/a' ? 'n/a' : '-') : `${performanceFigure(m, m.actual)}${m.basis === 'expected' ? ' (expected)' : ''}`;
      const cells = [m.metric, performanceFigure(m, m.target), actual, STATUS_TEXT[m.status]];
      return several ? [n.node, ...cells] : cells;
    }),
  );
  const head = ['METRIC', 'TARGET', 'ACTUAL', 'STATUS'];
  return renderTable(several ? ['NODE', ...head] : head, rows) + missingLines(v);
}

const VERIFY_STATUS: Readonly<Record<VerifyView['rows'][number]['status'], string>> = { ok: 'ok', drift: 'DRIFT', unreachable: 'UNREACHABLE' };

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** The runbook's lines for what `cluster verify` found: `ERROR: node-2 state corruption detected: ...`, or one OK line. */
export function verifyFindings(v: VerifyView): string[] {
  const lines: string[] = [];
  for (const r of v.rows) {
    if (r.status === 'unreachable') {
      lines.push(`ERROR: ${r.node} did not answer: ${r.error ?? 'no reason given'}`);
      continue;
    }
    if (r.mismatched === 0 && (r.conflicting ?? 0) === 0) continue;
    const what: string[] = [];
    if (r.mismatched > 0) {
      if (v.deep) {
        what.push(`directory entries missing ${r.missing ?? 0}, stale ${r.stale ?? 0}, extra ${r.extra ?? 0} (from ${plural(r.mismatched, 'authority', 'authorities')})`);
      } else {
        what.push(`directory entries differ from ${plural(r.mismatched, 'authority', 'authorities')} (--deep counts them)`);
      }
    }
    if ((r.conflicting ?? 0) > 0) what.push(`${plural(r.conflicting ?? 0, 'agent')} it hosts also ${(r.conflicting ?? 0) === 1 ? 'runs' : 'run'} elsewhere`);
    lines.push(`ERROR: ${r.node} state corruption detected: ${what.join('; ')}`);
  }
  for (const c of v.conflicts) lines.push(`ERROR: agent ${c.agent} runs on ${c.nodes.join(' and ')} (conflicting owners)`);
  if (lines.length === 0) {
    const n = v.rows.length;
    lines.push(`OK: ${plural(n, 'node')} verified, no drift (${v.deep ? 'every directory entry and hosted agent compared' : 'directory digests compared; --deep compares entry by entry'})`);
  }
  return lines;
}

/** `cluster verify`: a row per node (NODE STATUS HOSTED HELD MISMATCHED, and with --deep MISSING STALE EXTRA CONFLICTING), then the findings. */
export function renderVerify(v: VerifyView): string {
  const head = ['NODE', 'STATUS', 'HOSTED', 'HELD', 'MISMATCHED', ...(v.deep ? ['MISSING', 'STALE', 'EXTRA', 'CONFLICTING'] : [])];
  const rows = v.rows.map((r) => {
    const reached = r.status !== 'unreachable';
    const n = (x: number | undefined) => (reached ? (x ?? 0) : '-');
    return [r.node, VERIFY_STATUS[r.status], n(r.hosted), n(r.held), n(r.mismatched), ...(v.deep ? [n(r.missing), n(r.stale), n(r.extra), n(r.conflicting)] : [])];
  });
  return `${renderTable(head, rows)}${verifyFindings(v).map((l) => `${l}\n`).join('')}`;
}

/** `cluster compare-state`: NODE STATUS MEMBERS VIEW MAJORITY HOSTED HELD, then which side most nodes are on. */
export function renderCompareState(v: CompareStateView): string {
  const rows = v.nodes.map((n) => [
    n.node,
    n.status === 'ok' ? 'ok' : 'UNREACHABLE',
    n.alive ?? '-',
    n.view_digest ?? '-',
    n.majority_view === null ? '-' : n.majority_view ? 'yes' : 'NO',
    n.hosted ?? '-',
    n.held ?? '-',
  ]);
  const lines: string[] = [];
  const views = new Set(v.nodes.filter((n) => n.view_digest !== null).map((n) => n.view_digest));
  const silent = v.nodes.filter((n) => n.status !== 'ok');
  if (views.size <= 1 && silent.length === 0) {
    const first = v.nodes[0];
    lines.push(`OK: ${plural(v.nodes.length, 'node')} see the same ${plural(first?.alive ?? 0, 'member')} (view ${first?.view_digest ?? '-'})`);
  } else {
    if (views.size > 1) {
      lines.push(`WARNING: the nodes see ${views.size} different clusters; the majority view is held by ${v.majority.join(', ') || 'no node'}`);
      for (const n of v.nodes) if (n.majority_view === false) lines.push(`WARNING: ${n.node} sees another cluster (${plural(n.alive ?? 0, 'member')}, view ${n.view_digest ?? '-'})`);
    }
    for (const n of silent) lines.push(`ERROR: ${n.node} did not answer: ${n.error ?? 'no reason given'}`);
  }
  return `${renderTable(['NODE', 'STATUS', 'MEMBERS', 'VIEW', 'MAJORITY', 'HOSTED', 'HELD'], rows)}${lines.map((l) => `${l}\n`).join('')}`;
}
