/**
 * The direct path: agent-to-agent messages between workers of two nodes over a TCP connection of
 * their own, without crossing either node's main thread (docs/cluster-routing.md, "The direct path").
 * The main thread's link stays the path of everything else, and of every message until a route exists.
 *
 * A route is per receiver name, in the sending worker:
 *
 * 1. The main thread routes an agent's message to another node and *grants* the worker a route for
 *    that name (the worker posts nothing for it meanwhile but its fence, see 2).
 * 2. The worker starts queueing messages for the name (pending) and asks the main thread to send a
 *    *fence* to the other node over the link, behind every message it sent there before. The fence
 *    carries a random token and this worker's listening address. The other node hands the fence to
 *    the worker that hosts the agent, in order with its deliveries.
 * 3. That worker answers on a connection to this one (dialed, or one it already has): HELLO with the
 *    token, then FENCE_OK. Everything the main path carried is in its mailbox by then, so the queued
 *    messages are written on the connection, and the name's messages take it from now on (open).
 *
 * Order per name is kept at both switches: main → direct by the fence; direct → main (an at-least-once
 * message, which needs the main thread's outbox acknowledgements) by CLOSE, answered CLOSED after the
 * messages before it; in the meantime messages queue here. A route is dropped without a fence when it
 * cannot be kept anyway: its connection closed (at-most-once messages in flight on it are lost, as on
 * the link), or the other side answered REVOKE (the agent is not there any more; that message went on
 * through its main thread, as a message with a stale directory entry does on the link).
 *
 * Authentication: a connection is taken only once its first frame presents a token this worker sent
 * in a fence, which travelled over the authenticated link; a wrong token closes it. A token whose fence
 * timed out still opens a connection for a minute (its FENCE_OK is ignored): the peer may have put
 * FENCE_OKs for other, current fences on the same new connection.
 *
 * With mTLS on (security.cluster.mtls) every connection is TLS 1.3 with the link's own certificates,
 * authenticated both ways: the dialing worker's peer must present a certificate of the cluster CA that
 * names the node whose fence it answers, the accepting one a certificate naming the node its HELLO
 * claims; a revoked certificate is refused on both sides, and an open connection whose peer is revoked
 * later is closed.
 */
import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate, randomBytes } from 'node:crypto';
import { certNames, namesNode } from '../../security/cert-names.js';
import { RevokedCerts, type RevokedEntry } from '../../security/revoked-certs.js';
import { verifyReason, type LinkTlsMaterial } from '../../cluster/transport/link-tls.js';
import { HostError } from '../abi.js';
import { DirectFrameError, FrameKind, FrameReader, FrameWriter, type FrameKindCode, type FrameVisitor } from './direct-frames.js';
import type { PriorityLevel } from './mailbox.js';

/** How a worker's direct path starts (ToWorker 'direct_start'). */
export interface DirectStart {
  /** This node's name, sent in HELLO. */
  readonly node: string;
  /** Where this worker listens (the cluster's bind host), and the port (0: any free one). */
  readonly bindHost: string;
  readonly port: number;
  /** The host other nodes dial (the cluster's advertised host). */
  readonly advertiseHost: string;
  /** Largest frame accepted: the largest message plus its receiver's name. */
  readonly maxFrameBytes: number;
  /** With mTLS on: TLS 1.3 on every connection, with the link's material... */
  readonly tls?: DirectTls;
  /** ...and its revocation list (later rows come with DirectLink.revoke). */
  readonly revoked?: readonly RevokedEntry[];
}

/** The node's PEM texts: the link's own. */
export type DirectTls = LinkTlsMaterial;

