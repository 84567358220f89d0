/**
 * The node's services that talk to other nodes through `Peers` for keys and deployments, wired in one
 * place so that node.ts adds one call: cluster-wide API keys (./key-sync.ts), serving modules by hash
 * (src/agents/module-fetch.ts), answering forwarded deploys and forwarding them
 * (src/agents/remote-deploy.ts), the placement the API's deploy route asks (src/agents/placement.ts), and
 * the revocation list (./revocation-sync.ts).
 */
import type { ApiKeyStore } from '../storage/index.js';
import type { DeployedAgent, Deployments } from '../agents/deployments.js';
import { ModuleServer } from '../agents/module-fetch.js';
import { placeAgent, type PlacementMember } from '../agents/placement.js';
import { forwardDeploy, serveForwardedDeploys } from '../agents/remote-deploy.js';
import type { DeployPlacement } from '../api/context.js';
import { KeySync } from './key-sync.js';
import type { Revocations } from './revocation-sync.js';
import type { Peers } from './peers.js';

export interface PeerServicesLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface PeerServicesOptions {
  readonly peers: Peers;
  /** Every member this node knows, this node included, with status and tags (Cluster.members() fits). */
  readonly members: () => readonly PlacementMember[];
  readonly keys: ApiKeyStore;
  readonly deployments: Deployments;
  /** The API's view of an agent, the answer to a forwarded deploy. */
  readonly view: (a: DeployedAgent) => unknown;
  readonly logger: PeerServicesLogger;
  /** Largest module fetched from a peer, bytes (api.max_module_bytes). */
  readonly maxModuleBytes?: number;
  /** Anti-entropy period of the keys, ms. */
  readonly keySyncIntervalMs?: number;
  /** Waits (bounded) until every node can route to an agent just deployed here. @default resolves at once */
  readonly routable?: (name: string) => Promise<unknown>;
  /** Revoked certificates, spread to the members and pushed whole to a joining one (./revocation-sync.ts). */
  readonly revocations?: Revocations;
}

export interface PeerServices {
  readonly keySync: KeySync;
  readonly modules: ModuleServer;
  readonly placement: DeployPlacement;
  /** A member joined (or came back): exchange keys with it at once rather than at a random round. */
  memberJoined(name: string): void;
  stop(): void;
}

export function startPeerServices(o: PeerServicesOptions): PeerServices {
  const self = o.peers.self;
  // Keys go to the members that run Caxton and are alive; a serf agent in the cluster has no keys.
  const alive = () => o.members().filter((m) => m.name !== self && m.status === 'alive' && m.tags['role'] === 'caxton').map((m) => m.name);
  const keySync = new KeySync({ peers: o.peers, store: o.keys, members: alive, logger: o.logger, ...(o.keySyncIntervalMs === undefined ? {} : { intervalMs: o.keySyncIntervalMs }) });
  keySync.start();
  o.revocations?.attach(o.peers, alive);
  // A node (re)starting catches up at once, not at its first round (its admin key was written before).
  void keySync.round();
  const modules = new ModuleServer(o.peers, o.deployments.store);
  const routable = o.routable ?? (() => Promise.resolve());
  serveForwardedDeploys(o.peers, o.deployments, { view: o.view, logger: o.logger, routable, ...(o.maxModuleBytes === undefined ? {} : { fetch: { maxBytes: o.maxModuleBytes } }) });
  const placement: DeployPlacement = {
    owner: (agent, options) => placeAgent(agent, o.members(), options),
    forward: (owner, req) => forwardDeploy(o.peers, modules, owner, req),
    routable,
  };
  return {
    keySync,
    modules,
    placement,
    memberJoined(name) {
      if (name === self) return;
      keySync.syncWith(name).catch((e: unknown) => o.logger.debug({ peer: name, err: (e as Error).message }, 'API key exchange with a joining member failed; anti-entropy retries'));
      o.revocations?.pushTo(name);
    },
    stop() {
      keySync.stop();
    },
  };
}
