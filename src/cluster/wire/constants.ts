/**
 * Wire constants of hashicorp/memberlist v0.2.2 (net.go, util.go, security.go) and the limits this
 * codec adds. The numbers are on the wire or in peers' configs: never change one without checking
 * what memberlist does with it.
 */

/** Lowest memberlist protocol version we understand (net.go ProtocolVersionMin). */
export const PROTOCOL_VERSION_MIN = 1;
/** The version memberlist speaks by default (ProtocolVersion2Compatible). */
export const PROTOCOL_VERSION_DEFAULT = 2;
/**
 * Highest version understood (ProtocolVersionMax). 3 added TCP ping fallback, 4 nacks for indirect
 * pings, 5 a CRC on UDP packets (sent only to peers whose advertised PMax is >= 5).
 */
export const PROTOCOL_VERSION_MAX = 5;
/** Peers advertising a PMax at least this get a hasCrc header on packets (net.go rawSendMsgPacket). */
export const CRC_MIN_PROTOCOL = 5;

/** Maximum size of a node's Meta (net.go MetaMaxSize); memberlist refuses larger metadata. */
export const META_MAX_SIZE = 512;
/** Cap on an encrypted push/pull stream's length (net.go maxPushStateBytes), 20 MiB. */
export const MAX_PUSH_STATE_BYTES = 20 * 1024 * 1024;
/** Concurrent inbound push/pulls before memberlist drops more (net.go maxPushPullRequests). */
export const MAX_PUSH_PULL_REQUESTS = 128;
/**
 * Cap on nodes in one push/pull (memberlist HEAD's maxPushStateNodes; v0.2.2 has none and allocates
 * whatever the header says). A push/pull must also have at least one byte per claimed node.
 */
export const MAX_PUSH_STATE_NODES = 1024 * 1024;

/** A compound message counts its parts in one byte (util.go makeCompoundMessage). */
export const MAX_COMPOUND_PARTS = 255;
/**
 * memberlist v0.2.2 decodeCompoundMessage computes the length-table size as uint8(numParts*2), so a
 * Go receiver mis-splits compounds of 128 parts or more. Senders should stay at or below this.
 */
export const GO_SAFE_COMPOUND_PARTS = 127;
/** Each part's length is a big-endian uint16. */
export const MAX_COMPOUND_PART_BYTES = 0xffff;
/** Assumed header overhead of a compound (net.go compoundHeaderOverhead). */
export const COMPOUND_HEADER_OVERHEAD = 2;
/** Assumed overhead per compound part (net.go compoundOverhead). */
export const COMPOUND_OVERHEAD = 2;
/** Overhead of framing a gossip user message (net.go userMsgOverhead). */
export const USER_MSG_OVERHEAD = 1;
/** Default UDP payload budget of memberlist (config.go UDPBufferSize). */
export const UDP_BUFFER_SIZE = 1400;

/** Default cap on what one packet may decompress to. Go has none; a legit packet is <= 64 KiB. */
export const MAX_PACKET_DECOMPRESSED_BYTES = 1024 * 1024;
/** Default cap on how many compound/compress wrappers a packet may nest (Go recurses without limit). */
export const MAX_PACKET_NESTING = 4;

/** compress.Algo value for LZW (net.go lzwAlgo). */
export const LZW_ALGO = 0;
