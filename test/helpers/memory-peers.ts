/**
 * An in-process network of `Peers` for unit tests of what sits above the link (directory, replication,
 * key sync): posts and calls are delivered asynchronously (setImmediate), bodies are copied through
 * JSON (or as new bytes) as the wire would, and a test can cut nodes apart or take one down. The real
 * link (src/cluster/link/) is tested on its own and in the integration tests with real processes.
 */
import { CaxtonError } from '../../src/errors.js';
import type { CallOptions, NodeName, PeerBody, Peers } from '../../src/cluster/peers.js';

const copy = (b: PeerBody): PeerBody => (b instanceof Uint8Array ? new Uint8Array(b) : b === undefined ? undefined : JSON.parse(JSON.stringify(b)));

export class MemoryNetwork {
  readonly #nodes = new Map<NodeName, MemoryPeers>();
  /** Pairs that cannot reach each other, as "a\nb" both ways. */
  readonly #cut = new Set<string>();
  readonly #down = new Set<NodeName>();
  /** Posts and calls delivered, for tests that count traffic. */
  posts = 0;
  calls = 0;

  add(name: NodeName): MemoryPeers {
    const p = new MemoryPeers(name, this);
    this.#nodes.set(name, p);
    return p;
  }

  /** Cuts `a` and `b` apart (both ways) until heal(). */
  cut(a: NodeName, b: NodeName): void {
    this.#cut.add(`${a}\n${b}`).add(`${b}\n${a}`);
  }

  /** Splits the nodes into groups that reach only their own group. */
  partition(...groups: NodeName[][]): void {
    for (const g of groups) for (const h of groups) if (g !== h) for (const a of g) for (const b of h) this.cut(a, b);
  }

  heal(): void {
    this.#cut.clear();
  }

  /** Takes a node off the network (it neither sends nor receives) until up(). */
  down(name: NodeName): void {
    this.#down.add(name);
  }

  up(name: NodeName): void {
    this.#down.delete(name);
  }

  /** @internal the peer at `to` if `from` can reach it now. */
  reach(from: NodeName, to: NodeName): MemoryPeers | undefined {
    if (this.#down.has(from) || this.#down.has(to) || this.#cut.has(`${from}\n${to}`)) return undefined;
    return this.#nodes.get(to);
  }
}

export class MemoryPeers implements Peers {
  readonly #posts = new Map<string, (from: NodeName, body: PeerBody) => void>();
  readonly #calls = new Map<string, (from: NodeName, body: PeerBody) => unknown>();

  constructor(
    readonly self: NodeName,
    readonly net: MemoryNetwork,
  ) {}

  post(node: NodeName, kind: string, body: PeerBody): boolean {
    const to = this.net.reach(this.self, node);
    if (to === undefined) return false;
    const b = copy(body);
    this.net.posts++;
    setImmediate(() => {
      if (this.net.reach(this.self, node) === undefined) return; // lost in flight
      to.#posts.get(kind)?.(this.self, b);
    });
    return true;
  }

  call<T = unknown>(node: NodeName, method: string, body: PeerBody, opts: CallOptions = {}): Promise<T> {
    const to = this.net.reach(this.self, node);
    if (to === undefined) return Promise.reject(new CaxtonError('CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', `node ${node} cannot be reached`));
    const handler = to.#calls.get(method);
    if (handler === undefined) return Promise.reject(new CaxtonError('CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', `node ${node} does not answer ${method}`));
    this.net.calls++;
    const b = copy(body);
    const timeoutMs = opts.timeoutMs ?? 5000;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new CaxtonError('CAXTON_ERR_CLUSTER_TIMEOUT', `node ${node} did not answer ${method} within ${timeoutMs} ms`)), timeoutMs);
      setImmediate(() => {
        Promise.resolve()
          .then(() => handler(this.self, b))
          .then(
            (r) => {
              clearTimeout(timer);
              if (this.net.reach(node, this.self) === undefined) return; // the answer is lost: the timeout decides
              resolve(copy(r) as T);
            },
            (e: unknown) => {
              clearTimeout(timer);
              reject(e instanceof CaxtonError ? new CaxtonError(e.code, e.message) : e);
            },
          );
      });
    });
  }

  onPost(kind: string, handler: (from: NodeName, body: PeerBody) => void): void {
    this.#posts.set(kind, handler);
  }

  onCall(method: string, handler: (from: NodeName, body: PeerBody) => unknown): void {
    this.#calls.set(method, handler);
  }
}
