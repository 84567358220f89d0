/**
 * The UDP packet pipeline of memberlist v0.2.2.
 *
 * Send (net.go rawSendMsgPacket):
 *   1. LZW-compress the message when compression is on, keeping it only if strictly smaller;
 *   2. if the receiver advertised PMax >= 5, prepend `[12][crc32 BE]`;
 *   3. if the keyring holds a key and verifyOutgoing is on, seal with the primary key (no AAD).
 *
 * Receive (net.go ingestPacket, handleCommand):
 *   1. with keys: open with each key in turn; on failure drop the packet, unless verifyIncoming is off,
 *      in which case the bytes are taken as plaintext (a mixed cluster during rollout);
 *   2. if the packet is at least 5 bytes and starts with 12, check the CRC (drop on mismatch);
 *   3. dispatch on the type byte, recursing into compound (7) and compress (9).
 *
 * Envelope failures (decryption, CRC, empty packet) throw WireError: Go drops the whole packet.
 * Failures inside (one bad compound part, a corrupt compressed payload, a type that is not allowed in
 * a packet) are collected in `dropped`, and the other messages are still returned, as memberlist logs
 * and carries on. Nesting is limited (Go recurses without bound) and so is the total decompressed size.
 */
import { WireError, isWireError } from './errors.js';
import { CRC_MIN_PROTOCOL, MAX_PACKET_DECOMPRESSED_BYTES, MAX_PACKET_NESTING } from './constants.js';
import { compressIfSmaller, decompressPayload } from './compress.js';
import { decodeCompoundMessage } from './compound.js';
import { crc32 } from './crc32.js';
import { decryptPayload, encryptPayload, type EncryptionVersion } from './encryption.js';
import type { Keyring } from './keyring.js';
import { MessageType, decodeMessage, isMessageType, type Message } from './messages.js';

export interface PacketEncodeOptions {
  /** EnableCompression: compress when it makes the packet smaller. Default true. */
  readonly compress?: boolean;
  /** The receiver's advertised PMax, if known; CRC_MIN_PROTOCOL (5) or more adds a CRC header. */
  readonly peerProtocolMax?: number;
  /** Encrypt when this ring holds a key (memberlist's EncryptionEnabled). */
  readonly keyring?: Keyring;
  /** GossipVerifyOutgoing: default true. With false, packets go out in plaintext even with keys. */
  readonly verifyOutgoing?: boolean;
  /** 1 unless speaking protocol version 1 (see encryptionVersionFor). */
  readonly encryptionVersion?: EncryptionVersion;
}

export interface PacketDecodeOptions {
  /** Decrypt with these keys when the ring holds any. */
  readonly keyring?: Keyring;
  /** GossipVerifyIncoming: default true. With false, a packet no key opens is read as plaintext. */
  readonly verifyIncoming?: boolean;
  /** Compound/compress wrappers allowed inside one another (default MAX_PACKET_NESTING, 4). */
  readonly maxNesting?: number;
  /** Total bytes all compressed parts of one packet may inflate to (default 1 MiB). */
  readonly maxDecompressedBytes?: number;
  /** msgpack nesting limit inside one message. */
  readonly maxDepth?: number;
}

/** The message types memberlist handles when they arrive in a packet (handleCommand). */
export type PacketMessage = Extract<
  Message,
  { type: 0 } | { type: 1 } | { type: 2 } | { type: 3 } | { type: 4 } | { type: 5 } | { type: 8 } | { type: 11 }
>;

export interface DecodedPacket {
  /** The leaf messages in wire order, compound and compress wrappers opened. */
  readonly messages: PacketMessage[];
  /** Why parts of the packet were skipped. */
  readonly dropped: WireError[];
  /** Compound parts announced but missing from the packet. */
  readonly truncated: number;
  /** The packet was sealed (and opened with one of our keys). */
  readonly encrypted: boolean;
  /** The packet carried a (valid) CRC header. */
  readonly checksummed: boolean;
}

const HAS_CRC = MessageType.HasCrc;

