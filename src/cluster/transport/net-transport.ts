/**
 * The production Transport: UDP packets (node:dgram) and TCP streams (node:net) on the same host and
 * port, as memberlist's NetTransport does (memberlist v0.2.2 net_transport.go).
 *
 * - Port 0 picks a port free for both: UDP is bound to an ephemeral port first, then TCP listens on
 *   the same number; if TCP finds it taken, both are released and another port is tried.
 * - Packets are best effort: `sendPacket` never throws. Oversized packets (> maxPacketBytes), packets
 *   a DropHook refuses, and packets the OS fails to send are counted and discarded. Each receive
 *   handler gets its own copy of the bytes.
 * - Streams wrap a net.Socket (TCP_NODELAY, half-open allowed so a peer may end its side and still
 *   read our reply). Writes are bounded: when bytes already queued for a peer that does not read
 *   exceed maxStreamWriteBuffer, the stream fails. Data arriving before `onData` is buffered up to the
 *   same bound.
 * - The DropHook sees every packet in both directions, and every dial ('out') and accept ('in'), so
 *   tests can inject loss and partitions. A dropped dial fails at once with code 'dropped'.
 * - The node-to-node link (src/cluster/link/) shares the TCP port: once a link handler is set, an
 *   accepted stream goes to membership or to the link by its first byte (LINK_MAGIC, a value no
 *   memberlist stream starts with). Without a link handler streams go to membership untouched.
 * - With mTLS (`linkTls`, link-tls.ts) the link's streams are TLS 1.3 instead: the dialer's first byte
 *   is a TLS record's (0x16), the acceptor runs the TLS server side over such a stream before it hands
 *   it to the link, and a plaintext link stream (LINK_MAGIC first) is refused with a log line. Gossip
 *   streams are untouched either way. A revoked peer certificate (`setRevocationCheck`) is refused
 *   once its handshake completes, and `closeRevoked` closes the open streams of revoked peers.
 */
import type { X509Certificate } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import type tls from 'node:tls';
import { type Address, type DropHook, type Stream, type Transport, addressKey } from './transport.js';
import { type ClusterLogger, silentLogger } from './logger.js';
import { LINK_MAGIC, encodeGoAway } from '../link/frame.js';
import { certNames } from '../../security/cert-names.js';
import { LinkTls, TLS_HANDSHAKE_RECORD, verifyReason, type LinkTlsMaterial, type RevocationCheck } from './link-tls.js';

/** How long an accepted stream may stay silent before its first byte tells whose it is. */
const SNIFF_DEADLINE_MS = 10_000;

export type TransportErrorCode =
  | 'closed' // the transport or stream is closed
  | 'dropped' // the DropHook refused the dial
  | 'dial-timeout' // no connection within the dial timeout
  | 'dial-failed' // refused, unreachable, ...
  | 'deadline' // the stream's deadline passed
  | 'write-buffer-full' // the peer does not read what we write
  | 'read-buffer-full' // data piled up before anyone read it
  | 'stream-failed'; // the socket failed

export class TransportError extends Error {
  override readonly name = 'TransportError';
  readonly code: TransportErrorCode;
  /** The failure was the link's TLS handshake (a certificate refused), not the network. */
  readonly tls: boolean;

  constructor(code: TransportErrorCode, message: string, options?: { cause?: unknown; tls?: boolean }) {
    super(message, options);
    this.code = code;
    this.tls = options?.tls === true;
  }
}

export interface NetTransportOptions {
  /** Where to listen, UDP and TCP. Port 0 picks a port free for both. */
  readonly bind: Address;
  /** What other nodes should use to reach us (port 0: the bound port). Defaults to the bind address. */
  readonly advertise?: Address;
  readonly dropHook?: DropHook;
  /** Largest packet we send; larger sends are refused and counted. @default 65536 */
  readonly maxPacketBytes?: number;
  /** Bytes a stream may have queued for a slow peer (and unread inbound) before it fails. @default 4 MiB */
  readonly maxStreamBufferBytes?: number;
  /** After `close()`, how long a stream may take to flush before it is destroyed. @default 1000 ms */
  readonly closeLingerMs?: number;
  /** Open streams (both directions) beyond which new inbound connections are refused. @default 1024 */
  readonly maxStreams?: number;
  /** Port-0 attempts before giving up. @default 32 */
  readonly bindAttempts?: number;
  /** Dial from the bind address when it is a specific address (not 0.0.0.0 / ::). @default true */
  readonly dialFromBindAddress?: boolean;
  readonly logger?: ClusterLogger;
  /** mTLS for the node-to-node link (security.cluster.mtls). None: the link runs over plain TCP. */
  readonly linkTls?: LinkTlsMaterial;
}

