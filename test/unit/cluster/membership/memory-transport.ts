/**
 * An in-memory network for membership tests: Transports on made-up IP addresses that deliver
 * packets and streams between each other with a set latency, seeded packet loss, and per-link cuts
 * and partitions. Packet loss draws from a seeded PRNG, so a lossy run drops the same packets given
 * the same sequence of sends. Streams are reliable and ordered (TCP retransmits, so loss does not
 * apply); a cut or partitioned link makes dials hang until their timeout, as a lost SYN would, and a
 * closed endpoint refuses them.
 */
import { addressKey, type Address, type Stream, type Transport } from '../../../../src/cluster/transport/transport.js';
import { prng } from '../../../helpers/prng.js';

export interface MemoryNetworkOptions {
  /** Seed of the loss PRNG. @default 1 */
  readonly seed?: number;
  /** One-way delay of every packet and stream chunk, ms (0 = next turn of the event loop). @default 0 */
  readonly latencyMs?: number;
}

export interface LinkCut {
  /** Drop packets on the link. @default true */
  readonly packets?: boolean;
  /** Refuse (hang) stream dials on the link. @default true */
  readonly streams?: boolean;
}

export class MemoryNetwork {
  readonly latencyMs: number;
  readonly stats = { packetsSent: 0, packetsDelivered: 0, packetsDropped: 0, dials: 0, dialsRefused: 0 };
  /** Sees every packet sent (before loss), for wire-level assertions. */
  tap: ((from: Address, to: Address, bytes: Uint8Array) => void) | undefined;
  /**
   * Rewrites a packet in flight (after the tap, before loss); undefined drops it. For tests that
   * need one kind of message never to reach one node, whichever packets gossip puts it in.
   */
  shape: ((from: Address, to: Address, bytes: Uint8Array) => Uint8Array | undefined) | undefined;
  readonly #endpoints = new Map<string, MemoryTransport>();
  readonly #random: () => number;
  #loss = 0;
  /** "from|to" host pairs (directional) whose packets are dropped. */
  readonly #cutPackets = new Set<string>();
  readonly #cutStreams = new Set<string>();
  /** host → partition group; hosts in different groups cannot talk. */
  #groups: Map<string, number> | undefined;

  constructor(options: MemoryNetworkOptions = {}) {
    this.latencyMs = options.latencyMs ?? 0;
    this.#random = prng(options.seed ?? 1);
  }

  /** A transport bound at host:port (each node should get its own host, so links can be cut). */
  transport(host: string, port = 7946): MemoryTransport {
    const t = new MemoryTransport(this, { host, port });
    const key = addressKey(t.local);
    if (this.#endpoints.has(key)) throw new Error(`address in use: ${key}`);
    this.#endpoints.set(key, t);
    return t;
  }

  /** Drops this fraction of all packets (0..1). */
  setLoss(rate: number): void {
    this.#loss = rate;
  }

  /** Cuts the link between two hosts in both directions. */
  cut(a: string, b: string, what: LinkCut = {}): void {
    if (what.packets !== false) {
      this.#cutPackets.add(`${a}|${b}`);
      this.#cutPackets.add(`${b}|${a}`);
    }
    if (what.streams !== false) {
      this.#cutStreams.add(`${a}|${b}`);
      this.#cutStreams.add(`${b}|${a}`);
    }
  }

  /** Cuts one direction only: packets from `from` to `to` are lost. */
  cutOneWay(from: string, to: string): void {
    this.#cutPackets.add(`${from}|${to}`);
  }

  /** Splits the hosts into groups that cannot reach each other (hosts not listed reach everyone). */
  partition(...groups: string[][]): void {
    this.#groups = new Map();
    groups.forEach((g, i) => {
      for (const h of g) this.#groups?.set(h, i);
    });
  }

  /** Removes partitions and cuts (loss stays). */
  heal(): void {
    this.#groups = undefined;
    this.#cutPackets.clear();
    this.#cutStreams.clear();
  }

  /** Delivers raw bytes to `to` as if sent from `from` (to inject crafted or garbage packets). */
  inject(to: Address, from: Address, bytes: Uint8Array): void {
    this.#later(() => this.#endpoints.get(addressKey(to))?.deliverPacket(Uint8Array.from(bytes), from));
  }

  // ---- used by MemoryTransport -------------------------------------------------------------

  sendPacket(from: Address, to: Address, bytes: Uint8Array): void {
    this.stats.packetsSent += 1;
    this.tap?.(from, to, bytes);
    const shaped = this.shape === undefined ? bytes : this.shape(from, to, bytes);
    if (shaped === undefined || this.#blocked(from.host, to.host, this.#cutPackets) || (this.#loss > 0 && this.#random() < this.#loss)) {
      this.stats.packetsDropped += 1;
      return;
    }
    const copy = Uint8Array.from(shaped);
    this.#later(() => {
      const target = this.#endpoints.get(addressKey(to));
      if (target === undefined) return;
      this.stats.packetsDelivered += 1;
      target.deliverPacket(copy, from);
    });
  }

  dial(from: MemoryTransport, to: Address, timeoutMs: number): Promise<Stream> {
    this.stats.dials += 1;
    return new Promise((resolve, reject) => {
      if (this.#blocked(from.local.host, to.host, this.#cutStreams)) {
        // A lost SYN: nothing happens until the dial times out.
        setTimeout(() => reject(new Error(`dial ${addressKey(to)}: i/o timeout`)), timeoutMs);
        return;
      }
      this.#later(() => {
        const target = this.#endpoints.get(addressKey(to));
        const accept = target?.acceptor();
        if (target === undefined || accept === undefined) {
          this.stats.dialsRefused += 1;
          reject(new Error(`dial ${addressKey(to)}: connection refused`));
          return;
        }
        const client = new MemoryStream(this, to);
        const server = new MemoryStream(this, from.local);
        client.peer = server;
        server.peer = client;
        from.track(client);
        target.track(server);
        accept(server);
        resolve(client);
      });
    });
  }

  /** Opens a raw stream to `to` from a made-up address (to send crafted or garbage streams). */
  rawDial(from: Address, to: Address, timeoutMs = 1_000): Promise<Stream> {
    const fake = new MemoryTransport(this, from);
    return this.dial(fake, to, timeoutMs);
  }

  unregister(t: MemoryTransport): void {
    const key = addressKey(t.local);
    if (this.#endpoints.get(key) === t) this.#endpoints.delete(key);
  }

  /** Runs fn after the link latency; FIFO for equal delays. */
  later(fn: () => void): void {
    this.#later(fn);
  }

  #later(fn: () => void): void {
    if (this.latencyMs <= 0) setImmediate(fn);
    else setTimeout(fn, this.latencyMs);
  }

  #blocked(from: string, to: string, cuts: ReadonlySet<string>): boolean {
    if (cuts.has(`${from}|${to}`)) return true;
    const groups = this.#groups;
    if (groups === undefined) return false;
    const a = groups.get(from);
    const b = groups.get(to);
    return a !== undefined && b !== undefined && a !== b;
  }
}

