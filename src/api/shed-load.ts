/**
 * `caxton cluster shed-load`, cluster-wide: the node an operator asks sets its own LoadShedder and
 * fans the order out (fan-out.ts: a timeout per node, bounded concurrency) to every up Caxton member
 * through the `load.shed` peer call; the answer lists which nodes applied it and which did not answer
 * (a failed member is listed without being asked). With `node` only that node is set. On a single
 * node (no peers) only the node itself exists.
 */
import type { MissingNode } from '../cluster/fan-out.js';
import { onEveryNode } from '../cluster/every-node.js';
import type { NodeName, PeerBody, Peers } from '../cluster/peers.js';
import type { ViewMember } from './cluster-views.js';
import { parsePercentage, type LoadShedder } from './load-shedding.js';

/** Peer call methods; only append (other nodes call them by name). */
export const SHED_METHODS = {
  /** Body `{percentage}`: sets the node's share, answers its ShedRow. */
  set: 'load.shed',
  /** Answers the node's ShedRow. */
  status: 'load.shed.status',
} as const;

/** One node's shedding: the share it refuses now and how many messages it refused since it started. */
export interface ShedRow {
  readonly node: NodeName;
  readonly percentage: number;
  readonly shed_total: number;
}

export interface ShedReport {
  /** Nodes that answered, this node first when it was asked. */
  readonly nodes: ShedRow[];
  /** Nodes that did not answer, with the reason. */
  readonly missing: MissingNode[];
}

export interface ShedLoadLogger {
  warn(obj: object, msg: string): void;
}

export interface ShedLoadOptions {
  readonly nodeId: NodeName;
  readonly shedder: LoadShedder;
  readonly logger: ShedLoadLogger;
  /** Without peers the node is alone: only its own name is known. */
  readonly peers?: Peers;
  /** Every member this node knows (Cluster.members() fits). */
  readonly members?: () => readonly ViewMember[];
}

/** What the API reads and changes (ApiContext.loadShedding). */
export class LoadShedding {
  readonly shedder: LoadShedder;
  readonly #o: ShedLoadOptions;

  constructor(o: ShedLoadOptions) {
    this.#o = o;
    this.shedder = o.shedder;
    // Bodies come from other nodes: checked like any input.
    o.peers?.onCall(SHED_METHODS.set, (from, body) => this.#setLocal(parsePercentage(field(body, 'percentage')), `node ${from}`));
    o.peers?.onCall(SHED_METHODS.status, () => this.#row());
  }

  /** This node's share of new external messages refused now, 0 (off) to 100. */
  get percentage(): number {
    return this.shedder.percentage;
  }

  /** New external messages this node refused since it started. */
  get shedTotal(): number {
    return this.shedder.shedTotal;
  }

  /** Sets the share on every up Caxton node (or only `node`); `by` names who asked, for the log. */
  async apply(percentage: number, node: string | undefined, by: string): Promise<ShedReport> {
    const p = parsePercentage(percentage);
    return this.#ask(node, () => this.#setLocal(p, by), SHED_METHODS.set, { percentage: p });
  }

  /** Every up Caxton node's share and count (or only `node`'s). */
  status(node?: string): Promise<ShedReport> {
    return this.#ask(node, () => this.#row(), SHED_METHODS.status, {});
  }

  #setLocal(percentage: number, by: string): ShedRow {
    const before = this.shedder.percentage;
    this.shedder.set(percentage);
    if (before !== percentage) this.#o.logger.warn({ percentage, before, by }, percentage === 0 ? 'load shedding stopped' : `shedding ${percentage}% of new external messages`);
    return this.#row();
  }

  #row(): ShedRow {
    return { node: this.#o.nodeId, percentage: this.shedder.percentage, shed_total: this.shedder.shedTotal };
  }

  async #ask(node: string | undefined, mine: () => ShedRow, method: string, body: PeerBody): Promise<ShedReport> {
    const scope = { self: this.#o.nodeId, peers: this.#o.peers, members: this.#o.members ?? (() => []) };
    const r = await onEveryNode(scope, { node, mine, method, body, check: checkRow });
    return { nodes: r.answers.map((a) => a.value), missing: r.missing };
  }
}

function field(body: PeerBody, key: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[key] : undefined;
}

/** A peer's answer: a ShedRow, or the node is reported missing (fan-out.ts). */
function checkRow(v: unknown): ShedRow {
  const node = field(v, 'node');
  const percentage = field(v, 'percentage');
  const shed = field(v, 'shed_total');
  if (typeof node !== 'string' || typeof percentage !== 'number' || typeof shed !== 'number') throw new Error('not a shed-load row');
  return { node, percentage, shed_total: shed };
}
