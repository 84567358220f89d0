/**
 * The memberlist v0.2.2 wire codec (what Debian's serf 0.9.4 speaks): msgpack as go-msgpack 0.5.x
 * writes it, the message structs, compound/compress/CRC/encryption wrappers, and the UDP packet and
 * TCP stream pipelines. See docs/cluster-wire.md.
 */
export { WireError, isWireError, WIRE_ERROR_REASONS } from './errors.js';
export type { WireErrorReason, WireErrorOptions } from './errors.js';

export * from './constants.js';

export { MsgpackReader, MsgpackWriter, decodeValue, encodeValue, utf8, fromUtf8, DEFAULT_MAX_DEPTH } from './msgpack.js';
export type { MsgpackValue, MsgpackExt, MsgpackKind } from './msgpack.js';

export { defineStruct, readStruct, writeStruct, encodeStruct, decodeStruct } from './struct.js';
export type { FieldKind, FieldSpec, StructSchema } from './struct.js';

export {
  NodeState,
  makeVsn,
  parseVsn,
  pingSchema,
  indirectPingReqSchema,
  ackRespSchema,
  nackRespSchema,
  errRespSchema,
  suspectSchema,
  aliveSchema,
  deadSchema,
  pushPullHeaderSchema,
  userMsgHeaderSchema,
  pushNodeStateSchema,
  compressSchema,
} from './schemas.js';
export type {
  NodeStateCode,
  Ping,
  IndirectPingReq,
  AckResp,
  NackResp,
  ErrResp,
  Suspect,
  Alive,
  Dead,
  PushPullHeader,
  UserMsgHeader,
  PushNodeState,
  Compress,
  Versions,
} from './schemas.js';

export { MessageType, HAS_LABEL_MSG, encodeMessage, decodeMessage, isMessageType } from './messages.js';
export type { MessageTypeCode, MessageBodies, Message, Compound, EncryptFrame, HasCrc, DecodeMessageOptions } from './messages.js';

export { PushPullParser, decodePushPullBody, writePushPull } from './push-pull.js';
export type { PushPull, PushPullLimits, ParseStep } from './push-pull.js';

export { COMPOUND_MSG, makeCompoundMessage, decodeCompoundMessage } from './compound.js';
export type { CompoundParts } from './compound.js';

export { lzwCompress, lzwDecompress } from './lzw.js';
export { compressPayload, compressIfSmaller, decompressBuffer, decompressPayload } from './compress.js';
export { crc32 } from './crc32.js';

export { Keyring, validateKey } from './keyring.js';
export {
  encryptPayload,
  decryptPayload,
  encryptedLength,
  encryptOverhead,
  encryptionVersionFor,
  MAX_ENCRYPTION_VERSION,
  NONCE_SIZE,
  TAG_SIZE,
} from './encryption.js';
export type { EncryptionVersion } from './encryption.js';

export { encodePacket, decodePacket } from './packet.js';
export type { PacketEncodeOptions, PacketDecodeOptions, PacketMessage, DecodedPacket } from './packet.js';

export {
  StreamReader,
  decodeStream,
  encodeStream,
  encryptStreamFrame,
  encodePushPullStream,
  encodeUserMsgStream,
  encodeUserMsgStreamMessage,
  encodePingStream,
  encodeAckStream,
  encodeErrStream,
} from './stream.js';
export type { StreamEncodeOptions, StreamReaderOptions, StreamMessage, StreamFrame } from './stream.js';

export { TAG_MAGIC_BYTE, encodeSerfTags, decodeSerfTags } from './serf-tags.js';
export type { SerfTags } from './serf-tags.js';
