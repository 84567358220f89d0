/**
 * `Peers` on virtual time, for driving the real ClusterDirectory on thousands of nodes in one process:
 * a post is delivered one link latency later, a call answered one round trip later, each body copied
 * through JSON as the link would serialise it. Bytes (the JSON length) are counted per sending node:
 * that is the directory's own traffic, which never rides on gossip.
 */
import { CaxtonError } from '../../src/errors.js';
import type { CallOptions, NodeName, PeerBody, Peers } from '../../src/cluster/peers.js';
import type { SimClock } from './sim-clock.js';

export class SimPeerNetwork {
  readonly clock: SimClock;
  readonly latencyMs: number;
  readonly #nodes = new Map<NodeName, SimPeers>();
  bytes = 0;
  posts = 0;

  constructor(clock: SimClock, latencyMs: number) {
    this.clock = clock;
    this.latencyMs = latencyMs;
  }

  add(name: NodeName): SimPeers {
    const p = new SimPeers(name, this);
    this.#nodes.set(name, p);
    return p;
  }

  get(name: NodeName): SimPeers | undefined {
    return this.#nodes.get(name);
  }

  /** The body as the receiver sees it, and its size on the wire (JSON). */
  ship(body: PeerBody): { copy: PeerBody; size: number } {
    if (body instanceof Uint8Array) return { copy: new Uint8Array(body), size: body.length };
    if (body === undefined) return { copy: undefined, size: 0 };
    const json = JSON.stringify(body);
    return { copy: JSON.parse(json) as PeerBody, size: json.length };
  }
}

export class SimPeers implements Peers {
  readonly self: NodeName;
  readonly #net: SimPeerNetwork;
  readonly posts = new Map<string, (from: NodeName, body: PeerBody) => void>();
  readonly calls = new Map<string, (from: NodeName, body: PeerBody) => unknown>();

  constructor(self: NodeName, net: SimPeerNetwork) {
    this.self = self;
    this.#net = net;
  }

  post(node: NodeName, kind: string, body: PeerBody): boolean {
    const to = this.#net.get(node);
    if (to === undefined) return false;
    const { copy, size } = this.#net.ship(body);
    this.#net.bytes += size;
    this.#net.posts += 1;
    this.#net.clock.setTimer(this.#net.latencyMs, () => to.posts.get(kind)?.(this.self, copy));
    return true;
  }

  call<T = unknown>(node: NodeName, method: string, body: PeerBody, opts: CallOptions = {}): Promise<T> {
    const to = this.#net.get(node);
    const handler = to?.calls.get(method);
    if (handler === undefined) return Promise.reject(new CaxtonError('CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', `node ${node} does not answer ${method}`));
    const { copy, size } = this.#net.ship(body);
    this.#net.bytes += size;
    const clock = this.#net.clock;
    const timeoutMs = opts.timeoutMs ?? 5000;
    return new Promise<T>((resolve, reject) => {
      const timer = clock.setTimer(timeoutMs, () => reject(new CaxtonError('CAXTON_ERR_CLUSTER_TIMEOUT', `node ${node} did not answer ${method} within ${timeoutMs} ms`)));
      clock.setTimer(this.#net.latencyMs, () => {
        Promise.resolve()
          .then(() => handler(this.self, copy))
          .then(
            (r) => {
              const back = this.#net.ship(r);
              this.#net.bytes += back.size;
              clock.setTimer(this.#net.latencyMs, () => {
                if (timer.cancel()) resolve(back.copy as T);
              });
            },
            (e: unknown) => {
              if (timer.cancel()) reject(e instanceof Error ? e : new Error(String(e)));
            },
          );
      });
    });
  }

  onPost(kind: string, handler: (from: NodeName, body: PeerBody) => void): void {
    this.posts.set(kind, handler);
  }

  onCall(method: string, handler: (from: NodeName, body: PeerBody) => unknown): void {
    this.calls.set(method, handler);
  }
}
