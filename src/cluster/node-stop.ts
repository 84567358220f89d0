/**
 * `POST /server/stop` and `caxton cluster stop --all` (docs/operations.md, "Stopping and starting a
 * cluster"): a node stops on purpose with its cluster, and its `caxton server start` process stays up,
 * parked (src/cli/parked-node.ts), until `caxton cluster start` asks it to start again.
 *
 * Two steps, each for this node or another one through the link (peer calls `server.stop.prepare`
 * and `server.stop`):
 * - prepare (every node, before any stops): no failover, move or redelivery starts here from now on.
 *   Without it, the nodes that stop last would take the agents of the ones that stopped first over
 *   from their replicas, and the last one would end up running the whole cluster's agents;
 * - stop: the node writes the stop record (src/cluster/stop-record.ts), then the owner of its
 *   lifetime stops it in place (agents drained and stopped here, deployments, state and outbox kept
 *   on disk, the database closed) and parks the process.
 */
import { CaxtonError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { NodeName, PeerBody, Peers } from './peers.js';
import type { ViewMember } from '../api/cluster-views.js';
import { isStopRecord, writeStopRecord, type StopRecord } from './stop-record.js';

/** Call methods; only append (other nodes call them by name). */
export const STOP_METHODS = { prepare: 'server.stop.prepare', stop: 'server.stop' } as const;

/** What the owner of the node's lifetime does once the record is written: stop the node, park. */
export interface ParkRequest {
  readonly reason: string;
  readonly record: StopRecord;
}

export interface StopAnswer {
  readonly node: NodeName;
  /** prepare: frozen; stop: stopping (the node parks moments later). */
  readonly state: 'frozen' | 'stopping';
}

export interface NodeStopOptions {
  readonly self: NodeName;
  readonly dataDir: string;
  readonly logger: Logger;
  readonly peers: Peers | undefined;
  readonly members: () => readonly ViewMember[];
  /**
   * No new message, failover, move or redelivery from now on; resolves once what the node took is
   * handled and acknowledged to its senders (bounded), so that no node stops with an ack owed.
   */
  readonly freeze: () => Promise<void>;
  /** The lifetime owner's stop-and-park; absent: this node cannot park (embedded use, tests). */
  readonly park: ((r: ParkRequest) => void) | undefined;
}

export class NodeStop {
  readonly #o: NodeStopOptions;
  #frozen = false;
  #freezing: Promise<void> = Promise.resolve();
  #pending = false;

  constructor(o: NodeStopOptions) {
    this.#o = o;
    o.peers?.onCall(STOP_METHODS.prepare, () => this.#prepare());
    o.peers?.onCall(STOP_METHODS.stop, (_from, body) => {
      const b = parse(body);
      return this.#stop(b.reason, b.record);
    });
  }

  /** Whether this node is frozen for a cluster stop (the API then takes no new message). */
  get frozen(): boolean {
    return this.#frozen;
  }

  /** Freezes `node` (this one by default): the first step of a cluster stop. */
  async prepare(node: NodeName = this.#o.self): Promise<StopAnswer> {
    if (node === this.#o.self) return this.#prepare();
    return this.#call(node, STOP_METHODS.prepare, {});
  }

  /** Asks `node` (this one by default) to write `record` and stop, parked; answers before it stops. */
  async stop(reason: string, record: StopRecord, node: NodeName = this.#o.self): Promise<StopAnswer> {
    if (node === this.#o.self) return this.#stop(reason, record);
    return this.#call(node, STOP_METHODS.stop, { reason, record });
  }

  #call(node: NodeName, method: string, body: PeerBody): Promise<StopAnswer> {
    const m = this.#o.members().find((x) => x.name === node && x.tags['role'] === 'caxton');
    if (m === undefined || this.#o.peers === undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_UNKNOWN_NODE', `no Caxton node named ${node} in the cluster`, { node });
    return this.#o.peers.call<StopAnswer>(node, method, body, { timeoutMs: 10_000 });
  }

  async #prepare(): Promise<StopAnswer> {
    this.#unavailable();
    if (!this.#frozen) {
      this.#frozen = true;
      this.#o.logger.warn('cluster stop: this node takes no new message, and no failover, move or redelivery starts here from now on');
      this.#freezing = this.#o.freeze();
    }
    await this.#freezing;
    return { node: this.#o.self, state: 'frozen' };
  }

  async #stop(reason: string, record: StopRecord): Promise<StopAnswer> {
    const park = this.#unavailable();
    if (this.#pending) throw new CaxtonError('CAXTON_ERR_STOP_UNAVAILABLE', `node ${this.#o.self} is already stopping`, { node: this.#o.self });
    this.#pending = true;
    await this.#prepare();
    writeStopRecord(this.#o.dataDir, record);
    this.#o.logger.warn({ reason, members: record.members.length, agents: record.agents.length }, 'cluster stop: stopping this node; its process stays up, parked, until `caxton cluster start`');
    // After the answer has gone: the caller learns that the stop began, and watches the node park.
    setTimeout(() => park({ reason, record }), 50);
    return { node: this.#o.self, state: 'stopping' };
  }

  #unavailable(): (r: ParkRequest) => void {
    const park = this.#o.park;
    if (park === undefined) {
      throw new CaxtonError('CAXTON_ERR_STOP_UNAVAILABLE', `node ${this.#o.self} cannot be stopped with its cluster: it does not run under \`caxton server start\``, { node: this.#o.self });
    }
    return park;
  }
}

function parse(body: PeerBody): { reason: string; record: StopRecord } {
  const b = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const reason = b['reason'];
  if (typeof reason !== 'string' || reason === '') throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', 'server.stop: reason must be a non-empty text');
  if (!isStopRecord(b['record'])) throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', 'server.stop: record must be a cluster stop record (stopped_at, reason, members, agents)');
  return { reason, record: b['record'] };
}
