/**
 * A deploy whose owner (src/agents/placement.ts) is another node: the node that took the request
 * forwards it to the owner (`deploy.forward`, carrying the deployment and its module's sha256, not the
 * bytes); the owner fetches the module from that node by hash (./module-fetch.ts), verifies it, deploys
 * it with its own Deployments (admission, durable record, start), and answers with the agent's view.
 * The module crosses once, in bounded chunks, and only if the owner does not hold it already.
 */
import { CaxtonError } from '../errors.js';
import { AGENT_NAME_PATTERN } from '../messaging/message-schema.js';
import type { NodeName, PeerBody, Peers } from '../cluster/peers.js';
import type { AgentPriority } from '../storage/index.js';
import { PRIORITIES, type DeployedAgent, type Deployments } from './deployments.js';
import { fetchModule, sha256Hex, type FetchOptions, type ModuleServer } from './module-fetch.js';

export const DEPLOY_FORWARD = 'deploy.forward';

/** A forwarded deploy takes as long as a local one (admission of a large module: seconds). @default 180 s */
export const FORWARD_TIMEOUT_MS = 180_000;

/** The body of `deploy.forward`. */
export interface ForwardedDeploy {
  readonly name: string;
  /** sha256 of the module bytes, hex: fetched from the forwarding node. */
  readonly module: string;
  readonly config: Record<string, unknown>;
  readonly priority: AgentPriority;
  readonly start: boolean;
  /** Deployed with target_node: the owner keeps itself as the agent's pin. */
  readonly pinned?: boolean;
}

const NAME = new RegExp(AGENT_NAME_PATTERN);
const HASH = /^[0-9a-f]{64}$/;

/** The forwarded deploy in a body, or why it is refused. */
export function parseForwardedDeploy(body: PeerBody): ForwardedDeploy | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || body instanceof Uint8Array) return 'body is not an object';
  const b = body as Record<string, unknown>;
  if (typeof b['name'] !== 'string' || b['name'].length > 255 || !NAME.test(b['name'])) return 'name is not an agent name';
  if (typeof b['module'] !== 'string' || !HASH.test(b['module'])) return 'module must be the sha256 of the module, 64 lowercase hex digits';
  const config = b['config'];
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return 'config must be an object';
  if (typeof b['priority'] !== 'string' || !(PRIORITIES as readonly string[]).includes(b['priority'])) return `priority must be one of ${PRIORITIES.join(', ')}`;
  if (typeof b['start'] !== 'boolean') return 'start must be true or false';
  if (b['pinned'] !== undefined && typeof b['pinned'] !== 'boolean') return 'pinned must be true or false';
  return { name: b['name'], module: b['module'], config: config as Record<string, unknown>, priority: b['priority'] as AgentPriority, start: b['start'], ...(b['pinned'] === true ? { pinned: true } : {}) };
}

export interface RemoteDeployLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ServeOptions {
  /** The answer: the deployed agent as the API shows it (src/api/views.ts agentView). */
  readonly view: (a: DeployedAgent) => unknown;
  readonly logger: RemoteDeployLogger;
  readonly fetch?: FetchOptions;
  /** Waits until every node can route to the new agent (the directory holds its entry), bounded. */
  readonly routable?: (name: string) => Promise<unknown>;
}

/** Answers `deploy.forward` on the owner: fetch the module by hash from the caller, verify, deploy. */
export function serveForwardedDeploys(peers: Peers, deployments: Deployments, o: ServeOptions): void {
  peers.onCall(DEPLOY_FORWARD, async (from: NodeName, body: PeerBody) => {
    const d = parseForwardedDeploy(body);
    if (typeof d === 'string') {
      o.logger.warn({ from, reason: d }, 'refused a forwarded deploy from a peer');
      throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', `${DEPLOY_FORWARD}: ${d}`, { node: from });
    }
    // The bytes this node already keeps (an earlier deploy of the same module) save the transfer.
    const bytes =
      deployments.store.module(d.module) ??
      (await fetchModule(peers, d.module, [from], { ...o.fetch, onPeerFailed: (node, e) => o.logger.warn({ node, agent: d.name, code: e.code, err: e.message }, 'could not fetch a module from a peer') }));
    const a = await deployments.deploy({ name: d.name, module: bytes, config: d.config, priority: d.priority, start: d.start, ...(d.pinned === true ? { pin: peers.self } : {}) });
    await o.routable?.(d.name);
    o.logger.info({ agent: d.name, module: d.module, from }, 'agent deployed for another node');
    return o.view(a);
  });
}

/** What a deploy needs, as the API received it. */
export interface DeployToForward {
  readonly name: string;
  readonly module: Uint8Array;
  readonly config: Record<string, unknown>;
  readonly priority: AgentPriority;
  readonly start: boolean;
  /** Placed with target_node: the owner pins the agent to itself. */
  readonly pinned?: boolean;
}

/**
 * Forwards a deploy to `owner`: offers the module bytes by hash for the time of the call, so the
 * owner can fetch them, and resolves with the owner's answer (the agent's view). Rejects with the
 * owner's error (its code and message: a bad module, a name taken there) or the link's.
 */
export async function forwardDeploy(peers: Peers, server: ModuleServer, owner: NodeName, req: DeployToForward, timeoutMs = FORWARD_TIMEOUT_MS): Promise<unknown> {
  const hash = await sha256Hex(req.module);
  const withdraw = server.offer(hash, req.module);
  try {
    const body: ForwardedDeploy = { name: req.name, module: hash, config: req.config, priority: req.priority, start: req.start, ...(req.pinned === true ? { pinned: true } : {}) };
    return await peers.call(owner, DEPLOY_FORWARD, body, { timeoutMs });
  } finally {
    withdraw();
  }
}
