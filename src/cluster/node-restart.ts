/**
 * `POST /server/restart` and `caxton cluster rolling-restart` (docs/operations.md, "Rolling restart"):
 * a node restarts itself in place. It hands its agents over live (as `cluster leave` does), then
 * the process that owns its lifetime (src/cli/server.ts) stops it, re-reads the configuration file
 * and starts a new node on the same data dir and addresses, which rejoins through its seeds (or, with
 * none configured, the members it had) and gets its agents back by the normal join moves.
 */
import { CaxtonError } from '../errors.js';
import { formatAddress, type Address } from '../config/address.js';
import type { Logger } from '../observability/logger.js';
import type { NodeName, PeerBody, Peers } from './peers.js';
import type { ViewMember } from '../api/cluster-views.js';
import { normalizeVersion, releaseProblem } from './upgrade/releases.js';

/** Call methods; only append (other nodes call them by name). */
export const RESTART_METHODS = { restart: 'server.restart' } as const;

/** What the owner of the node's lifetime does once the agents are handed over. */
export interface RestartRequest {
  readonly reason: string;
  /** The other members' gossip addresses when the request came, to rejoin through. */
  readonly peers: readonly Address[];
  /** Start this installed release instead (`caxton cluster upgrade`, through the supervisor). */
  readonly version?: string;
}

export interface RestartAnswer {
  readonly node: NodeName;
  readonly reason: string;
  /** When the node that is restarting started, ISO: the restarted one reports a later time. */
  readonly started_at: string;
}

export interface NodeRestartOptions {
  readonly self: NodeName;
  readonly startedAt: number;
  readonly logger: Logger;
  readonly peers: Peers | undefined;
  readonly members: () => readonly (ViewMember & { readonly host: string; readonly port: number })[];
  /** Moves this node's agents live to the other nodes (ClusterAgents.handOver); absent outside a cluster. */
  readonly handOver: (() => Promise<unknown>) | undefined;
  /** The lifetime owner's restart; absent: this node cannot restart itself (embedded use, tests). */
  readonly restart: ((r: RestartRequest) => void) | undefined;
  /** The releases directory of the supervisor this node runs under; absent: it cannot change release. */
  readonly releasesDir?: string | undefined;
}

export class NodeRestart {
  readonly #o: NodeRestartOptions;
  #pending = false;

  constructor(o: NodeRestartOptions) {
    this.#o = o;
    o.peers?.onCall(RESTART_METHODS.restart, (_from, body) => this.#local(reasonOf(body), versionOf(body)));
  }

  /** Asks `node` (this one by default) to restart, on release `version` if given; answers before the restart begins. */
  async request(reason: string, node: NodeName = this.#o.self, version?: string): Promise<RestartAnswer> {
    if (node === this.#o.self) return this.#local(reason, version);
    const m = this.#o.members().find((x) => x.name === node && x.tags['role'] === 'caxton');
    if (m === undefined || this.#o.peers === undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_UNKNOWN_NODE', `no Caxton node named ${node} in the cluster`, { node });
    return this.#o.peers.call<RestartAnswer>(node, RESTART_METHODS.restart, version === undefined ? { reason } : { reason, version }, { timeoutMs: 10_000 });
  }

  #local(reason: string, version?: string): RestartAnswer {
    const restart = this.#o.restart;
    if (restart === undefined) {
      throw new CaxtonError('CAXTON_ERR_RESTART_UNAVAILABLE', `node ${this.#o.self} cannot restart itself: it does not run under \`caxton server start\``, { node: this.#o.self });
    }
    if (this.#pending) throw new CaxtonError('CAXTON_ERR_RESTART_UNAVAILABLE', `node ${this.#o.self} is already restarting`, { node: this.#o.self });
    // Before anything is handed over: a release that cannot start would leave the node down.
    if (version !== undefined) checkSwitch(this.#o.self, this.#o.releasesDir, version);
    this.#pending = true;
    const peers = this.#o
      .members()
      .filter((m) => m.name !== this.#o.self && (m.status === 'alive' || m.status === 'suspect'))
      .map((m): Address => ({ host: m.host, port: m.port }));
    this.#o.logger.warn({ reason, peers: peers.map(formatAddress) }, 'restart requested: handing the agents over, then restarting in place');
    // After the answer has gone: the caller learns that the restart began, not how it ends.
    setTimeout(() => {
      void (async () => {
        await this.#o.handOver?.().catch((e: unknown) => this.#o.logger.warn({ err: e }, 'hand-over before the restart failed; the agents stop with the node and come back after it'));
        restart({ reason, peers, ...(version === undefined ? {} : { version }) });
      })();
    }, 50);
    return { node: this.#o.self, reason, started_at: new Date(this.#o.startedAt).toISOString() };
  }
}

function checkSwitch(self: NodeName, releasesDir: string | undefined, version: string): void {
  if (releasesDir === undefined) {
    throw new CaxtonError('CAXTON_ERR_CLUSTER_UPGRADE_UNAVAILABLE', `node ${self} cannot change release: it does not run under a supervisor (start it with \`caxton server start --releases DIR\`)`, { node: self });
  }
  const problem = releaseProblem(releasesDir, version);
  if (problem !== undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_UPGRADE_RELEASE_MISSING', `node ${self} has no release ${version}: ${problem}`, { node: self, version });
}

function versionOf(body: PeerBody): string | undefined {
  const v = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['version'] : undefined;
  return v === undefined ? undefined : normalizeVersion(String(v));
}

function reasonOf(body: PeerBody): string {
  const r = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['reason'] : undefined;
  if (typeof r !== 'string' || r === '') throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', 'server.restart: reason must be a non-empty text');
  return r;
}
