/**
 * The node-to-node link: `Peers` (src/cluster/peers.ts) over one persistent connection per pair of
 * nodes. Per peer (peer-channel.ts) it keeps a bounded send queue of batch frames, the credit the
 * peer granted, the calls waiting for answers and a circuit breaker; connections come and go under it.
 *
 * - Posts and calls are encoded into the peer's current batch at once (batch.ts); the batch is closed
 *   and sent on the next turn of the event loop (setImmediate) or when it reaches 64 KiB.
 * - Credit: a peer lets us send `windowBytes` of batches, and grants more as it consumes them. A peer
 *   that stops reading stops granting, its queue fills to `maxQueueBytes`, and then post() says false
 *   for that peer only: nothing here ever waits for a peer.
 * - Both nodes may dial at once: the connection dialed by the smaller node name is kept
 *   (connection.ts, admit).
 * - A lost connection is re-dialed (with backoff) while something waits to be sent; calls whose frame
 *   went out on it fail with CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE (their outcome is unknown), calls not
 *   yet sent wait for the next connection.
 * - A heartbeat pings every open connection that was quiet for `heartbeatMs` and closes one that stayed
 *   silent for `deadAfterMs`.
 */
import { performance } from 'node:perf_hooks';
import { certNames, namesNode } from '../../security/cert-names.js';
import { CaxtonError, isErrorCode } from '../../errors.js';
import type { CallOptions, NodeName, PeerBody, Peers } from '../peers.js';
import { addressKey, type Address, type Stream } from '../transport/transport.js';
import { silentLogger, type ClusterLogger } from '../transport/logger.js';
import { BATCH_FLUSH_BYTES, EntryTooLarge, parseBatch, type BatchVisitor } from './batch.js';
import type { CircuitOptions } from './circuit.js';
import { LinkConnection, type CloseReason, type ConnectionOwner } from './connection.js';
import { DEFAULT_MAX_FRAME_BYTES, type FrameError } from './frame.js';
import { CALL_LATENCY_BOUNDS, PeerChannel, type PeerLinkStats, type Queued } from './peer-channel.js';

export { CALL_LATENCY_BOUNDS, type PeerLinkStats } from './peer-channel.js';

/** Where the link's connections come from: NetTransport, over plain TCP or mTLS (link-tls.ts). */
export interface LinkTransport {
  /** Opens a stream to node `node` at `to`; rejects after `timeoutMs` or on refusal. */
  dial(to: Address, timeoutMs: number, node: NodeName): Promise<Stream>;
  /** Streams other nodes opened to this one for the link (their first byte is LINK_MAGIC). */
  onStream(fn: (stream: Stream) => void): void;
}

export interface LinkOptions {
  readonly self: NodeName;
  readonly transport: LinkTransport;
  /** Where `node` is reachable now (an alive or suspect member's address), undefined when it is not. */
  readonly addressOf: (node: NodeName) => Address | undefined;
  /**
   * mTLS is on: an accepted connection must carry a verified certificate naming the node its Hello
   * claims (and, when membership knows nodes at the dialer's address, one of those). @default false
   */
  readonly requirePeerCert?: boolean;
  /** The names of the members membership knows at `host` (empty when none). */
  readonly namesAt?: (host: string) => readonly NodeName[];
  /** The gossip keys, primary first (read at each handshake, so rotations apply). None: no authentication. */
  readonly keys?: () => readonly Uint8Array[];
  /** Largest frame sent or accepted. @default 16 MiB */
  readonly maxFrameBytes?: number;
  /**
   * Bytes of batches a peer may send us before we grant more. @default 2 MiB (below NetTransport's
   * 4 MiB stream write buffer, so a peer that stops reading never fails the stream itself)
   */
  readonly windowBytes?: number;
  /** Bytes queued for one peer beyond which post() refuses. @default 16 MiB */
  readonly maxQueueBytes?: number;
  /** Ping a connection quiet for this long, ms. @default 1000 */
  readonly heartbeatMs?: number;
  /** Close a connection silent for this long, ms. @default 5000 */
  readonly deadAfterMs?: number;
  /** Dial timeout, ms. @default 2000 */
  readonly dialTimeoutMs?: number;
  /** Time for the whole handshake, ms. @default 2000 */
  readonly handshakeTimeoutMs?: number;
  /** First and largest delay between dial attempts, ms. @default 50 / 5000 */
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
  readonly circuit?: CircuitOptions;
  readonly logger?: ClusterLogger;
}