export interface NetTransportStats {
  /** Packets received (past the DropHook), and their bytes. */
  readonly packetsIn: number;
  readonly bytesIn: number;
  /** Packets the OS accepted for sending, and their bytes. */
  readonly packetsOut: number;
  readonly bytesOut: number;
  /** Dropped by the DropHook on the way in. */
  readonly packetsDroppedIn: number;
  /** Dropped by the DropHook on the way out. */
  readonly packetsDroppedOut: number;
  /** Refused for being larger than maxPacketBytes (or sent after close). */
  readonly packetsRefused: number;
  /** The OS refused to send (EMSGSIZE, unreachable, bad address, ...). */
  readonly packetSendErrors: number;
  /** Received but nobody took them (no handler, empty, a handler threw). */
  readonly packetsUnhandled: number;
  readonly streamsAccepted: number;
  /** Inbound connections closed at once: DropHook, no handler, too many streams, closing. */
  readonly streamsRefused: number;
  readonly streamsDialed: number;
  /** Dials that failed: timeout, refusal, DropHook. */
  readonly dialFailures: number;
  /** Open streams that ended with an error (deadline, write buffer, reset, ...). */
  readonly streamFailures: number;
  readonly streamsOpen: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const DEFAULT_MAX_PACKET = 64 * 1024;
const DEFAULT_STREAM_BUFFER = 4 * 1024 * 1024;
const UDP_RECV_BUFFER = 2 * 1024 * 1024;

function familyOf(host: string): 4 | 6 {
  return net.isIPv6(host) ? 6 : 4;
}

function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** `::ffff:1.2.3.4` (a v4 peer on a dual-stack socket) → `1.2.3.4`. */
export function normalizeHost(host: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return m?.[1] ?? host;
}

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const c = (err as { code: unknown }).code;
    return typeof c === 'string' ? c : undefined;
  }
  return undefined;
}

interface StreamHooks {
  readonly maxBuffer: number;
  readonly lingerMs: number;
  finished(stream: NetStream, failed: boolean): void;
}

/** A TCP connection as a Stream (see the Stream contract in transport.ts). */
export class NetStream implements Stream {
  readonly remote: Address;
  /** The peer's certificate, verified against the cluster CA, when the stream is the link's TLS. */
  readonly peerCert: X509Certificate | undefined;
  readonly #socket: net.Socket;
  readonly #hooks: StreamHooks;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #dataFn: ((chunk: Uint8Array) => void) | undefined;
  #endFn: ((error?: Error) => void) | undefined;
  #ended = false;
  #endError: Error | undefined;
  #endDelivered = false;
  #failure: Error | undefined;
  #closing = false;
  #deadline: NodeJS.Timeout | undefined;
  #linger: NodeJS.Timeout | undefined;

