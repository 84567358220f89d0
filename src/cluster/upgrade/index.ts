/** Cluster upgrades (`caxton cluster upgrade`): what node.ts builds, in one call. */
import type { Registry } from 'prom-client';
import type { ViewMember } from '../../api/cluster-views.js';
import type { Logger } from '../../observability/logger.js';
import type { NodeRestart } from '../node-restart.js';
import type { Peers } from '../peers.js';
import { UpgradeCoordinator, type AgentRow, type ProbeAnswer } from './coordinator.js';
import { nodeHealth } from './health.js';
import { installedReleases } from './releases.js';
import { UpgradeStore } from './store.js';

export { UpgradeCoordinator, type UpgradeView, type UpgradeRequest } from './coordinator.js';

export interface NodeUpgradesOptions {
  readonly self: string;
  readonly version: string;
  readonly startedAt: number;
  readonly dataDir: string;
  /** The supervisor's releases directory; absent: no supervisor. */
  readonly releasesDir: string | undefined;
  readonly peers: Peers | undefined;
  readonly members: () => readonly ViewMember[];
  readonly restart: NodeRestart;
  readonly registry: Registry;
  readonly agents: () => Promise<{ readonly agents: readonly Record<string, unknown>[]; readonly missing?: readonly unknown[] }>;
  readonly logger: Logger;
}

export function nodeUpgrades(o: NodeUpgradesOptions): UpgradeCoordinator {
  const probe = async (): Promise<ProbeAnswer> => ({
    node: o.self,
    version: o.version,
    started_at: new Date(o.startedAt).toISOString(),
    releases_dir: o.releasesDir ?? null,
    installed: o.releasesDir === undefined ? [] : installedReleases(o.releasesDir),
    health: await nodeHealth(o.registry),
  });
  // A node without a cluster is its own only member.
  const self: ViewMember = { name: o.self, status: 'alive', tags: { role: 'caxton', version: o.version } };
  const members = () => {
    const all = o.members();
    return all.some((m) => m.name === o.self) ? all : [self, ...all];
  };
  const agents = async () => {
    const list = await o.agents();
    const rows = list.agents.map((a): AgentRow => ({ name: String(a['name']), state: String(a['state']), ...(typeof a['node'] === 'string' ? { node: a['node'] } : {}) }));
    return { agents: rows, missing: list.missing ?? [] };
  };
  return new UpgradeCoordinator({ self: o.self, peers: o.peers, members, restart: o.restart, store: new UpgradeStore(o.dataDir), probe, agents, logger: o.logger });
}
