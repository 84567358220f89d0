/**
 * One link connection: the handshake, then frames both ways. It knows nothing of queues, calls or
 * circuits (link.ts): once open it hands batches and credit to its owner and writes what it is given.
 *
 * Under mTLS all of this runs inside TLS (src/cluster/transport/link-tls.ts): the acceptor also checks
 * at the Hello that the dialer's certificate names the node it claims to be (`identify`), and the
 * gossip-key proofs still run when keys are set, so either secret alone does not open a link.
 *
 * Handshake (frame.ts has the layouts; handshake.ts the proofs):
 *
 *     dialer → acceptor   LINK_MAGIC, Hello(nonce D)
 *     acceptor → dialer   Hello(nonce A) [+ Proof A]          proofs only when gossip keys are set
 *     dialer → acceptor   [Proof D]
 *     acceptor → dialer   Credit(window)                      the acceptor admitted the connection
 *     dialer → acceptor   Credit(window)
 *
 * The acceptor admits (or refuses with GoAway "duplicate") only once the dialer is authenticated, so a
 * stranger cannot displace a real connection; the dialer counts the connection open at the first
 * Credit, so nothing it sends can be lost to a refusal. Anything unexpected closes the connection with
 * a reason (GoAway, then close), which the owner logs and counts.
 */
import type { Stream } from '../transport/transport.js';
import {
  FrameDecoder,
  FrameType,
  LINK_MAGIC,
  LINK_VERSION,
  PROOF_BYTES,
  controlFrame,
  decodeGoAway,
  decodeHello,
  encodeGoAway,
  encodeHello,
  readU32,
  u32Frame,
  type FrameError,
} from './frame.js';
import { checkProof, makeProof, newNonce, type Role } from './handshake.js';

/** Why a connection closed: the label of caxton_cluster_link_connections_closed_total. */
export type CloseReason =
  | 'frame-too-large'
  | 'frame-empty'
  | 'frame-unknown-type'
  | 'frame-malformed'
  | 'frame-truncated'
  | 'handshake' // wrong magic, version, name, or a frame out of turn
  | 'auth' // a missing or wrong proof
  | 'handshake-timeout'
  | 'duplicate' // both nodes dialed: the other connection was kept
  | 'replaced' // the peer dialed again
  | 'heartbeat' // nothing heard within the dead interval
  | 'remote-closed' // the peer said goodbye (GoAway) or ended the stream
  | 'stream-failed' // reset, write buffer full, ...
  | 'member-gone' // membership says the peer failed or left
  | 'shutdown';

export interface ConnectionOwner {
  readonly self: string;
  /** The gossip keys, primary first; empty: no authentication. */
  keys(): readonly Uint8Array[];
  readonly windowBytes: number;
  readonly maxFrameBytes: number;
  /**
   * Acceptor side, at the dialer's Hello: why `stream` may not speak for node `claimed` (its mTLS
   * certificate names another node, ...), or undefined when it may.
   */
  identify(stream: Stream, claimed: string): string | undefined;
  /** Acceptor side, after authentication: may this connection from `peer` stay? */
  admit(conn: LinkConnection, peer: string): boolean;
  /** Open: frames may flow (the peer granted `credit`). */
  opened(conn: LinkConnection, credit: number): void;
  batch(conn: LinkConnection, bytes: Uint8Array, start: number, end: number): FrameError | undefined;
  credit(conn: LinkConnection, bytes: number): void;
  /** A write was handed to the OS (`unflushed` went down). */
  flushed(conn: LinkConnection): void;
  closed(conn: LinkConnection, reason: CloseReason, detail: string): void;
}

type Phase = 'magic' | 'hello' | 'proof' | 'welcome' | 'open' | 'closed';

export class LinkConnection {
  readonly role: Role;
  /** The peer's node name (known from the start when dialing, after its hello when accepting). */
  peer: string | undefined;
  readonly #stream: Stream;
  readonly #owner: ConnectionOwner;
  readonly #nonce = newNonce();
  readonly #decoder: FrameDecoder;
  #phase: Phase;
  #peerNonce: Uint8Array | undefined;
  #keyed = false;
  /** performance-free clock for the heartbeat: Date.now() of the last frame received. */
  lastReceived = Date.now();
  bytesIn = 0;
  framesIn = 0;
  #pingSeq = 0;
  #wasOpen = false;

