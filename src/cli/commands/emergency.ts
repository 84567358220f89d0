/**
 * `caxton emergency stop`: the runbook's "Emergency Stop", on every node of the cluster.
 * - `--all-agents` (the default): every agent on every node stops at once, no drain; they stay
 *   stopped across restarts until `caxton agent restart`.
 * - `--cluster`: every agent, then the nodes themselves: each `caxton server start` process leaves
 *   the cluster and exits with status 0, without a drain (docs/operations.md, "Emergency procedures").
 * - `--preserve-state [--dump-to DIR]`: first each node copies its database into DIR on its own machine.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { MissingNodeView } from '../api-types.js';
import { context } from '../context.js';
import { CliError, usageError } from '../errors.js';
import { countFooter, renderTable } from '../output.js';
import { withSpinner } from '../progress.js';
import { destructive } from '../destructive.js';
import { failIfMissing, missingLines } from './common.js';

interface EmergencyNodeView {
  node: string;
  stopped: string[];
  failed: { agent: string; reason: string }[];
  dump: string | null;
  node_stopping?: boolean;
}

/** POST /emergency/stop: a node alone answers `stopped` (and `dump`); a cluster adds `nodes` and `missing`. */
interface EmergencyView {
  stopped: string[];
  dump?: string;
  node_stopping?: boolean;
  nodes?: EmergencyNodeView[];
  missing?: MissingNodeView[];
}

export function registerEmergency(program: Command): void {
  const emergency = program.command('emergency').description('emergency procedures');
  destructive(emergency.command('stop'))
    .description('stop every agent on every node immediately (no drain); they stay stopped across restarts until `caxton agent restart`. --cluster also stops the nodes')
    .option('--all-agents', 'every agent on every node (the default; the flag is accepted for the runbook\'s form)')
    .option('--cluster', 'stop the entire cluster: every agent, then every node process exits (status 0, no drain); start them again with `caxton server start` / `systemctl start caxton`')
    .option('--preserve-state', 'first each node saves a copy of its database (agents, their state, outbox) to <data-dir>/emergency')
    .option('--dump-to <dir>', 'save those copies into this directory, on each node\'s own machine (implies --preserve-state)')
    .option('--node <name>', 'only this node\'s agents (not with --cluster)')
    .action(async (opts: { allAgents?: boolean; cluster?: boolean; preserveState?: boolean; dumpTo?: string; node?: string }, cmd: Command) => {
      if (opts.cluster === true && opts.node !== undefined) throw usageError('--cluster stops every node: give --cluster or --node <name>, not both');
      const ctx = context(cmd);
      const body = {
        preserve_state: opts.preserveState === true,
        ...(opts.dumpTo === undefined ? {} : { dump_to: resolve(opts.dumpTo) }),
        ...(opts.cluster === true ? { cluster: true } : {}),
        ...(opts.node === undefined ? {} : { node: opts.node }),
      };
      const what = opts.cluster === true ? 'stopping every agent, then every node…' : 'stopping every agent…';
      const r = await withSpinner(what, () => ctx.client.post<EmergencyView>('/emergency/stop', body, { timeoutMs: 300_000 }));
      ctx.print(r, () => (r.nodes === undefined ? renderSingle(r) : renderCluster(r, r.nodes, opts.cluster === true)));
      failIfMissing({ missing: r.missing ?? [] }, opts.cluster === true ? 'stop' : 'stop their agents');
      const failed = (r.nodes ?? []).flatMap((n) => n.failed.map((f) => `${f.agent} on ${n.node} (${f.reason})`));
      if (failed.length > 0) {
        throw new CliError(`${failed.length} agent(s) did not stop: ${failed.join(', ')}`, { hint: 'Stop them one by one with `caxton agent stop <name>`.', code: 'CAXTON_CLI_PARTIAL' });
      }
    });
}

function renderSingle(r: EmergencyView): string {
  return (r.stopped.length === 0 ? '' : renderTable(['AGENT', 'STATE'], r.stopped.map((n) => [n, 'stopped']))) +
    `${countFooter(r.stopped.length, 'agent')} stopped; restart one with \`caxton agent restart <name>\`\n` +
    (r.dump === undefined ? '' : `state saved to ${r.dump}\n`) +
    (r.node_stopping === true ? 'the node is stopping (no drain); start it again with `caxton server start`\n' : '');
}

/** The runbook's table: one row per node, what stopped there and where its state copy is. */
function renderCluster(r: EmergencyView, nodes: readonly EmergencyNodeView[], cluster: boolean): string {
  const head = ['NODE', 'AGENTS STOPPED', 'FAILED', ...(nodes.some((n) => n.dump !== null) ? ['STATE COPY'] : []), ...(cluster ? ['NODE STATE'] : [])];
  const withDump = head.includes('STATE COPY');
  const rows = nodes.map((n) => [
    n.node,
    String(n.stopped.length),
    String(n.failed.length),
    ...(withDump ? [n.dump ?? '-'] : []),
    ...(cluster ? [n.node_stopping === true ? 'stopping' : 'not told to stop'] : []),
  ]);
  const tail = cluster
    ? 'the nodes are stopping (no drain): start each with `caxton server start` (or `systemctl start caxton`); the agents stay stopped until `caxton agent restart`\n'
    : 'restart an agent with `caxton agent restart <name>`\n';
  return renderTable(head, rows) + `${countFooter(r.stopped.length, 'agent')} stopped on ${countFooter(nodes.length, 'node')}; ${tail}` + missingLines({ missing: r.missing ?? [] });
}
