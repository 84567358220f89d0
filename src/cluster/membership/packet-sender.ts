/**
 * Sending packets (memberlist net.go sendMsg, rawSendMsgPacket): a message goes out with as many
 * queued broadcasts as fit piggybacked on it (sendMsg), then through the wire packet pipeline:
 * compression if smaller, a CRC for peers that understand protocol 5, encryption with the primary
 * key. Sending never throws: a packet is best effort, and a failure is logged and counted.
 */
import {
  COMPOUND_HEADER_OVERHEAD,
  COMPOUND_OVERHEAD,
  GO_SAFE_COMPOUND_PARTS,
  encodePacket,
  encryptOverhead,
  encryptionVersionFor,
  makeCompoundMessage,
} from '../wire/index.js';
import type { Address, Transport } from '../transport/transport.js';
import type { MembershipConfig } from './config.js';
import type { Broadcasts } from './broadcasts.js';
import type { MembershipLogger } from './log.js';
import type { Counters } from './stats.js';
import type { MemberTable, NodeRecord } from './state.js';

/** The CRC header (type byte + u32) we may add; counted against the packet budget. */
const CRC_HEADER = 5;

export interface SenderEnv {
  readonly config: MembershipConfig;
  readonly transport: Transport;
  readonly table: MemberTable;
  readonly broadcasts: Broadcasts;
  readonly counters: Counters;
  readonly log: MembershipLogger;
  isShutdown(): boolean;
}

export class PacketSender {
  readonly #env: SenderEnv;

  constructor(env: SenderEnv) {
    this.#env = env;
  }

  /**
   * Bytes of gossip that fit in one packet besides `used` bytes of other content: udpBufferSize less
   * the compound header, the encryption overhead and a possible CRC header. (Go does not count the
   * CRC header, so its packets can exceed UDPBufferSize by 5 bytes; ours do not.)
   */
  budget(used = 0): number {
    const cfg = this.#env.config;
    let avail = cfg.udpBufferSize - used - COMPOUND_HEADER_OVERHEAD - CRC_HEADER;
    if (cfg.keyring?.enabled === true && cfg.gossipVerifyOutgoing) {
      avail -= encryptOverhead(encryptionVersionFor(cfg.protocolVersion));
    }
    return avail;
  }

  /** One message plus whatever broadcasts fit (sendMsg). */
  sendMsg(to: Address, msg: Uint8Array, peer?: NodeRecord): void {
    const extra = this.#env.broadcasts.getBroadcasts(COMPOUND_OVERHEAD, this.budget(msg.length));
    if (extra.length === 0) {
      this.sendRaw(to, msg, peer);
      return;
    }
    this.sendMany(to, [msg, ...extra], peer);
  }

  /** Several messages: one compound packet per GO_SAFE_COMPOUND_PARTS (a single one goes as is). */
  sendMany(to: Address, msgs: readonly Uint8Array[], peer?: NodeRecord): void {
    for (let i = 0; i < msgs.length; i += GO_SAFE_COMPOUND_PARTS) {
      const chunk = msgs.slice(i, i + GO_SAFE_COMPOUND_PARTS);
      const first = chunk[0];
      if (first === undefined) continue;
      if (chunk.length === 1) {
        this.sendRaw(to, first, peer);
        continue;
      }
      let compound: Uint8Array;
      try {
        compound = makeCompoundMessage(chunk);
      } catch (err) {
        this.#env.log.error({ err }, 'failed to build a compound message');
        continue;
      }
      this.sendRaw(to, compound, peer);
    }
  }

  /** rawSendMsgPacket: compress, CRC (peer PMax >= 5), encrypt, send. */
  sendRaw(to: Address, msg: Uint8Array, peer?: NodeRecord): void {
    const env = this.#env;
    if (env.isShutdown()) return;
    const cfg = env.config;
    const node = peer ?? env.table.atAddress(to.host, to.port);
    let bytes: Uint8Array;
    try {
      bytes = encodePacket(msg, {
        compress: cfg.enableCompression,
        peerProtocolMax: node?.vsn.pmax,
        keyring: cfg.keyring,
        verifyOutgoing: cfg.gossipVerifyOutgoing,
        encryptionVersion: encryptionVersionFor(cfg.protocolVersion),
      });
    } catch (err) {
      env.log.error({ err, to: `${to.host}:${to.port}` }, 'failed to encode a packet');
      return;
    }
    env.counters.packetsSent += 1;
    env.counters.bytesSent += bytes.length;
    try {
      env.transport.sendPacket(to, bytes);
    } catch (err) {
      // The contract says sendPacket does not throw; be safe anyway.
      env.log.error({ err, to: `${to.host}:${to.port}` }, 'failed to send a packet');
    }
  }
}