/** What the direct path needs from its worker. */
export interface DirectHost {
  /**
   * Queues a message for an agent of this worker (a refusal is answered as for any delivery); false
   * when no agent of the worker by that name takes it (none, or it is leaving) and the message was
   * handed to the main thread instead: the sender is told REVOKE.
   */
  deliver(to: string, json: string, priority: PriorityLevel, origin: string): boolean;
  /** Hands messages to the main thread's path, in this order: flat [from, to, json, priority, ...]. */
  viaMain(batch: (string | number)[]): void;
  /** Asks the main thread to send a fence for `name` to `node` (FromWorker 'fence'). */
  fence(name: string, node: string, token: string, host: string, port: number): void;
  /** Runs what the deliveries queued. */
  drain(): void;
  warn(text: string): void;
  /** Counters the main thread reads for the metrics: [sent, received, open routes]. */
  readonly counters: Float64Array;
}

export const COUNTER_SENT = 0;
export const COUNTER_RECEIVED = 1;
export const COUNTER_ROUTES = 2;
export const DIRECT_COUNTERS = 3;

/** How long a fence may take before its queued messages go the main thread's way after all, ms. */
export const FENCE_TIMEOUT_MS = 2000;
/** A node whose fence timed out (an older version ignores fences) gets no route for this long, ms. */
const NODE_COOLDOWN_MS = 60_000;
/** A name whose route was refused, closed or timed out gets no new one for this long, ms. */
const NAME_COOLDOWN_MS = 10_000;
/**
 * After REVOKE (the agent moved) or a refused fence (where the name lives changed between the grant and
 * the fence, as when a directory entry arrives): soon again, the next grant names its new node.
 */
const RETRY_COOLDOWN_MS = 1000;
/** Bytes a connection may have waiting to be written before sends on it are refused (backpressure). */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/**
 * Messages queued for one name while its route switches, at most, and their JSON's length in UTF-16
 * units (bytes for ASCII), at most: what FENCE_OK writes at once, beyond the connection's own limit.
 */
const MAX_QUEUED = 10_000;
const MAX_QUEUED_CHARS = MAX_BUFFERED_BYTES;
/** How long a timed-out fence's token still authenticates a new connection, ms. */
const SPENT_TOKEN_MS = 60_000;
/** Time an accepted connection has to present its token, ms. */
const HELLO_TIMEOUT_MS = 2000;
const MAX_COOLDOWNS = 10_000;

interface Pending {
  readonly state: 'pending';
  readonly node: string;
  readonly token: string;
  /** Flat [from, to, json, priority, ...] queued since the grant. */
  readonly queue: (string | number)[];
  /** The queued JSON's length. */
  chars: number;
  /** An at-least-once message is among them: the route is not opened (it would bypass the outbox acks). */
  reliable: boolean;
  readonly timer: NodeJS.Timeout;
}

interface Open {
  readonly state: 'open';
  readonly node: string;
  readonly conn: Conn;
}

interface Closing {
  readonly state: 'closing';
  readonly node: string;
  readonly conn: Conn;
  readonly queue: (string | number)[];
  chars: number;
  readonly timer: NodeJS.Timeout;
}

type Route = Pending | Open | Closing;

class Conn {
  readonly reader: FrameReader;
  readonly writer = new FrameWriter();
  /** The peer node, once known (dialed: from the fence; accepted: from its HELLO). */
  node: string;
  /** The peer worker, node@host:port ('' until an accepted connection's HELLO). */
  key: string;
  authed: boolean;
  dirty = false;
  closed = false;
  /** Names routed over this connection. */
  readonly routes = new Set<string>();
  /** Names REVOKE was written for since the last flush. */
  readonly revoked = new Set<string>();
  helloTimer: NodeJS.Timeout | undefined;

  constructor(readonly socket: net.Socket, maxFrameBytes: number, node: string, key: string, authed: boolean) {
    this.reader = new FrameReader(maxFrameBytes);
    this.node = node;
    this.key = key;
    this.authed = authed;
  }
}