  constructor(stream: Stream, role: Role, owner: ConnectionOwner, peer?: string) {
    this.#stream = stream;
    this.role = role;
    this.#owner = owner;
    this.peer = peer;
    this.#phase = role === 'acceptor' ? 'magic' : 'hello';
    this.#decoder = new FrameDecoder(owner.maxFrameBytes, (type, b, s, e) => this.#frame(type, b, s, e));
    // A link connection lives as long as both nodes do; the owner's handshake timer and heartbeat
    // decide when it is dead, not a deadline the transport may have set.
    stream.setDeadline(0);
    stream.onData((chunk) => this.#data(chunk));
    stream.onEnd((err) => {
      if (this.#phase === 'closed') return;
      if (err !== undefined) this.#close('stream-failed', err.message, false);
      else if (this.#decoder.midFrame) this.#close('frame-truncated', 'the stream ended in the middle of a frame', false);
      else this.#close('remote-closed', 'the peer ended the stream', false);
    });
    if (role === 'dialer') {
      this.#keyed = owner.keys().length > 0;
      const hello = encodeHello({ version: LINK_VERSION, proof: this.#keyed, nonce: this.#nonce, name: owner.self });
      const first = new Uint8Array(1 + hello.length);
      first[0] = LINK_MAGIC;
      first.set(hello, 1);
      this.#write(first);
    }
  }

  /** True once the connection opened (it may have closed since). */
  get wasOpen(): boolean {
    return this.#wasOpen;
  }

  get open(): boolean {
    return this.#phase === 'open';
  }

  get isClosed(): boolean {
    return this.#phase === 'closed';
  }

  /**
   * Bytes written and not yet handed to the OS. The owner keeps it small (see link.ts #pump): the
   * transport fails a stream whose user-space write buffer grows past its bound.
   */
  unflushed = 0;

  /** Writes a whole frame (or several). Never throws; a failed write ends the stream. */
  write(frame: Uint8Array): void {
    this.#write(frame);
  }

  grant(bytes: number): void {
    this.#write(u32Frame(FrameType.Credit, bytes));
  }

  ping(): void {
    this.#write(u32Frame(FrameType.Ping, this.#pingSeq++ >>> 0));
  }

  /** Closes with a reason: the peer gets a GoAway first (unless the stream is gone). */
  close(reason: CloseReason, detail: string): void {
    this.#close(reason, detail, true);
  }

  #write(bytes: Uint8Array): void {
    if (this.#phase === 'closed') return;
    const n = bytes.length;
    this.unflushed += n;
    this.#stream.write(bytes).then(
      () => {
        this.unflushed -= n;
        if (this.#phase === 'open') this.#owner.flushed(this);
      },
      () => undefined, // the stream's end handler reports the failure
    );
  }

  #close(reason: CloseReason, detail: string, tellPeer: boolean): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    if (tellPeer) this.#stream.write(encodeGoAway(`${reason}: ${detail}`)).catch(() => undefined);
    this.#stream.close();
    this.#owner.closed(this, reason, detail);
  }

  #data(chunk: Uint8Array): void {
    if (this.#phase === 'closed') return;
    this.lastReceived = Date.now();
    this.bytesIn += chunk.length;
    if (this.#phase === 'magic') {
      if (chunk[0] !== LINK_MAGIC) {
        this.#close('handshake', `a link stream must start with byte 0x${LINK_MAGIC.toString(16)}, not 0x${(chunk[0] ?? 0).toString(16)}`, true);
        return;
      }
      this.#phase = 'hello';
      chunk = chunk.subarray(1);
    }
    const err = this.#decoder.push(chunk);
    // A handler may have closed the connection meanwhile (the phase changed behind TS's narrowing).
    if (err !== undefined && !this.isClosed) this.#close(`frame-${err.reason}` as const, err.message, true);
  }

  #frame(type: number, b: Uint8Array, start: number, end: number): FrameError | undefined {
    if (this.#phase === 'closed') return undefined;
    this.framesIn++;
    if (type === FrameType.GoAway) {
      const why = decodeGoAway(b, start, end);
      // A refused duplicate is the simultaneous-dial rule at work, not a failure of the peer.
      this.#close(why.startsWith('duplicate:') ? 'duplicate' : 'remote-closed', `the peer closed the link: ${why}`, false);
      return undefined;
    }
    if (this.#phase === 'open') {
      switch (type) {
        case FrameType.Batch:
          return this.#owner.batch(this, b, start, end);
        case FrameType.Credit:
          if (end - start !== 4) return { reason: 'malformed', message: `a credit frame of ${end - start} bytes, not 4` };
          this.#owner.credit(this, readU32(b, start));
          return undefined;
        case FrameType.Ping:
          if (end - start !== 4) return { reason: 'malformed', message: `a ping frame of ${end - start} bytes, not 4` };
          this.#write(u32Frame(FrameType.Pong, readU32(b, start)));
          return undefined;
        case FrameType.Pong:
          return undefined;
        default:
          this.#close('handshake', `a frame of type ${type} after the handshake`, true);
          return undefined;
      }
    }
    this.#handshake(type, b, start, end);
    return undefined;
  }

  #handshake(type: number, b: Uint8Array, start: number, end: number): void {
    const o = this.#owner;
    if (this.#phase === 'hello' && type === FrameType.Hello) {
      const h = decodeHello(b, start, end);
      if ('reason' in h) return this.#close('handshake', h.message, true);
      if (h.version !== LINK_VERSION) return this.#close('handshake', `the peer speaks link protocol ${h.version}, this node ${LINK_VERSION}`, true);
      if (h.name === o.self) return this.#close('handshake', `the peer calls itself ${h.name}, as this node is named`, true);
      if (this.role === 'dialer' && h.name !== this.peer) {
        return this.#close('handshake', `dialed ${this.peer ?? '?'} but ${h.name} answered`, true);
      }
      if (this.role === 'acceptor') {
        const refused = o.identify(this.#stream, h.name);
        if (refused !== undefined) {
          this.peer = h.name; // the claim, for the log line
          return this.#close('auth', refused, true);
        }
      }
      const keys = o.keys();
      const keyed = this.role === 'dialer' ? this.#keyed : keys.length > 0;
      if (h.proof !== keyed) {
        return this.#close('auth', keyed ? `${h.name} has no gossip keys, this node requires them` : `${h.name} has gossip keys, this node has none`, true);
      }
      this.#keyed = keyed;
      this.peer = h.name;
      this.#peerNonce = h.nonce;
      if (this.role === 'acceptor') {
        const reply = [encodeHello({ version: LINK_VERSION, proof: keyed, nonce: this.#nonce, name: o.self })];
        if (keyed) reply.push(controlFrame(FrameType.Proof, makeProof(keys[0] as Uint8Array, 'acceptor', h.nonce, o.self, h.name)));
        this.#write(concat(reply));
        if (keyed) {
          this.#phase = 'proof';
          return;
        }
        return this.#welcome();
      }
      this.#phase = keyed ? 'proof' : 'welcome';
      return;
    }
    if (this.#phase === 'proof' && type === FrameType.Proof) {
      const peer = this.peer as string;
      const proof = b.subarray(start, end);
      const theirRole: Role = this.role === 'dialer' ? 'acceptor' : 'dialer';
      if (proof.length !== PROOF_BYTES || !checkProof(o.keys(), proof, theirRole, this.#nonce, peer, o.self)) {
        return this.#close('auth', `${peer} did not prove it holds a gossip key of this cluster`, true);
      }
      if (this.role === 'acceptor') return this.#welcome();
      const keys = o.keys();
      if (keys.length === 0) return this.#close('auth', 'this node has no gossip keys any more', true);
      this.#write(controlFrame(FrameType.Proof, makeProof(keys[0] as Uint8Array, 'dialer', this.#peerNonce as Uint8Array, o.self, peer)));
      this.#phase = 'welcome';
      return;
    }
    if (this.#phase === 'welcome' && this.role === 'dialer' && type === FrameType.Credit && end - start === 4) {
      this.#phase = 'open';
      this.#wasOpen = true;
      this.grant(o.windowBytes);
      o.opened(this, readU32(b, start));
      return;
    }
    this.#close('handshake', `a frame of type ${type} out of turn during the handshake (${this.#phase})`, true);
  }

  /** Acceptor: the dialer is who it says; admit it, grant credit, open. */
  #welcome(): void {
    const peer = this.peer as string;
    if (!this.#owner.admit(this, peer)) {
      this.#close('duplicate', `a connection with ${peer} dialed by ${this.#owner.self < peer ? this.#owner.self : peer} is kept`, true);
      return;
    }
    this.#phase = 'open';
    this.#wasOpen = true;
    this.grant(this.#owner.windowBytes);
    // The dialer grants its window once it sees ours; until then nothing can be sent its way.
    this.#owner.opened(this, 0);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