  constructor(socket: net.Socket, remote: Address, hooks: StreamHooks, peerCert?: X509Certificate) {
    this.#socket = socket;
    this.remote = remote;
    this.peerCert = peerCert;
    this.#hooks = hooks;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onChunk(chunk));
    socket.on('end', () => this.#finish(undefined));
    socket.on('error', (err: Error) => {
      this.#failure ??= new TransportError('stream-failed', `stream to ${addressKey(remote)} failed: ${err.message}`, { cause: err });
    });
    socket.on('close', () => {
      this.#clearTimers();
      this.#finish(this.#failure);
      this.#hooks.finished(this, this.#failure !== undefined);
    });
  }

  /** True once the peer ended its side, or the stream failed or closed. */
  get ended(): boolean {
    return this.#ended;
  }

  write(bytes: Uint8Array): Promise<void> {
    const s = this.#socket;
    // A peer that ended its side may still read our reply (half-open), so only our own state counts.
    if (this.#closing || s.destroyed || !s.writable) {
      return Promise.reject(new TransportError('closed', `stream to ${addressKey(this.remote)} is closed`));
    }
    const queued = s.writableLength;
    if (queued > 0 && queued + bytes.length > this.#hooks.maxBuffer) {
      const err = new TransportError('write-buffer-full', `peer ${addressKey(this.remote)} is not reading (${queued} bytes queued)`);
      this.#fail(err);
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      s.write(bytes, (err) => {
        if (err === undefined || err === null) resolve();
        else reject(this.#failure ?? new TransportError('stream-failed', err.message, { cause: err }));
      });
    });
  }

  onData(fn: (chunk: Uint8Array) => void): void {
    this.#dataFn = fn;
    const queued = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    for (const c of queued) fn(c);
    if (this.#ended) this.#deliverEnd();
  }

  onEnd(fn: (error?: Error) => void): void {
    this.#endFn = fn;
    if (this.#ended) this.#deliverEnd();
  }

  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    const s = this.#socket;
    if (s.destroyed) return;
    s.end();
    this.#linger = setTimeout(() => s.destroy(), this.#hooks.lingerMs);
    this.#linger.unref();
  }

  setDeadline(ms: number): void {
    if (this.#deadline !== undefined) clearTimeout(this.#deadline);
    this.#deadline = undefined;
    if (this.#socket.destroyed || ms <= 0) return;
    this.#deadline = setTimeout(() => this.#fail(new TransportError('deadline', `stream deadline of ${ms} ms exceeded`)), ms);
    this.#deadline.unref();
  }

  /** Fails the stream at once (also used by the transport on shutdown). */
  destroy(error?: Error): void {
    if (error === undefined) this.#socket.destroy();
    else this.#fail(error);
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    this.#socket.destroy();
  }

  #onChunk(chunk: Buffer): void {
    const copy = new Uint8Array(chunk); // our own bytes: the handler owns them
    if (this.#dataFn !== undefined) {
      this.#dataFn(copy);
      return;
    }
    this.#pendingBytes += copy.length;
    if (this.#pendingBytes > this.#hooks.maxBuffer) {
      this.#fail(new TransportError('read-buffer-full', `more than ${this.#hooks.maxBuffer} unread bytes from ${addressKey(this.remote)}`));
      return;
    }
    this.#pending.push(copy);
  }

  #finish(error: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#endError = error;
    this.#deliverEnd();
  }

  /** A clean end waits until buffered data went to onData, so a reader sees every byte first. */
  #deliverEnd(): void {
    if (this.#endDelivered || this.#endFn === undefined) return;
    if (this.#endError === undefined && this.#pending.length > 0) return;
    this.#endDelivered = true;
    const fn = this.#endFn;
    const err = this.#endError;
    queueMicrotask(() => fn(err));
  }

  #clearTimers(): void {
    if (this.#deadline !== undefined) clearTimeout(this.#deadline);
    if (this.#linger !== undefined) clearTimeout(this.#linger);
    this.#deadline = undefined;
    this.#linger = undefined;
  }
}

async function bindUdp(type: 'udp4' | 'udp6', host: string, port: number): Promise<dgram.Socket> {
  const sock = dgram.createSocket({ type });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    sock.once('error', onError);
    sock.bind({ address: host, port, exclusive: true }, () => {
      sock.off('error', onError);
      resolve();
    });
  }).catch((err: unknown) => {
    sock.close();
    throw err;
  });
  return sock;
}

async function listenTcp(host: string, port: number): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  return server;
}

function closeUdp(sock: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      sock.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * The TCP socket a server-side TLS socket runs over (node keeps it as `_parent`; there is no public
 * accessor): the key of #sniffing, and the only one that still knows the peer's address once a
 * refused handshake destroyed the TLS socket.
 */
function underlying(t: tls.TLSSocket): net.Socket {
  return (t as tls.TLSSocket & { _parent?: net.Socket })._parent ?? t;
}

export class NetTransport implements Transport {
  readonly local: Address;
  readonly advertise: Address;
  readonly #udp: dgram.Socket;
  readonly #tcp: net.Server;
  readonly #dropHook: DropHook | undefined;
  readonly #maxPacket: number;
  readonly #maxStreams: number;
  readonly #dialFrom: string | undefined;
  readonly #streamHooks: StreamHooks;
  readonly #logger: ClusterLogger;
  readonly #packetHandlers: ((bytes: Uint8Array, from: Address, receivedAt: number) => void)[] = [];
  #streamHandler: ((stream: Stream) => void) | undefined;
  #linkHandler: ((stream: Stream) => void) | undefined;
  readonly #streams = new Set<NetStream>();
  readonly #dialing = new Set<net.Socket>();
  /** Accepted sockets whose first byte has not arrived yet, or whose TLS handshake is running. */
  readonly #sniffing = new Set<net.Socket>();
  readonly #linkTls: LinkTls | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #stats: Mutable<Omit<NetTransportStats, 'streamsOpen'>> = {
    packetsIn: 0,
    bytesIn: 0,
    packetsOut: 0,
    bytesOut: 0,
    packetsDroppedIn: 0,
    packetsDroppedOut: 0,
    packetsRefused: 0,
    packetSendErrors: 0,
    packetsUnhandled: 0,
    streamsAccepted: 0,
    streamsRefused: 0,
    streamsDialed: 0,
    dialFailures: 0,
    streamFailures: 0,
  };

  private constructor(udp: dgram.Socket, tcp: net.Server, port: number, options: NetTransportOptions) {
    this.#udp = udp;
    this.#tcp = tcp;
    this.local = { host: options.bind.host, port };
    this.advertise =
      options.advertise === undefined
        ? this.local
        : { host: options.advertise.host, port: options.advertise.port === 0 ? port : options.advertise.port };
    this.#dropHook = options.dropHook;
    this.#maxPacket = options.maxPacketBytes ?? DEFAULT_MAX_PACKET;
    this.#maxStreams = options.maxStreams ?? 1024;
    this.#dialFrom = options.dialFromBindAddress === false || isUnspecified(options.bind.host) ? undefined : options.bind.host;
    this.#logger = options.logger ?? silentLogger;
    this.#streamHooks = {
      maxBuffer: options.maxStreamBufferBytes ?? DEFAULT_STREAM_BUFFER,
      lingerMs: options.closeLingerMs ?? 1000,
      finished: (stream, failed) => {
        this.#streams.delete(stream);
        if (failed) this.#stats.streamFailures++;
      },
    };
    udp.on('message', (msg, rinfo) => this.#onPacket(msg, rinfo));
    udp.on('error', (err) => this.#logger.warn({ err: err.message }, 'cluster transport: UDP socket error'));
    this.#linkTls =
      options.linkTls === undefined
        ? undefined
        : new LinkTls(options.linkTls, { secure: (s) => this.#tlsAccepted(s), refused: (err, s) => this.#tlsRefused(err, s) });
    tcp.on('connection', (socket) => this.#onConnection(socket));
    tcp.on('error', (err) => this.#logger.warn({ err: err.message }, 'cluster transport: TCP listener error'));
    try {
      udp.setRecvBufferSize(UDP_RECV_BUFFER);
    } catch {
      // memberlist halves until it fits; the OS default is fine for us
    }
  }

  /** Binds UDP and TCP on the same address and port (see the file comment for port 0). */
  static async create(options: NetTransportOptions): Promise<NetTransport> {
    const { host, port } = options.bind;
    if (!net.isIP(host)) throw new TypeError(`bind host must be an IP address, not ${JSON.stringify(host)}`);
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`bind port out of range: ${port}`);
    const type = familyOf(host) === 6 ? 'udp6' : 'udp4';
    if (port !== 0) {
      const udp = await bindUdp(type, host, port);
      try {
        const tcp = await listenTcp(host, port);
        return new NetTransport(udp, tcp, port, options);
      } catch (err) {
        await closeUdp(udp);
        throw err;
      }
    }
    const attempts = options.bindAttempts ?? 32;
    let last: unknown;
    for (let i = 0; i < attempts; i++) {
      const udp = await bindUdp(type, host, 0);
      const picked = udp.address().port;
      try {
        const tcp = await listenTcp(host, picked);
        return new NetTransport(udp, tcp, picked, options);
      } catch (err) {
        await closeUdp(udp);
        if (errorCode(err) !== 'EADDRINUSE' && errorCode(err) !== 'EACCES') throw err;
        last = err;
      }
    }
    throw new Error(`no port free for both UDP and TCP on ${host} after ${attempts} attempts`, { cause: last });
  }

  /** A snapshot of the counters. */
  stats(): NetTransportStats {
    return { ...this.#stats, streamsOpen: this.#streams.size };
  }

  get closed(): boolean {
    return this.#closed;
  }

  sendPacket(to: Address, bytes: Uint8Array): void {
    if (this.#closed || bytes.length > this.#maxPacket) {
      this.#stats.packetsRefused++;
      return;
    }
    if (this.#dropHook?.dropPacket?.('out', to, bytes) === true) {
      this.#stats.packetsDroppedOut++;
      return;
    }
    try {
      this.#udp.send(bytes, to.port, to.host, (err) => {
        if (err !== null && err !== undefined) {
          this.#stats.packetSendErrors++;
          this.#logger.debug({ to: addressKey(to), err: err.message }, 'cluster transport: packet send failed');
          return;
        }
        this.#stats.packetsOut++;
        this.#stats.bytesOut += bytes.length;
      });
    } catch (err) {
      // bad port, closed socket, ...: a packet is best effort
      this.#stats.packetSendErrors++;
      this.#logger.debug({ to: addressKey(to), err: err instanceof Error ? err.message : String(err) }, 'cluster transport: packet send failed');
    }
  }

  onPacket(fn: (bytes: Uint8Array, from: Address, receivedAt: number) => void): void {
    this.#packetHandlers.push(fn);
  }

  onStream(fn: (stream: Stream) => void): void {
    this.#streamHandler = fn;
  }

  /** Accepted streams whose first byte is LINK_MAGIC go to `fn` (the byte stays in the stream). */
  onLinkStream(fn: (stream: Stream) => void): void {
    this.#linkHandler = fn;
  }

  /** True when the link runs over mTLS. */
  get mtls(): boolean {
    return this.#linkTls !== undefined;
  }

  /**
   * Swaps the link's TLS material for new connections (a certificate reload); open connections keep
   * theirs. Throws when mTLS is off (it is turned on only at start) or the PEM texts are unusable.
   */
  setTlsMaterial(material: LinkTlsMaterial): void {
    if (this.#linkTls === undefined) throw new Error('the link runs without mTLS: its TLS material cannot be set (security.cluster.mtls.enabled is off)');
    this.#linkTls.set(material);
  }

  /**
   * From now on a link peer whose certificate `check` names a reason for (it is revoked) is refused at
   * its handshake, on both sides. Connections already open are closed by `closeRevoked`.
   */
  setRevocationCheck(check: RevocationCheck): void {
    this.#linkTls?.setRevocationCheck(check);
  }

  /** Closes every open link stream whose peer certificate is revoked now, with a log line each; how many. */
  closeRevoked(): number {
    let closed = 0;
    for (const s of [...this.#streams]) {
      const cert = s.peerCert;
      const why = cert === undefined ? undefined : this.#linkTls?.revoked(cert);
      if (cert === undefined || why === undefined) continue;
      closed++;
      this.#logger.warn(
        { peer: addressKey(s.remote), serial: cert.serialNumber.toUpperCase(), reason: 'revoked' },
        `cluster link: closed the link connection with ${addressKey(s.remote)} (${certNames(cert)}): ${why}`,
      );
      s.destroy();
    }
    return closed;
  }

  /** The certificates the peers of the open link streams presented (verified against the cluster CA). */
  linkPeerCerts(): X509Certificate[] {
    const out: X509Certificate[] = [];
    for (const s of this.#streams) if (s.peerCert !== undefined) out.push(s.peerCert);
    return out;
  }

  /**
   * Opens a stream for the node-to-node link to `node` at `to`: TLS when mTLS is on (the peer's
   * certificate must chain to the cluster CA and name `node`), plain TCP otherwise.
   */
  dialLink(to: Address, timeoutMs: number, node: string): Promise<Stream> {
    return this.#dial(to, timeoutMs, this.#linkTls === undefined ? undefined : node);
  }

  dial(to: Address, timeoutMs: number): Promise<Stream> {
    return this.#dial(to, timeoutMs, undefined);
  }

  #dial(to: Address, timeoutMs: number, tlsNode: string | undefined): Promise<Stream> {
    if (this.#closed) return Promise.reject(new TransportError('closed', 'transport is closed'));
    if (this.#dropHook?.dropStream?.('out', to) === true) {
      this.#stats.dialFailures++;
      return Promise.reject(new TransportError('dropped', `dial to ${addressKey(to)} dropped by the drop hook`));
    }
    const localAddress = this.#dialFrom !== undefined && familyOf(this.#dialFrom) === familyOf(to.host) ? this.#dialFrom : undefined;
    return new Promise<Stream>((resolve, reject) => {
      let settled = false;
      const socket = net.connect({ host: to.host, port: to.port, allowHalfOpen: true, noDelay: true, ...(localAddress === undefined ? {} : { localAddress }) });
      this.#dialing.add(socket);
      const settle = (err: Error | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#dialing.delete(socket);
        socket.off('error', onError);
        if (err !== undefined) {
          this.#stats.dialFailures++;
          socket.destroy();
          secured?.destroy();
          reject(err);
          return;
        }
        if (this.#closed) {
          this.#stats.dialFailures++;
          socket.destroy();
          secured?.destroy();
          reject(new TransportError('closed', 'transport is closed'));
          return;
        }
        this.#stats.streamsDialed++;
        const stream = new NetStream(secured ?? socket, { host: to.host, port: to.port }, this.#streamHooks, secured?.getPeerX509Certificate());
        this.#streams.add(stream);
        resolve(stream);
      };
      let secured: tls.TLSSocket | undefined;
      const onError = (err: Error): void =>
        settle(
          new TransportError('dial-failed', `${secured === undefined ? 'dial' : `TLS handshake with node ${tlsNode ?? '?'}`} at ${addressKey(to)} failed: ${err.message}`, {
            cause: err,
            tls: secured !== undefined,
          }),
        );
      const timer = setTimeout(() => settle(new TransportError('dial-timeout', `dial to ${addressKey(to)} timed out after ${timeoutMs} ms`)), timeoutMs);
      socket.once('connect', () => {
        if (tlsNode === undefined || this.#linkTls === undefined) {
          settle(undefined);
          return;
        }
        // The same timer bounds the TLS handshake. The TLS socket reports the connection's errors
        // from now on; the TCP socket under it must not raise an uncaught one meanwhile.
        socket.on('error', () => undefined);
        const t = this.#linkTls.connect(socket, tlsNode);
        secured = t;
        // Kept on a failed handshake (settle ignores what follows the first error), so that a second
        // error of a socket being torn down is not an uncaught one.
        t.on('error', onError);
        t.once('secureConnect', () => {
          t.off('error', onError);
          settle(undefined);
        });
      });
      socket.once('error', onError);
    });
  }

  /** Stops listening, fails open streams and pending dials, and frees the port. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    for (const s of this.#dialing) s.destroy();
    this.#dialing.clear();
    for (const s of this.#sniffing) s.destroy();
    this.#sniffing.clear();
    for (const s of [...this.#streams]) s.destroy();
    await Promise.all([closeUdp(this.#udp), closeServer(this.#tcp)]);
  }

  #onPacket(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const receivedAt = Date.now();
    const from: Address = { host: normalizeHost(rinfo.address), port: rinfo.port };
    if (this.#dropHook?.dropPacket?.('in', from, msg) === true) {
      this.#stats.packetsDroppedIn++;
      return;
    }
    this.#stats.packetsIn++;
    this.#stats.bytesIn += msg.length;
    if (msg.length === 0 || this.#packetHandlers.length === 0) {
      this.#stats.packetsUnhandled++;
      return;
    }
    for (const fn of this.#packetHandlers) {
      try {
        fn(new Uint8Array(msg), from, receivedAt);
      } catch (err) {
        this.#stats.packetsUnhandled++;
        this.#logger.warn({ from: addressKey(from), err: err instanceof Error ? err.message : String(err) }, 'cluster transport: packet handler threw');
      }
    }
  }

  #onConnection(socket: net.Socket): void {
    const remote: Address = { host: normalizeHost(socket.remoteAddress ?? ''), port: socket.remotePort ?? 0 };
    const handler = this.#streamHandler;
    if (
      this.#closed ||
      handler === undefined ||
      this.#streams.size + this.#sniffing.size >= this.#maxStreams ||
      this.#dropHook?.dropStream?.('in', remote) === true
    ) {
      this.#stats.streamsRefused++;
      socket.destroy();
      return;
    }
    this.#stats.streamsAccepted++;
    const link = this.#linkHandler;
    if (link === undefined) {
      this.#handOver(this.#adopt(socket, remote), handler);
      return;
    }
    // memberlist's dialer always writes first, so waiting for the first byte costs it nothing. The
    // byte is read from the socket itself and put back, so that TLS can start over it.
    this.#sniffing.add(socket);
    const deadline = setTimeout(() => socket.destroy(), SNIFF_DEADLINE_MS);
    deadline.unref();
    const done = (): void => {
      clearTimeout(deadline);
      this.#sniffing.delete(socket);
      socket.off('readable', onReadable);
      socket.off('close', done);
    };
    const onReadable = (): void => {
      const chunk = socket.read() as Buffer | null;
      if (chunk === null || chunk.length === 0) return;
      done();
      socket.unshift(chunk);
      this.#route(socket, remote, chunk[0] as number, handler, link);
    };
    socket.on('readable', onReadable);
    socket.once('close', done);
    socket.on('error', () => undefined); // reported by the stream made of it, if any
  }

  /** An accepted stream goes to the link (plain or TLS) or to membership by its first byte. */
  #route(socket: net.Socket, remote: Address, first: number, handler: (stream: Stream) => void, link: (stream: Stream) => void): void {
    const tlsOn = this.#linkTls;
    if (first === LINK_MAGIC && tlsOn !== undefined) {
      this.#stats.streamsRefused++;
      const why = 'this node requires mTLS for the link (security.cluster.mtls.enabled); enable it on the peer too';
      this.#logger.warn({ from: addressKey(remote), reason: 'plaintext' }, `cluster link: refused a plaintext link stream from ${addressKey(remote)}: ${why}`);
      socket.end(encodeGoAway(`auth: ${why}`));
      setTimeout(() => socket.destroy(), this.#streamHooks.lingerMs).unref();
      return;
    }
    if (first === TLS_HANDSHAKE_RECORD && tlsOn !== undefined) {
      // The TLS server side verifies the chain; #tlsAccepted hands the stream to the link.
      this.#sniffing.add(socket);
      socket.once('close', () => this.#sniffing.delete(socket));
      tlsOn.accept(socket);
      return;
    }
    const stream = this.#adopt(socket, remote);
    // Resume the flow that reading the first byte paused: the stream's reader gets that byte first.
    socket.resume();
    this.#handOver(stream, first === LINK_MAGIC ? link : handler);
  }

  #adopt(socket: net.Socket, remote: Address, peerCert?: X509Certificate): NetStream {
    const stream = new NetStream(socket, remote, this.#streamHooks, peerCert);
    this.#streams.add(stream);
    return stream;
  }

  #tlsAccepted(t: tls.TLSSocket): void {
    this.#sniffing.delete(underlying(t));
    const remote: Address = { host: normalizeHost(t.remoteAddress ?? ''), port: t.remotePort ?? 0 };
    const link = this.#linkHandler;
    if (this.#closed || link === undefined) {
      t.destroy();
      return;
    }
    const cert = t.getPeerX509Certificate();
    const revoked = cert === undefined ? undefined : this.#linkTls?.revoked(cert);
    if (cert !== undefined && revoked !== undefined) {
      this.#stats.streamsRefused++;
      this.#logger.warn(
        { from: addressKey(remote), serial: cert.serialNumber.toUpperCase(), reason: 'revoked' },
        `cluster link: refused a TLS link connection from ${addressKey(remote)} (${certNames(cert)}): ${revoked}`,
      );
      t.destroy();
      return;
    }
    this.#handOver(this.#adopt(t, remote, cert), link);
  }

  #tlsRefused(err: Error, t: tls.TLSSocket): void {
    this.#stats.streamsRefused++;
    // The TLS socket forgets its address once destroyed (a refused certificate): read the socket under it.
    const under = underlying(t);
    const remote = addressKey({ host: normalizeHost(under.remoteAddress ?? ''), port: under.remotePort ?? 0 });
    // A certificate that failed verification shows as a reset: the verify code says why.
    // (null, not undefined, when the handshake failed before any certificate was verified)
    const code = (t as tls.TLSSocket & { authorizationError?: string | null }).authorizationError ?? undefined;
    const reason = code !== undefined ? verifyReason(code) : `the TLS handshake failed: ${err.message}`;
    this.#logger.warn({ from: remote, reason: code ?? (err as NodeJS.ErrnoException).code ?? 'tls' }, `cluster link: refused a TLS link connection from ${remote}: ${reason}`);
    t.destroy();
  }

  #handOver(stream: NetStream, handler: (stream: Stream) => void): void {
    try {
      handler(stream);
    } catch (err) {
      this.#logger.warn({ from: addressKey(stream.remote), err: err instanceof Error ? err.message : String(err) }, 'cluster transport: stream handler threw');
      stream.destroy();
    }
  }
}