/** Bytes a connection may have written and not yet handed to the OS before the queue waits. */
const WRITE_AHEAD_BYTES = 1024 * 1024;

export interface LinkStats {
  readonly peers: readonly PeerLinkStats[];
  /** Connections closed, by peer ('' before the peer was known) and reason. */
  readonly closed: readonly { readonly peer: string; readonly reason: CloseReason; readonly count: number }[];
}

const unavailable = (msg: string): CaxtonError => new CaxtonError('CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', msg);

export class Link implements Peers, ConnectionOwner {
  readonly self: NodeName;
  readonly maxFrameBytes: number;
  readonly windowBytes: number;
  readonly #o: LinkOptions;
  readonly #maxQueue: number;
  readonly #heartbeatMs: number;
  readonly #deadAfterMs: number;
  readonly #log: ClusterLogger;
  readonly #keys: () => readonly Uint8Array[];
  readonly #peers = new Map<NodeName, PeerChannel>();
  readonly #postHandlers = new Map<string, (from: NodeName, body: PeerBody) => void>();
  readonly #callHandlers = new Map<string, (from: NodeName, body: PeerBody) => unknown>();
  /** Connections not yet open (accepted, or dialed), for the handshake timeout and shutdown. */
  readonly #handshaking = new Map<LinkConnection, NodeJS.Timeout>();
  readonly #closedByReason = new Map<string, number>();
  readonly #heartbeat: NodeJS.Timeout;
  #closed = false;