export class MemoryTransport implements Transport {
  readonly local: Address;
  readonly advertise: Address;
  readonly #net: MemoryNetwork;
  #packetHandler: ((bytes: Uint8Array, from: Address, receivedAt: number) => void) | undefined;
  #streamHandler: ((stream: Stream) => void) | undefined;
  readonly #streams = new Set<MemoryStream>();
  #closed = false;

  constructor(net: MemoryNetwork, local: Address) {
    this.#net = net;
    this.local = local;
    this.advertise = local;
  }

  get closed(): boolean {
    return this.#closed;
  }

  sendPacket(to: Address, bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#net.sendPacket(this.local, to, bytes);
  }

  onPacket(fn: (bytes: Uint8Array, from: Address, receivedAt: number) => void): void {
    this.#packetHandler = fn;
  }

  dial(to: Address, timeoutMs: number): Promise<Stream> {
    if (this.#closed) return Promise.reject(new Error('transport closed'));
    return this.#net.dial(this, to, timeoutMs);
  }

  onStream(fn: (stream: Stream) => void): void {
    this.#streamHandler = fn;
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#net.unregister(this);
    for (const s of this.#streams) s.reset(new Error('transport closed'));
    this.#streams.clear();
    return Promise.resolve();
  }

  // ---- used by MemoryNetwork ---------------------------------------------------------------

  deliverPacket(bytes: Uint8Array, from: Address): void {
    if (this.#closed) return;
    this.#packetHandler?.(bytes, from, Date.now());
  }

  acceptor(): ((stream: Stream) => void) | undefined {
    return this.#closed ? undefined : this.#streamHandler;
  }

  track(s: MemoryStream): void {
    this.#streams.add(s);
    s.onEnd(() => this.#streams.delete(s));
  }
}

class MemoryStream implements Stream {
  readonly remote: Address;
  peer: MemoryStream | undefined;
  readonly #net: MemoryNetwork;
  #dataHandler: ((chunk: Uint8Array) => void) | undefined;
  readonly #endHandlers: ((error?: Error) => void)[] = [];
  readonly #buffered: Uint8Array[] = [];
  #ended: { error?: Error } | undefined;
  #closed = false;
  #deadline: NodeJS.Timeout | undefined;

  constructor(net: MemoryNetwork, remote: Address) {
    this.#net = net;
    this.remote = remote;
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#closed || this.#ended !== undefined) return Promise.reject(new Error('write on closed stream'));
    const copy = Uint8Array.from(bytes);
    const peer = this.peer;
    this.#net.later(() => peer?.receive(copy));
    return Promise.resolve();
  }

  onData(fn: (chunk: Uint8Array) => void): void {
    this.#dataHandler = fn;
    const queued = this.#buffered.splice(0);
    for (const c of queued) fn(c);
  }

  onEnd(fn: (error?: Error) => void): void {
    this.#endHandlers.push(fn);
    const ended = this.#ended;
    if (ended !== undefined) setImmediate(() => fn(ended.error));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearDeadline();
    const peer = this.peer;
    this.#net.later(() => peer?.end());
    this.end();
  }

  setDeadline(ms: number): void {
    this.#clearDeadline();
    this.#deadline = setTimeout(() => {
      if (this.#ended !== undefined) return;
      const err = new Error('i/o timeout');
      this.reset(err);
      const peer = this.peer;
      this.#net.later(() => peer?.reset(new Error('connection reset by peer')));
    }, ms);
  }

  receive(chunk: Uint8Array): void {
    if (this.#ended !== undefined) return;
    if (this.#dataHandler === undefined) this.#buffered.push(chunk);
    else this.#dataHandler(chunk);
  }

  /** The peer closed: a clean end. */
  end(): void {
    this.#finish(undefined);
  }

  /** Failed (deadline, reset, transport closed). */
  reset(error: Error): void {
    this.#closed = true;
    this.#finish(error);
  }

  #finish(error: Error | undefined): void {
    if (this.#ended !== undefined) return;
    this.#ended = error === undefined ? {} : { error };
    this.#clearDeadline();
    for (const fn of this.#endHandlers) fn(error);
  }

  #clearDeadline(): void {
    if (this.#deadline !== undefined) clearTimeout(this.#deadline);
    this.#deadline = undefined;
  }
}