export class DirectLink {
  readonly #host: DirectHost;
  readonly #cfg: DirectStart;
  readonly #server: net.Server;
  /** With mTLS on: the accepting side's TLS (fed by #server) and the dialing side's context; else plain TCP. */
  #tlsServer: tls.Server | undefined;
  #clientContext: tls.SecureContext | undefined;
  readonly #revoked = new RevokedCerts();
  #port = 0;
  readonly #routes = new Map<string, Route>();
  /** Outstanding fence tokens → the name they are for. */
  readonly #tokens = new Map<string, string>();
  /** Tokens of fences that timed out → until when they still authenticate a connection (SPENT_TOKEN_MS). */
  readonly #spent = new Map<string, number>();
  /**
   * Connections by the peer worker: "node@host:port" (its node and listening address). The node is in
   * the key so that a connection whose HELLO claimed another node's address is never reused to answer
   * that node's fences (with mTLS the HELLO's node is the certificate's; the address is not checked).
   */
  readonly #conns = new Map<string, Conn>();
  readonly #all = new Set<Conn>();
  readonly #dirty: Conn[] = [];
  readonly #nameCooldown = new Map<string, number>();
  readonly #nodeCooldown = new Map<string, number>();
  /** Nodes a fence was answered through (they know the direct path). */
  readonly #answered = new Set<string>();
  #closed = false;

