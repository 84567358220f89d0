/**
 * An in-memory network on virtual time for the cluster simulation: memberlist Transports whose packets
 * and stream chunks are delivered by SimClock timers after a fixed one-way latency, with per-host byte
 * counters (what "gossip bytes per node per second" is computed from) and crashed hosts.
 *
 * A crashed host is a machine that went away (power, kernel panic, cable): its packets are lost both
 * ways and a dial to it hangs until the dialler's timeout, as a SYN to a dead host does. That is the
 * slower, more honest case for failure detection than a refused connection.
 *
 * Bytes are not copied on delivery: every encoder in src/cluster/wire returns a fresh buffer, and the
 * copy would cost the simulation more than the code under test.
 */
import { addressKey, type Address, type Stream, type Transport } from '../../src/cluster/transport/transport.js';
import type { SimClock } from './sim-clock.js';

export interface HostTraffic {
  packetBytesOut: number;
  packetsOut: number;
  streamBytesOut: number;
  streamsOpened: number;
}

export class SimNetwork {
  readonly clock: SimClock;
  readonly latencyMs: number;
  readonly #endpoints = new Map<string, SimTransport>();
  readonly #crashed = new Set<string>();
  readonly traffic = new Map<string, HostTraffic>();

  constructor(clock: SimClock, latencyMs: number) {
    this.clock = clock;
    this.latencyMs = latencyMs;
  }

  transport(host: string, port = 7946): SimTransport {
    const t = new SimTransport(this, { host, port });
    this.#endpoints.set(addressKey(t.local), t);
    this.traffic.set(host, { packetBytesOut: 0, packetsOut: 0, streamBytesOut: 0, streamsOpened: 0 });
    return t;
  }

  crash(host: string): void {
    this.#crashed.add(host);
  }

  resetTraffic(): void {
    for (const t of this.traffic.values()) {
      t.packetBytesOut = 0;
      t.packetsOut = 0;
      t.streamBytesOut = 0;
      t.streamsOpened = 0;
    }
  }

  isDown(host: string): boolean {
    return this.#crashed.has(host);
  }

  later(fn: () => void): void {
    this.clock.setTimer(this.latencyMs, fn);
  }

  sendPacket(from: Address, to: Address, bytes: Uint8Array): void {
    if (this.#crashed.has(from.host)) return;
    const t = this.traffic.get(from.host);
    if (t !== undefined) {
      t.packetBytesOut += bytes.length;
      t.packetsOut += 1;
    }
    if (this.#crashed.has(to.host)) return;
    this.later(() => this.#endpoints.get(addressKey(to))?.deliverPacket(bytes, from));
  }

  dial(from: SimTransport, to: Address, timeoutMs: number): Promise<Stream> {
    return new Promise((resolve, reject) => {
      if (this.#crashed.has(from.local.host) || this.#crashed.has(to.host)) {
        this.clock.setTimer(timeoutMs, () => reject(new Error(`dial ${addressKey(to)}: i/o timeout`)));
        return;
      }
      const t = this.traffic.get(from.local.host);
      if (t !== undefined) t.streamsOpened += 1;
      this.later(() => {
        const target = this.#endpoints.get(addressKey(to));
        const accept = target?.acceptor();
        if (target === undefined || accept === undefined) {
          reject(new Error(`dial ${addressKey(to)}: connection refused`));
          return;
        }
        const client = new SimStream(this, to, from.local.host);
        const server = new SimStream(this, from.local, to.host);
        client.peer = server;
        server.peer = client;
        accept(server);
        resolve(client);
      });
    });
  }

  countStreamBytes(host: string, n: number): void {
    const t = this.traffic.get(host);
    if (t !== undefined) t.streamBytesOut += n;
  }
}

export class SimTransport implements Transport {
  readonly local: Address;
  readonly advertise: Address;
  readonly #net: SimNetwork;
  #onPacket: ((bytes: Uint8Array, from: Address, receivedAt: number) => void) | undefined;
  #onStream: ((stream: Stream) => void) | undefined;
  #closed = false;

  constructor(net: SimNetwork, local: Address) {
    this.#net = net;
    this.local = local;
    this.advertise = local;
  }

  sendPacket(to: Address, bytes: Uint8Array): void {
    if (!this.#closed) this.#net.sendPacket(this.local, to, bytes);
  }

  onPacket(fn: (bytes: Uint8Array, from: Address, receivedAt: number) => void): void {
    this.#onPacket = fn;
  }

  dial(to: Address, timeoutMs: number): Promise<Stream> {
    if (this.#closed) return Promise.reject(new Error('transport closed'));
    return this.#net.dial(this, to, timeoutMs);
  }

  onStream(fn: (stream: Stream) => void): void {
    this.#onStream = fn;
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  deliverPacket(bytes: Uint8Array, from: Address): void {
    if (!this.#closed && !this.#net.isDown(this.local.host)) this.#onPacket?.(bytes, from, this.#net.clock.now());
  }

  acceptor(): ((stream: Stream) => void) | undefined {
    return this.#closed || this.#net.isDown(this.local.host) ? undefined : this.#onStream;
  }
}

class SimStream implements Stream {
  readonly remote: Address;
  peer: SimStream | undefined;
  readonly #net: SimNetwork;
  readonly #host: string;
  #onData: ((chunk: Uint8Array) => void) | undefined;
  readonly #onEnd: ((error?: Error) => void)[] = [];
  readonly #buffered: Uint8Array[] = [];
  #ended: { error?: Error } | undefined;
  #closed = false;
  #deadline: { cancel(): boolean } | undefined;

  constructor(net: SimNetwork, remote: Address, host: string) {
    this.#net = net;
    this.remote = remote;
    this.#host = host;
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#closed || this.#ended !== undefined) return Promise.reject(new Error('write on closed stream'));
    this.#net.countStreamBytes(this.#host, bytes.length);
    const peer = this.peer;
    if (!this.#net.isDown(this.remote.host)) this.#net.later(() => peer?.receive(bytes));
    return Promise.resolve();
  }

  onData(fn: (chunk: Uint8Array) => void): void {
    this.#onData = fn;
    for (const c of this.#buffered.splice(0)) fn(c);
  }

  onEnd(fn: (error?: Error) => void): void {
    this.#onEnd.push(fn);
    const ended = this.#ended;
    if (ended !== undefined) this.#net.later(() => fn(ended.error));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const peer = this.peer;
    this.#net.later(() => peer?.finish(undefined));
    this.finish(undefined);
  }

  setDeadline(ms: number): void {
    this.#deadline?.cancel();
    this.#deadline = this.#net.clock.setTimer(ms, () => {
      this.#closed = true;
      this.finish(new Error('i/o timeout'));
      const peer = this.peer;
      this.#net.later(() => peer?.finish(new Error('connection reset by peer')));
    });
  }

  receive(chunk: Uint8Array): void {
    if (this.#ended !== undefined) return;
    if (this.#onData === undefined) this.#buffered.push(chunk);
    else this.#onData(chunk);
  }

  finish(error: Error | undefined): void {
    if (this.#ended !== undefined) return;
    this.#ended = error === undefined ? {} : { error };
    this.#deadline?.cancel();
    for (const fn of this.#onEnd) fn(error);
  }
}
