/** `caxton cluster members|status`: the cluster as the node behind the API sees it. */
import type { Command } from 'commander';
import { context } from '../context.js';
import { CliError } from '../errors.js';
import { formatDuration, renderFields, renderTable } from '../output.js';

interface ClusterMembersView {
  readonly enabled: boolean;
  readonly members: readonly { name: string; status: string; address: string; incarnation: number; since: string; agents: number | null; tags: Record<string, string> }[];
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
}

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('cluster membership (SWIM, serf-compatible)');
  cluster
    .command('members')
    .description('every member: NODE-ID, STATUS (alive/suspect/failed/left), ADDRESS, LAST-SEEN, AGENTS')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const v = await ctx.client.get<ClusterMembersView>('/cluster/members');
      ctx.print(v, () => {
        const now = Date.now();
        const rows = v.members.map((m) => [m.name, m.status, m.address, m.status === 'alive' ? 'now' : `${formatDuration(now - Date.parse(m.since))} ago`, m.agents ?? '-']);
        const foot = `${v.members.length} member${v.members.length === 1 ? '' : 's'}${v.enabled ? '' : ' (single node: clustering is off; start with --bootstrap or --join)'}\n`;
        return `${renderTable(['NODE-ID', 'STATUS', 'ADDRESS', 'LAST-SEEN', 'AGENTS'], rows)}${foot}`;
      });
    });
  cluster
    .command('status')
    .description('nodes alive out of expected; exits 1 when fewer are alive than expected')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const s = await ctx.client.get<ClusterStatusView>('/cluster/status');
      ctx.print(s, () =>
        renderFields([
          ['node', s.node],
          ['clustering', s.enabled ? 'on' : 'off (single node)'],
          ['nodes', `${s.alive}/${s.expected} alive`],
          ['suspect', s.suspect],
          ['failed', s.failed],
          ['left', s.left],
          ['health', s.healthy ? 'healthy' : 'DEGRADED'],
        ]),
      );
      if (!s.healthy) {
        throw new CliError(`${s.alive} of ${s.expected} expected nodes are alive`, { hint: 'See which with `caxton cluster members`.', code: 'CAXTON_CLI_CLUSTER_DEGRADED' });
      }
    });
}