  private constructor(host: DirectHost, cfg: DirectStart) {
    this.#host = host;
    this.#cfg = cfg;
    const accepted = (s: net.Socket): void => this.#accepted(s);
    if (cfg.tls === undefined) {
      this.#server = net.createServer({ noDelay: true }, accepted);
      return;
    }
    // A TLS server that never listens: the TCP listener hands it each socket (as the link's LinkTls),
    // noting its address first, which a socket whose handshake failed no longer knows.
    const remotes = new WeakMap<net.Socket, string>();
    const tlsServer = tls.createServer({ ...tlsOptions(cfg.tls), requestCert: true, rejectUnauthorized: true, handshakeTimeout: HELLO_TIMEOUT_MS }, accepted);
    tlsServer.on('tlsClientError', (e: Error, s: tls.TLSSocket) => {
      const parent = (s as tls.TLSSocket & { _parent?: net.Socket })._parent;
      const from = (parent === undefined ? undefined : remotes.get(parent)) ?? 'an unknown peer';
      // With a verify code this side refused the peer's certificate; without, the handshake failed
      // (not TLS, a timeout, or the peer refused this side's certificate).
      const code = (s as tls.TLSSocket & { authorizationError?: string | null }).authorizationError;
      host.warn(typeof code !== 'string' ? `direct path: a TLS handshake from ${from} failed: ${e.message}` : `direct path: refused a TLS connection from ${from}: ${verifyReason(code)}`);
      s.destroy();
    });
    this.#tlsServer = tlsServer;
    this.#server = net.createServer({ noDelay: true }, (s) => {
      remotes.set(s, s.remoteAddress ?? 'an unknown peer');
      tlsServer.emit('connection', s);
    });
    this.#clientContext = tls.createSecureContext(tlsOptions(cfg.tls));
    this.#revoked.add(cfg.revoked ?? []);
  }

  /** Listens; resolves with the direct path once the port is bound. */
  static async start(host: DirectHost, cfg: DirectStart): Promise<DirectLink> {
    const link = new DirectLink(host, cfg);
    await new Promise<void>((resolve, reject) => {
      link.#server.once('error', reject);
      link.#server.listen(cfg.port, cfg.bindHost, () => {
        link.#server.off('error', reject);
        resolve();
      });
    });
    link.#port = (link.#server.address() as net.AddressInfo).port;
    link.#server.on('error', (e) => host.warn(`direct path: the listener failed: ${e.message}`));
    return link;
  }

  get port(): number {
    return this.#port;
  }

  /**
   * Sends a message by the name's route: HostError.OK (written or queued), BACKPRESSURE (refused: the
   * connection or the queue is full), or undefined when the name has no route (the main thread's path).
   */
  send(from: string, to: string, json: string, priority: PriorityLevel, reliable: boolean): number | undefined {
    const r = this.#routes.get(to);
    if (r === undefined) return undefined;
    if (r.state === 'open') {
      const c = r.conn;
      if (reliable) {
        this.#closeRoute(to, r);
        return this.#queue(this.#routes.get(to) as Closing, from, to, json, priority);
      }
      if (c.socket.writableLength + c.writer.length > MAX_BUFFERED_BYTES) return HostError.BACKPRESSURE;
      c.writer.message(to, json, priority);
      this.#markDirty(c);
      this.#count(COUNTER_SENT, 1);
      return HostError.OK;
    }
    if (reliable && r.state === 'pending') r.reliable = true;
    return this.#queue(r, from, to, json, priority);
  }

  /** The main thread routed a message of this worker's to `name` on `node`: try to open a route. */
  grant(name: string, node: string): void {
    if (this.#closed || this.#routes.has(name)) return;
    const now = Date.now();
    if ((this.#nameCooldown.get(name) ?? 0) > now || (this.#nodeCooldown.get(node) ?? 0) > now) return;
    const token = randomBytes(12).toString('hex');
    const timer = setTimeout(() => this.#fenceTimedOut(name, token), FENCE_TIMEOUT_MS);
    timer.unref();
    this.#routes.set(name, { state: 'pending', node, token, queue: [], chars: 0, reliable: false, timer });
    this.#tokens.set(token, name);
    this.#host.fence(name, node, token, this.#cfg.advertiseHost, this.#port);
  }

  /** The main thread could not send the fence (the name's place changed, the link refused). */
  refused(name: string): void {
    const r = this.#routes.get(name);
    if (r?.state === 'pending') this.#giveUp(name, r, RETRY_COOLDOWN_MS);
  }

  /**
   * A fence from another node's worker reached this worker's agent `name` (every message the main
   * path carried before it is queued here): answer it on a connection to that worker.
   */
  fenceArrived(name: string, token: string, host: string, port: number, node: string): void {
    if (this.#closed) return;
    const key = `${node}@${host}:${port}`;
    let c = this.#conns.get(key);
    if (c === undefined || c.closed) {
      c = this.#adopt(this.#dial(host, port, node), node, key, true);
      this.#conns.set(key, c);
      c.writer.control(FrameKind.HELLO, { token, node: this.#cfg.node, host: this.#cfg.advertiseHost, port: this.#port });
    }
    c.writer.control(FrameKind.FENCE_OK, { token, name });
    this.#markDirty(c);
    this.flush();
  }

  /**
   * New connections use `material` from now on (rotate-certs, SIGHUP); open ones keep theirs. A path
   * started without TLS stays so: switching mTLS on or off takes a restart, as for the link.
   */
  setTls(material: DirectTls): void {
    if (this.#clientContext === undefined) return;
    try {
      const context = tls.createSecureContext(tlsOptions(material));
      this.#tlsServer?.setSecureContext(tlsOptions(material));
      this.#clientContext = context;
    } catch (e) {
      this.#host.warn(`direct path: the new TLS material was not taken (${(e as Error).message}); new connections keep the previous certificates`);
    }
  }

  /** Rows added to the revocation list: connections whose peer certificate they revoke are closed. */
  revoke(rows: readonly RevokedEntry[]): void {
    if (this.#clientContext === undefined || this.#revoked.add(rows).length === 0) return;
    for (const c of [...this.#all]) {
      const peer = (c.socket as tls.TLSSocket).getPeerX509Certificate();
      const why = peer === undefined ? undefined : this.#revoked.check(peer);
      if (why !== undefined) this.#destroy(c, why);
    }
  }

  /** A node left the view: its connections are closed, its pending routes go the main thread's way. */
  dropNode(node: string): void {
    for (const c of this.#all) if (c.node === node) this.#destroy(c, undefined);
    for (const [name, r] of this.#routes) if (r.state === 'pending' && r.node === node) this.#giveUp(name, r, 0);
  }

  /** Writes what this turn gathered, one socket write per connection. */
  flush(): void {
    const d = this.#dirty;
    for (let i = 0; i < d.length; i++) this.#flushConn(d[i] as Conn);
    d.length = 0;
  }

  close(): void {
    this.#closed = true;
    this.#server.close();
    for (const c of [...this.#all]) this.#destroy(c, undefined);
    for (const [name, r] of [...this.#routes]) if (r.state === 'pending') this.#giveUp(name, r, 0);
  }

  #queue(r: Pending | Closing, from: string, to: string, json: string, priority: PriorityLevel): number {
    if (r.queue.length >= MAX_QUEUED * 4 || (r.chars > 0 && r.chars + json.length > MAX_QUEUED_CHARS)) return HostError.BACKPRESSURE;
    r.queue.push(from, to, json, priority);
    r.chars += json.length;
    return HostError.OK;
  }

  #count(i: number, by: number): void {
    const c = this.#host.counters;
    c[i] = (c[i] as number) + by;
  }

  #markDirty(c: Conn): void {
    if (c.dirty) return;
    c.dirty = true;
    this.#dirty.push(c);
  }

  #flushConn(c: Conn): void {
    c.dirty = false;
    c.revoked.clear();
    if (c.closed) return; // (a socket still connecting keeps what is written until it is)
    const buf = c.writer.take();
    if (buf !== undefined) c.socket.write(buf);
  }

  /** No more direct messages for `name`: CLOSE on the connection, then the queue goes the main way. */
  #closeRoute(name: string, r: Open): void {
    const timer = setTimeout(() => {
      // No CLOSED (a stuck peer): the connection is closed, so that what the peer had not taken is
      // lost, as on any lost connection, rather than taken late, behind the queue that goes the main way.
      const now = this.#routes.get(name);
      if (now?.state === 'closing' && now.timer === timer) this.#destroy(now.conn, `no CLOSED for ${name} within ${FENCE_TIMEOUT_MS} ms`);
    }, FENCE_TIMEOUT_MS);
    timer.unref();
    this.#routes.set(name, { state: 'closing', node: r.node, conn: r.conn, queue: [], chars: 0, timer });
    this.#count(COUNTER_ROUTES, -1);
    r.conn.writer.control(FrameKind.CLOSE, { name });
    this.#markDirty(r.conn);
  }

  #fenceTimedOut(name: string, token: string): void {
    const r = this.#routes.get(name);
    if (r?.state !== 'pending' || r.token !== token) return;
    // A node that never answered a fence is most likely of an older version, which ignores them: it is
    // not asked again for a while. One that did answer before lost this one's agent on the way.
    const answered = this.#answered.has(r.node);
    const now = Date.now();
    if (!answered) this.#nodeCooldown.set(r.node, now + NODE_COOLDOWN_MS);
    if (this.#spent.size >= MAX_COOLDOWNS) for (const [t, until] of this.#spent) if (until <= now) this.#spent.delete(t);
    if (this.#spent.size < MAX_COOLDOWNS) this.#spent.set(token, now + SPENT_TOKEN_MS);
    this.#host.warn(`direct path: the fence for ${name} sent to node ${r.node} got no answer within ${FENCE_TIMEOUT_MS} ms; its messages take the link${answered ? '' : `, and node ${r.node} is not offered a route for ${NODE_COOLDOWN_MS / 1000} s`}`);
    this.#giveUp(name, r, NAME_COOLDOWN_MS);
  }

  /** A pending route that will not open: its queue goes the main thread's way, in order. */
  #giveUp(name: string, r: Pending, cooldownMs: number): void {
    clearTimeout(r.timer);
    this.#tokens.delete(r.token);
    this.#routes.delete(name);
    this.#cool(name, cooldownMs);
    if (r.queue.length > 0) this.#host.viaMain(r.queue);
  }

  /** A closing route whose peer took everything before CLOSE (or never will): the rest goes the main way. */
  #toMain(name: string, r: Closing, cooldownMs: number): void {
    clearTimeout(r.timer);
    this.#routes.delete(name);
    r.conn.routes.delete(name);
    this.#cool(name, cooldownMs);
    if (r.queue.length > 0) this.#host.viaMain(r.queue);
  }

  #cool(name: string, ms: number): void {
    if (ms <= 0) return;
    const now = Date.now();
    if (this.#nameCooldown.size >= MAX_COOLDOWNS) for (const [n, until] of this.#nameCooldown) if (until <= now) this.#nameCooldown.delete(n);
    if (this.#nameCooldown.size < MAX_COOLDOWNS) this.#nameCooldown.set(name, now + ms);
  }

  /** A connection to the worker listening at host:port on `node`, TLS when mTLS is on. */
  #dial(host: string, port: number, node: string): net.Socket {
    const context = this.#clientContext;
    if (context === undefined) return net.connect({ host, port, noDelay: true });
    const socket = tls.connect({
      host,
      port,
      secureContext: context,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      rejectUnauthorized: true,
      // Called once the chain verified: the host is an address, the identity is the node name.
      checkServerIdentity: (_host, cert) => {
        const x = new X509Certificate(cert.raw);
        if (!namesNode(x, node)) return new Error(`its certificate is for ${certNames(x)}, not for node ${node}, whose fence this answers`);
        const revoked = this.#revoked.check(x);
        return revoked === undefined ? undefined : new Error(revoked);
      },
    });
    socket.setNoDelay(true);
    socket.on('error', (e) => {
      if (!socket.authorized) this.#host.warn(`direct path: could not open a TLS connection to node ${node}'s worker at ${host}:${port}: ${e.message}`);
    });
    return socket;
  }

  #accepted(socket: net.Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    const peer = this.#clientContext === undefined ? undefined : (socket as tls.TLSSocket).getPeerX509Certificate();
    const revoked = peer === undefined ? undefined : this.#revoked.check(peer);
    if (revoked !== undefined) {
      this.#host.warn(`direct path: refused a TLS connection from ${socket.remoteAddress ?? 'an unknown peer'} (${certNames(peer as X509Certificate)}): ${revoked}`);
      socket.destroy();
      return;
    }
    const c = this.#adopt(socket, '', '', false);
    c.helloTimer = setTimeout(() => this.#destroy(c, 'no HELLO with a valid token in time'), HELLO_TIMEOUT_MS);
    c.helloTimer.unref();
  }

  #adopt(socket: net.Socket, node: string, key: string, authed: boolean): Conn {
    const c = new Conn(socket, this.#cfg.maxFrameBytes, node, key, authed);
    this.#all.add(c);
    const visitor = this.#visitor(c);
    socket.on('data', (chunk: Buffer) => {
      try {
        c.reader.push(chunk, visitor);
      } catch (e) {
        this.#destroy(c, e instanceof DirectFrameError ? `a protocol error: ${e.message}` : `a failure reading it: ${(e as Error).message}`);
        return;
      }
      this.#host.drain();
      this.flush();
    });
    socket.on('error', () => {}); // 'close' follows and cleans up; a refused dial means the fence times out
    socket.on('close', () => this.#destroy(c, undefined));
    return c;
  }

  #visitor(c: Conn): FrameVisitor {
    return {
      message: (to, json, priority) => {
        if (!c.authed) throw new DirectFrameError('a message before HELLO');
        this.#count(COUNTER_RECEIVED, 1);
        if (this.#host.deliver(to, json, priority, c.node) || c.revoked.has(to)) return;
        c.revoked.add(to);
        c.writer.control(FrameKind.REVOKE, { name: to });
        this.#markDirty(c);
      },
      control: (kind, body) => this.#control(c, kind, body),
    };
  }

  #control(c: Conn, kind: FrameKindCode, body: unknown): void {
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    if (kind === FrameKind.HELLO) {
      if (c.authed) throw new DirectFrameError('a second HELLO');
      // The token travelled only over the authenticated link; the node that answers may be another
      // than the one the fence was sent to (that one passed it on to where the agent is).
      const token = typeof b.token === 'string' ? b.token : '';
      const known = this.#tokens.has(token) || (this.#spent.get(token) ?? 0) > Date.now();
      if (!known || typeof b.node !== 'string' || b.node === '' || typeof b.host !== 'string' || typeof b.port !== 'number') {
        throw new DirectFrameError('a HELLO without a token this worker sent in a fence (or one no longer valid)');
      }
      if (this.#clientContext !== undefined) {
        const peer = (c.socket as tls.TLSSocket).getPeerX509Certificate();
        if (peer === undefined || !namesNode(peer, b.node)) throw new DirectFrameError(`a HELLO for node ${b.node} over TLS with a certificate for ${peer === undefined ? 'no one' : certNames(peer)}`);
      }
      c.authed = true;
      c.node = b.node;
      c.key = `${b.node}@${b.host}:${b.port}`;
      clearTimeout(c.helloTimer);
      if (!this.#conns.get(c.key) || this.#conns.get(c.key)?.closed === true) this.#conns.set(c.key, c);
      return;
    }
    if (!c.authed) throw new DirectFrameError(`a control frame (kind ${kind}) before HELLO`);
    const name = typeof b.name === 'string' ? b.name : '';
    switch (kind) {
      case FrameKind.FENCE_OK: {
        const r = this.#routes.get(name);
        if (r?.state !== 'pending' || r.token !== b.token) return; // late: it went the main way
        clearTimeout(r.timer);
        this.#tokens.delete(r.token);
        this.#answered.add(r.node);
        this.#answered.add(c.node);
        if (r.reliable) {
          // At-least-once messages came meanwhile: they need the link's acknowledgements, so no route.
          this.#routes.delete(name);
          this.#cool(name, NAME_COOLDOWN_MS);
          this.#host.viaMain(r.queue);
          return;
        }
        this.#routes.set(name, { state: 'open', node: c.node, conn: c });
        c.routes.add(name);
        this.#count(COUNTER_ROUTES, 1);
        const q = r.queue;
        for (let i = 0; i + 3 < q.length; i += 4) c.writer.message(q[i + 1] as string, q[i + 2] as string, q[i + 3] as PriorityLevel);
        this.#count(COUNTER_SENT, q.length / 4);
        this.#markDirty(c);
        return;
      }
      case FrameKind.REVOKE: {
        const r = this.#routes.get(name);
        if (r?.state === 'open' && r.conn === c) {
          this.#routes.delete(name);
          c.routes.delete(name);
          this.#count(COUNTER_ROUTES, -1);
          this.#cool(name, RETRY_COOLDOWN_MS);
        }
        return;
      }
      case FrameKind.CLOSE:
        c.writer.control(FrameKind.CLOSED, { name });
        this.#markDirty(c);
        return;
      case FrameKind.CLOSED: {
        const r = this.#routes.get(name);
        if (r?.state === 'closing' && r.conn === c) this.#toMain(name, r, NAME_COOLDOWN_MS);
        return;
      }
    }
  }

  #destroy(c: Conn, reason: string | undefined): void {
    if (c.closed) return;
    c.closed = true;
    clearTimeout(c.helloTimer);
    this.#all.delete(c);
    if (this.#conns.get(c.key) === c) this.#conns.delete(c.key);
    if (reason !== undefined) this.#host.warn(`direct path: closed the connection from ${c.node || c.socket.remoteAddress || 'an unknown peer'}: ${reason}`);
    c.socket.destroy();
    for (const name of c.routes) {
      const r = this.#routes.get(name);
      if (r === undefined || r.state === 'pending' || r.conn !== c) continue;
      if (r.state === 'open') {
        this.#routes.delete(name);
        this.#count(COUNTER_ROUTES, -1);
      } else this.#toMain(name, r, NAME_COOLDOWN_MS);
    }
    c.routes.clear();
  }
}

function tlsOptions(m: DirectTls): tls.SecureContextOptions {
  return { ca: m.ca, cert: m.cert, key: m.key, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' };
}
