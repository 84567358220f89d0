/**
 * "Do X on every node and report per node", for the cluster-wide operations (emergency stop, memory
 * gc, suspend by priority, circuit breakers, the error cascade, the debug dump): this node does X
 * itself and asks every other up Caxton member to do it through a peer call (fan-out.ts: a timeout
 * per node, bounded concurrency, a deadline for the whole). Nothing is dropped silently: a node that
 * did not answer (or failed doing X) is in `missing` with the reason, a member the cluster declared
 * failed is listed there without being asked. With `node` only that node does X.
 */
import { CaxtonError, isCaxtonError } from '../errors.js';
import type { ViewMember } from '../api/cluster-views.js';
import { fanOut, type FanOutOptions, type FanOutResult, type MissingNode } from './fan-out.js';
import type { NodeName, PeerBody, Peers } from './peers.js';

export interface EveryNodeScope {
  readonly self: NodeName;
  /** Without peers the node is alone: only its own name is known. */
  readonly peers: Peers | undefined;
  /** Every member this node knows (Cluster.members() fits). */
  readonly members: () => readonly ViewMember[];
}

export interface EveryNodeRequest<T> {
  /** Only this node; absent: every up Caxton node. */
  readonly node?: string | undefined;
  /** X, here. A throw is this node's failure, reported in `missing` like a peer's. */
  readonly mine: () => T | Promise<T>;
  /** The peer call that does X on another node, and its body. */
  readonly method: string;
  readonly body: PeerBody;
  /** Turns a peer's answer into a T, or throws (the node is then reported missing). */
  readonly check: (v: unknown) => T;
  readonly options?: FanOutOptions;
}

/** Answers this node first, then by node name; the nodes that did not answer, with the reason. */
export async function onEveryNode<T>(scope: EveryNodeScope, r: EveryNodeRequest<T>): Promise<FanOutResult<T>> {
  const { self, peers } = scope;
  const members = scope.members().filter((m) => m.name !== self && m.tags['role'] === 'caxton');
  if (r.node === self) return gatherMine(self, r.mine, { answers: [], missing: [] });
  if (r.node !== undefined) {
    const m = members.find((x) => x.name === r.node);
    if (m === undefined || peers === undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_UNKNOWN_NODE', `no Caxton node named ${r.node} in the cluster`, { node: r.node });
    if (m.status === 'failed' || m.status === 'left') return { answers: [], missing: [{ node: r.node, code: 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', reason: `${m.status}: not asked` }] };
    return fanOut(peers, [r.node], r.method, r.body, r.check, r.options);
  }
  // By name, so that reports list the nodes in the same order whichever node was asked.
  const ask = members.filter((m) => m.status === 'alive' || m.status === 'suspect').map((m) => m.name).sort();
  const failed = members.filter((m) => m.status === 'failed').map((m): MissingNode => ({ node: m.name, code: 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', reason: 'failed: the cluster declared it dead, not asked' }));
  const [own, others] = await Promise.all([
    gatherMine(self, r.mine, { answers: [], missing: [] }),
    peers === undefined || ask.length === 0 ? { answers: [], missing: [] } : fanOut(peers, ask, r.method, r.body, r.check, r.options),
  ]);
  return { answers: [...own.answers, ...others.answers], missing: [...own.missing, ...others.missing, ...failed] };
}

async function gatherMine<T>(self: NodeName, mine: () => T | Promise<T>, into: FanOutResult<T>): Promise<FanOutResult<T>> {
  try {
    into.answers.push({ node: self, value: await mine() });
  } catch (e) {
    into.missing.push({ node: self, code: isCaxtonError(e) ? e.code : null, reason: e instanceof Error ? e.message : String(e) });
  }
  return into;
}

/** A field of a peer's call body (bodies come from other nodes: checked like any input). */
export function bodyField(body: PeerBody, key: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[key] : undefined;
}