  constructor(options: LinkOptions) {
    this.#o = options;
    this.self = options.self;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.windowBytes = options.windowBytes ?? 2 * 1024 * 1024;
    this.#maxQueue = options.maxQueueBytes ?? 16 * 1024 * 1024;
    this.#heartbeatMs = options.heartbeatMs ?? 1000;
    this.#deadAfterMs = options.deadAfterMs ?? 5000;
    this.#log = options.logger ?? silentLogger;
    this.#keys = options.keys ?? (() => []);
    if (!(this.windowBytes >= 1024 && this.windowBytes <= 0xffffffff)) throw new RangeError(`link windowBytes ${this.windowBytes} must be between 1 KiB and 4 GiB`);
    if (!(this.maxFrameBytes >= 1024)) throw new RangeError(`link maxFrameBytes ${this.maxFrameBytes} must be at least 1 KiB`);
    options.transport.onStream((s) => this.#accept(s));
    this.#heartbeat = setInterval(() => this.#beat(), this.#heartbeatMs);
    this.#heartbeat.unref();
  }

  // ---------------------------------------------------------------------------------------------
  // Peers

  post(node: NodeName, kind: string, body: PeerBody): boolean {
    if (node === this.self) return this.#postLocal(kind, body);
    const p = this.#peerFor(node);
    if (p === undefined || !p.circuit.allows || p.queueBytes >= this.#maxQueue) {
      if (p !== undefined) p.stats.postsRefused++;
      return false;
    }
    try {
      p.writer.post(kind, body);
    } catch (e) {
      if (!(e instanceof EntryTooLarge)) throw e;
      p.stats.postsRefused++;
      this.#log.warn({ peer: node, kind, err: e.message }, 'cluster link: post refused, too large for one frame');
      return false;
    }
    p.countPost();
    p.stats.postsOut++;
    this.#queued(p);
    return true;
  }

  call<T = unknown>(node: NodeName, method: string, body: PeerBody, opts: CallOptions = {}): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    if (node === this.self) return this.#callLocal<T>(method, body);
    const p = this.#peerFor(node);
    if (p === undefined) return Promise.reject(unavailable(`node ${node} is not an alive member`));
    if (!p.circuit.allows) return Promise.reject(unavailable(`the circuit to node ${node} is open (it failed repeatedly); retry in ${p.circuit.retryInMs} ms`));
    if (p.queueBytes >= this.#maxQueue) return Promise.reject(unavailable(`node ${node} is not keeping up: its send queue is full`));
    const id = p.nextId;
    p.nextId = p.nextId === 0xffffffff ? 1 : p.nextId + 1;
    try {
      p.writer.call(id, timeoutMs, method, body);
    } catch (e) {
      // Too large, or a body JSON cannot encode (a BigInt, a cycle): nothing was written.
      if (e instanceof EntryTooLarge) return Promise.reject(new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', `call ${method} to node ${node}: ${e.message}`));
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    p.stats.callsOut++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (p.calls.delete(id)) {
          p.stats.callsTimedOut++;
          p.stats.callsFailed++;
          this.#failure(p);
          reject(new CaxtonError('CAXTON_ERR_CLUSTER_TIMEOUT', `node ${node} did not answer ${method} within ${timeoutMs} ms`));
        }
      }, timeoutMs);
      p.calls.set(id, { resolve: resolve as (v: unknown) => void, reject, timer, started: performance.now(), method, sent: false });
      this.#queued(p);
    });
  }

  onPost(kind: string, handler: (from: NodeName, body: PeerBody) => void): void {
    this.#postHandlers.set(kind, handler);
  }

  onCall(method: string, handler: (from: NodeName, body: PeerBody) => unknown): void {
    this.#callHandlers.set(method, handler);
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle and views

  /** Membership says `node` failed or left: close its connection and drop what waits for it. */
  memberGone(node: NodeName): void {
    const p = this.#peers.get(node);
    if (p === undefined) return;
    // The channel (and its counters) stays, so the metrics never go backwards; it comes back to use
    // when the node is a member again.
    p.gone = true;
    p.conn?.close('member-gone', `membership reports ${node} failed or left`);
    this.#abandon(p, `node ${node} failed or left the cluster`);
  }

  /** Closes every connection and fails what waits. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    for (const [c, t] of this.#handshaking) {
      clearTimeout(t);
      c.close('shutdown', 'this node is shutting down');
    }
    this.#handshaking.clear();
    for (const p of this.#peers.values()) {
      if (p.retryTimer !== undefined) clearTimeout(p.retryTimer);
      p.conn?.close('shutdown', 'this node is shutting down');
      this.#abandon(p, `this node (${this.self}) is shutting down`);
    }
  }

  stats(): LinkStats {
    const peers: PeerLinkStats[] = [];
    for (const p of this.#peers.values()) {
      peers.push({
        peer: p.name,
        connected: p.conn?.open === true,
        circuit: p.circuit.state,
        queueBytes: p.queueBytes,
        credit: p.credit,
        callLatency: [...p.latency],
        circuitOpened: p.circuit.opened,
        ...p.stats,
      });
    }
    const closed = [...this.#closedByReason].map(([k, count]) => {
      const [peer, reason] = k.split('\n') as [string, CloseReason];
      return { peer, reason, count };
    });
    return { peers, closed };
  }

  // ---------------------------------------------------------------------------------------------
  // ConnectionOwner

  keys(): readonly Uint8Array[] {
    return this.#keys();
  }

  admit(conn: LinkConnection, peer: string): boolean {
    if (this.#closed) return false;
    const p = this.#peerFor(peer, true) as PeerChannel;
    const existing = p.conn;
    if (existing === undefined || existing === conn || existing.isClosed) {
      p.conn = conn;
      return true;
    }
    if (existing.role === 'acceptor') {
      // The peer dialed again: it must have lost the old connection.
      existing.close('replaced', `${peer} opened a new connection`);
      p.conn = conn;
      return true;
    }
    // Both dialed: keep the connection dialed by the smaller name. The peer decides the same way.
    if (this.self < peer) return false;
    existing.close('duplicate', `${peer} dialed too; its connection is kept`);
    p.conn = conn;
    return true;
  }

  opened(conn: LinkConnection, credit: number): void {
    const t = this.#handshaking.get(conn);
    if (t !== undefined) clearTimeout(t);
    this.#handshaking.delete(conn);
    const p = this.#peers.get(conn.peer as string);
    if (p === undefined || (p.conn !== conn && p.conn !== undefined && !p.conn.isClosed)) {
      conn.close('duplicate', 'another connection with this peer is kept');
      return;
    }
    p.conn = conn;
    p.credit = credit;
    p.consumed = 0;
    p.backoffMs = 0;
    p.circuit.success();
    this.#log.debug({ peer: p.name, role: conn.role }, 'cluster link: connected');
    this.#pump(p);
  }

  batch(conn: LinkConnection, bytes: Uint8Array, start: number, end: number): FrameError | undefined {
    const p = this.#peers.get(conn.peer as string);
    if (p === undefined || p.conn !== conn) return undefined;
    p.stats.framesIn++;
    const size = end - start + 5;
    p.stats.bytesIn += size;
    this.#visitor.peer = p;
    const err = parseBatch(bytes, start, end, this.#visitor);
    // Handlers run synchronously, so the frame is consumed now: hand the credit back in halves.
    p.consumed += size;
    if (p.consumed >= this.windowBytes / 2 && !conn.isClosed) {
      conn.grant(p.consumed);
      p.consumed = 0;
    }
    return err;
  }

  credit(conn: LinkConnection, bytes: number): void {
    const p = this.#peers.get(conn.peer as string);
    if (p === undefined || p.conn !== conn) return;
    p.credit += bytes;
    this.#pump(p);
  }

  identify(stream: Stream, claimed: NodeName): string | undefined {
    if (this.#o.requirePeerCert !== true) return undefined;
    const from = addressKey(stream.remote);
    const cert = stream.peerCert;
    if (cert === undefined) return `the peer at ${from} calls itself ${claimed} but presented no certificate; this node requires mTLS`;
    if (!namesNode(cert, claimed)) return `the peer at ${from} calls itself ${claimed} but its certificate is for ${certNames(cert)}`;
    const known = this.#o.namesAt?.(stream.remote.host) ?? [];
    if (known.length > 0 && !known.includes(claimed)) {
      return `the peer at ${from} calls itself ${claimed}, but membership knows ${known.join(', ')} at ${stream.remote.host}`;
    }
    return undefined;
  }

  flushed(conn: LinkConnection): void {
    const p = this.#peers.get(conn.peer as string);
    if (p === undefined || p.conn !== conn || p.pending === 0) return;
    this.#pump(p);
  }

  closed(conn: LinkConnection, reason: CloseReason, detail: string): void {
    const t = this.#handshaking.get(conn);
    if (t !== undefined) clearTimeout(t);
    this.#handshaking.delete(conn);
    // Until it is authenticated an acceptor's peer is only a claim: label it '' so a stranger cannot
    // grow the metric's label set (the log still says what it claimed).
    const peer = conn.role === 'dialer' || conn.wasOpen ? (conn.peer ?? '') : '';
    const key = `${peer}\n${reason}`;
    this.#closedByReason.set(key, (this.#closedByReason.get(key) ?? 0) + 1);
    const quiet = reason === 'duplicate' || reason === 'replaced' || reason === 'shutdown' || reason === 'member-gone' || reason === 'remote-closed';
    const claimed = conn.peer ?? '';
    if (quiet) this.#log.debug({ peer: claimed, reason, detail }, 'cluster link: connection closed');
    else this.#log.warn({ peer: claimed, role: conn.role, reason, detail }, `cluster link: connection closed (${reason}): ${detail}`);
    const p = this.#peers.get(claimed);
    if (p === undefined || p.conn !== conn) return;
    p.conn = undefined;
    p.credit = 0;
    p.consumed = 0;
    for (const [id, c] of p.calls) {
      if (!c.sent) continue;
      p.calls.delete(id);
      clearTimeout(c.timer);
      p.stats.callsFailed++;
      c.reject(unavailable(`the connection to node ${claimed} was lost before it answered ${c.method} (${reason})`));
    }
    if (this.#closed || reason === 'member-gone') return;
    // A protocol fault, or a connection that never opened (refused, reset in its handshake), counts
    // against the peer's circuit; a connection that worked and then ended is just re-dialed.
    const fault = reason.startsWith('frame-') || reason === 'auth' || reason === 'handshake' || reason === 'handshake-timeout';
    if (fault || (!conn.wasOpen && reason !== 'duplicate')) this.#failure(p);
    if (p.pending > 0 || !p.writer.empty || p.calls.size > 0) this.#scheduleDial(p);
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  #peerFor(node: NodeName, create = false): PeerChannel | undefined {
    let p = this.#peers.get(node);
    if (p !== undefined) {
      if (p.gone) {
        if (!create && this.#o.addressOf(node) === undefined) return undefined;
        p.gone = false;
      }
      return p;
    }
    if (this.#closed || (!create && this.#o.addressOf(node) === undefined)) return undefined;
    p = new PeerChannel(node, this.maxFrameBytes, this.#o.circuit);
    this.#peers.set(node, p);
    return p;
  }

  /** Something was added to the peer's batch: flush soon, or now when the batch is big. */
  #queued(p: PeerChannel): void {
    if (p.writer.bytes >= BATCH_FLUSH_BYTES) {
      p.seal();
      this.#pump(p);
    }
    if (!p.flushScheduled) {
      p.flushScheduled = true;
      setImmediate(() => {
        p.flushScheduled = false;
        p.seal();
        this.#pump(p);
      });
    }
  }

  /** Sends queued batches while there is credit; dials when there is no connection. */
  #pump(p: PeerChannel): void {
    const c = p.conn;
    if (c === undefined || c.isClosed) {
      if (p.pending > 0 || p.calls.size > 0) this.#dial(p);
      return;
    }
    if (!c.open) return;
    // Credit may go negative by one frame, so a frame larger than the window still goes out. Bytes
    // not yet handed to the OS stay under WRITE_AHEAD_BYTES (a big frame goes alone), so the
    // transport's bounded write buffer (4 MiB) never fails the stream when the socket is full.
    while (p.credit > 0) {
      const next = p.peek();
      if (next === undefined) break;
      if (c.unflushed > 0 && c.unflushed + next.frame.length > WRITE_AHEAD_BYTES) break; // flushed() resumes
      const q = p.shift() as Queued;
      p.credit -= q.frame.length;
      p.stats.framesOut++;
      p.stats.bytesOut += q.frame.length;
      if (q.calls !== undefined) {
        for (const id of q.calls) {
          const call = p.calls.get(id);
          if (call !== undefined) call.sent = true;
        }
      }
      c.write(q.frame);
    }
  }

  #dial(p: PeerChannel): void {
    if (this.#closed || p.dialing || p.retryTimer !== undefined || p.conn !== undefined) return;
    if (!p.circuit.allows) return;
    const addr = this.#o.addressOf(p.name);
    if (addr === undefined) {
      this.#abandon(p, `node ${p.name} is not an alive member`);
      return;
    }
    p.dialing = true;
    this.#o.transport.dial(addr, this.#o.dialTimeoutMs ?? 2000, p.name).then(
      (stream) => {
        p.dialing = false;
        if (this.#closed) {
          stream.close();
          return;
        }
        if (p.conn !== undefined && !p.conn.isClosed) {
          stream.close(); // the peer's own dial got in first
          return;
        }
        const conn = new LinkConnection(stream, 'dialer', this, p.name);
        p.conn = conn;
        this.#startHandshakeTimer(conn);
      },
      (err: unknown) => {
        p.dialing = false;
        const msg = err instanceof Error ? err.message : String(err);
        // A refused TLS handshake is a configuration problem (certificates), not a peer going away.
        if ((err as { tls?: unknown }).tls === true) this.#log.warn({ peer: p.name, err: msg }, `cluster link: dial to ${p.name} refused: ${msg}`);
        else this.#log.debug({ peer: p.name, err: msg }, 'cluster link: dial failed');
        this.#failure(p);
        this.#scheduleDial(p);
      },
    );
  }

  #scheduleDial(p: PeerChannel): void {
    if (this.#closed || p.retryTimer !== undefined) return;
    if (!p.circuit.allows) return;
    const min = this.#o.backoffMinMs ?? 50;
    const max = this.#o.backoffMaxMs ?? 5000;
    p.backoffMs = p.backoffMs === 0 ? min : Math.min(max, p.backoffMs * 2);
    const delay = p.backoffMs * (0.5 + Math.random() / 2); // jitter: two nodes do not retry in step
    p.retryTimer = setTimeout(() => {
      p.retryTimer = undefined;
      this.#pump(p);
    }, delay);
    p.retryTimer.unref();
  }

  /** A failed dial, handshake or call: count it; an opened circuit drops what waits. */
  #failure(p: PeerChannel): void {
    if (p.circuit.failure()) {
      this.#log.warn({ peer: p.name, retryInMs: p.circuit.retryInMs }, 'cluster link: circuit opened after repeated failures');
      this.#abandon(p, `the circuit to node ${p.name} opened after repeated failures`);
    }
  }

  /** Drops the peer's queue and fails its calls. */
  #abandon(p: PeerChannel, why: string): void {
    p.stats.postsDropped += p.drop(this.maxFrameBytes);
    if (p.retryTimer !== undefined) clearTimeout(p.retryTimer);
    p.retryTimer = undefined;
    for (const [id, c] of p.calls) {
      p.calls.delete(id);
      clearTimeout(c.timer);
      p.stats.callsFailed++;
      c.reject(unavailable(why));
    }
  }

  #accept(stream: Stream): void {
    if (this.#closed) {
      stream.close();
      return;
    }
    this.#startHandshakeTimer(new LinkConnection(stream, 'acceptor', this));
  }

  #startHandshakeTimer(conn: LinkConnection): void {
    const ms = this.#o.handshakeTimeoutMs ?? 2000;
    const t = setTimeout(() => {
      this.#handshaking.delete(conn);
      if (!conn.open) conn.close('handshake-timeout', `no complete handshake within ${ms} ms`);
    }, ms);
    t.unref();
    this.#handshaking.set(conn, t);
  }

  #beat(): void {
    const now = Date.now();
    for (const p of this.#peers.values()) {
      const c = p.conn;
      if (c === undefined || !c.open) continue;
      const quiet = now - c.lastReceived;
      if (quiet >= this.#deadAfterMs) c.close('heartbeat', `nothing heard from ${p.name} for ${quiet} ms`);
      else if (quiet >= this.#heartbeatMs) c.ping();
    }
  }

  // Batch entries from a peer. One visitor for the link (the peer set before each frame) rather than
  // closures per frame.
  readonly #visitor: BatchVisitor & { peer: PeerChannel | undefined } = {
    peer: undefined,
    post: (kind, body) => {
      const p = this.#visitor.peer as PeerChannel;
      p.stats.postsIn++;
      const h = this.#postHandlers.get(kind);
      if (h === undefined) {
        this.#log.debug({ peer: p.name, kind }, 'cluster link: a post of a kind nobody handles');
        return;
      }
      try {
        h(p.name, body);
      } catch (e) {
        this.#log.warn({ peer: p.name, kind, err: e instanceof Error ? e.message : String(e) }, 'cluster link: a post handler threw');
      }
    },
    call: (id, timeoutMs, method, body) => {
      const p = this.#visitor.peer as PeerChannel;
      this.#answer(p, id, timeoutMs, method, body);
    },
    reply: (id, body, error) => {
      const p = this.#visitor.peer as PeerChannel;
      const c = p.calls.get(id);
      if (c === undefined) return; // timed out already
      p.calls.delete(id);
      clearTimeout(c.timer);
      const s = (performance.now() - c.started) / 1000;
      let b = 0;
      while (b < CALL_LATENCY_BOUNDS.length && s > (CALL_LATENCY_BOUNDS[b] as number)) b++;
      p.latency[b] = (p.latency[b] as number) + 1;
      p.stats.callLatencySum += s;
      p.circuit.success();
      if (error) {
        p.stats.callsFailed++;
        c.reject(remoteError(p.name, c.method, body));
      } else c.resolve(body);
    },
  };

  #answer(p: PeerChannel, id: number, timeoutMs: number, method: string, body: unknown): void {
    const deadline = Date.now() + timeoutMs;
    const h = this.#callHandlers.get(method);
    const send = (result: unknown, error: boolean): void => {
      if (Date.now() > deadline) return; // the caller gave up already
      if (p.gone || this.#closed) return; // the peer left, or this node is shutting down
      try {
        p.writer.reply(id, result, error);
      } catch (e) {
        if (e instanceof EntryTooLarge || e instanceof TypeError) p.writer.reply(id, { code: 'CAXTON_ERR_CLUSTER_FRAME', message: `the answer to ${method}: ${(e as Error).message}` }, true);
        else throw e;
      }
      this.#queued(p);
    };
    const fail = (e: unknown): void => send(errorBody(e), true);
    if (h === undefined) return fail(unavailable(`node ${this.self} does not answer ${method}`));
    let r: unknown;
    try {
      r = h(p.name, body);
    } catch (e) {
      return fail(e);
    }
    if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') {
      (r as PromiseLike<unknown>).then((v) => send(v, false), fail);
    } else send(r, false);
  }

  #postLocal(kind: string, body: PeerBody): boolean {
    const h = this.#postHandlers.get(kind);
    if (h === undefined) return true;
    setImmediate(() => {
      try {
        h(this.self, body);
      } catch (e) {
        this.#log.warn({ kind, err: e instanceof Error ? e.message : String(e) }, 'cluster link: a post handler threw');
      }
    });
    return true;
  }

  async #callLocal<T>(method: string, body: PeerBody): Promise<T> {
    const h = this.#callHandlers.get(method);
    if (h === undefined) throw unavailable(`node ${this.self} does not answer ${method}`);
    await new Promise((r) => setImmediate(r));
    return (await h(this.self, body)) as T;
  }
}

function errorBody(e: unknown): { code: string; message: string } {
  if (e instanceof CaxtonError) return { code: e.code, message: e.message };
  return { code: 'CAXTON_ERR_SERVER_INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

function remoteError(peer: string, method: string, body: unknown): CaxtonError {
  const b = (typeof body === 'object' && body !== null ? body : {}) as { code?: unknown; message?: unknown };
  const message = typeof b.message === 'string' ? b.message : `node ${peer} failed to answer ${method}`;
  const code = typeof b.code === 'string' && isErrorCode(b.code) ? b.code : 'CAXTON_ERR_SERVER_INTERNAL';
  return new CaxtonError(code, message, { node: peer, method });
}