/** Turns one message (type byte first) into what goes on the wire. */
export function encodePacket(msg: Uint8Array, options: PacketEncodeOptions = {}): Uint8Array {
  if (msg.length === 0) throw new WireError('empty', 'refusing to send an empty packet (Go would index past it)');
  let out = options.compress === false ? msg : compressIfSmaller(msg);
  if (options.peerProtocolMax !== undefined && options.peerProtocolMax >= CRC_MIN_PROTOCOL) {
    const framed = new Uint8Array(5 + out.length);
    framed[0] = HAS_CRC;
    new DataView(framed.buffer).setUint32(1, crc32(out));
    framed.set(out, 5);
    out = framed;
  }
  const key = options.keyring?.primaryView();
  if (key !== undefined && options.verifyOutgoing !== false) {
    out = encryptPayload(options.encryptionVersion ?? 1, key, out);
  }
  return out;
}

interface WalkState {
  readonly messages: PacketMessage[];
  readonly dropped: WireError[];
  truncated: number;
  budget: number;
  readonly maxNesting: number;
  readonly maxDepth: number | undefined;
}

const PACKET_TYPES: ReadonlySet<number> = new Set<number>([
  MessageType.Ping,
  MessageType.IndirectPing,
  MessageType.AckResp,
  MessageType.Suspect,
  MessageType.Alive,
  MessageType.Dead,
  MessageType.User,
  MessageType.NackResp,
]);

function isPacketMessage(m: Message): m is PacketMessage {
  return PACKET_TYPES.has(m.type);
}

function handle(buf: Uint8Array, nesting: number, st: WalkState): void {
  try {
    if (buf.length === 0) throw new WireError('empty', 'empty message in packet');
    const type = buf[0] ?? 0;
    if (type === MessageType.Compound || type === MessageType.Compress) {
      if (nesting >= st.maxNesting) {
        throw new WireError('nesting-too-deep', `packet wrappers nest deeper than ${st.maxNesting}`);
      }
      if (type === MessageType.Compound) {
        const { parts, truncated } = decodeCompoundMessage(buf.subarray(1));
        st.truncated += truncated;
        for (const p of parts) handle(p, nesting + 1, st);
      } else {
        const plain = decompressPayload(buf.subarray(1), st.budget, st.maxDepth);
        st.budget -= plain.length;
        handle(plain, nesting + 1, st);
      }
      return;
    }
    if (!isMessageType(type)) {
      throw new WireError('unknown-message-type', `msg type (${type}) not supported`, { offset: 0 });
    }
    if (!PACKET_TYPES.has(type)) {
      throw new WireError('unexpected-message-type', `msg type (${type}) not supported in a packet`, { offset: 0 });
    }
    const m = decodeMessage(buf, { maxDepth: st.maxDepth });
    if (isPacketMessage(m)) st.messages.push(m);
  } catch (err) {
    if (!isWireError(err)) throw err;
    st.dropped.push(err);
  }
}

/** Reads a received packet (see the file comment for what throws and what is collected). */
export function decodePacket(packet: Uint8Array, options: PacketDecodeOptions = {}): DecodedPacket {
  if (packet.length === 0) throw new WireError('empty', 'empty packet');
  let buf = packet;
  let encrypted = false;
  const keys = options.keyring?.keysView() ?? [];
  if (keys.length > 0) {
    try {
      buf = decryptPayload(keys, packet);
      encrypted = true;
    } catch (err) {
      if (!isWireError(err)) throw err;
      if (options.verifyIncoming !== false) {
        throw new WireError('decrypt-failed', `decrypt packet failed: ${err.message}`, { offset: err.offset, cause: err });
      }
      // verifyIncoming off: treat the packet as plaintext
    }
  }
  let checksummed = false;
  if (buf.length >= 5 && buf[0] === HAS_CRC) {
    const expected = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(1);
    const actual = crc32(buf.subarray(5));
    if (actual !== expected) {
      throw new WireError('crc-mismatch', `invalid checksum for UDP packet: ${actual.toString(16)}, ${expected.toString(16)}`, {
        offset: 1,
      });
    }
    buf = buf.subarray(5);
    checksummed = true;
  }
  const st: WalkState = {
    messages: [],
    dropped: [],
    truncated: 0,
    budget: options.maxDecompressedBytes ?? MAX_PACKET_DECOMPRESSED_BYTES,
    maxNesting: options.maxNesting ?? MAX_PACKET_NESTING,
    maxDepth: options.maxDepth,
  };
  handle(buf, 0, st);
  return { messages: st.messages, dropped: st.dropped, truncated: st.truncated, encrypted, checksummed };
}
