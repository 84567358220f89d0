/**
 * The memberlist v0.2.2 wire structs (net.go), as TypeScript interfaces with Go's exact field names,
 * and the schemas the struct codec encodes them with. Field order in each schema is Go's declaration
 * order; the encoder writes them sorted by name, as go-msgpack does.
 *
 * Go types map as: uint32/uint16/uint8 -> number (range-checked), int -> number (safe integers),
 * bool -> boolean, string -> string, []byte and []uint8 -> Uint8Array | null (null is Go's nil slice,
 * written 0xc0; an empty Uint8Array is written 0xa0; Go treats both alike when decoding). Decoding
 * fills every field, with Go's zero value for absent ones.
 */
import { defineStruct } from './struct.js';

/** Node states (state.go NodeStateType, a Go int on the wire). */
export const NodeState = {
  Alive: 0,
  Suspect: 1,
  Dead: 2,
  Left: 3,
} as const;
export type NodeStateCode = (typeof NodeState)[keyof typeof NodeState];

/** ping: sent directly to a node. `Node` lets the target check it is the intended recipient. */
export interface Ping {
  readonly SeqNo: number;
  readonly Node: string;
  /** omitempty: where to send the ack, when relayed. */
  readonly SourceAddr?: Uint8Array | null;
  /** omitempty */
  readonly SourcePort?: number;
  /** omitempty */
  readonly SourceNode?: string;
}

/** indirectPingReq: ask a peer to ping `Target:Port` for us; `Nack` asks for a nack on timeout. */
export interface IndirectPingReq {
  readonly SeqNo: number;
  readonly Target: Uint8Array | null;
  readonly Port: number;
  readonly Node: string;
  readonly Nack: boolean;
  readonly SourceAddr?: Uint8Array | null;
  readonly SourcePort?: number;
  readonly SourceNode?: string;
}

/** ackResp: answer to a ping. Payload comes from the ping delegate (Serf: [1] + a coordinate). */
export interface AckResp {
  readonly SeqNo: number;
  readonly Payload: Uint8Array | null;
}

/** nackResp: the indirect prober did not hear back in time. */
export interface NackResp {
  readonly SeqNo: number;
}

/** errResp: a stream-level error relayed to the other end. */
export interface ErrResp {
  readonly Error: string;
}

/** suspect: `From` suspects `Node` at `Incarnation`. */
export interface Suspect {
  readonly Incarnation: number;
  readonly Node: string;
  readonly From: string;
}

/** alive: `Node` is alive at `Incarnation` (also how nodes announce themselves). */
export interface Alive {
  readonly Incarnation: number;
  readonly Node: string;
  readonly Addr: Uint8Array | null;
  readonly Port: number;
  /** At most META_MAX_SIZE (512) bytes; Serf puts 0xFF + msgpack tags here. */
  readonly Meta: Uint8Array | null;
  /** [pmin, pmax, pcur, dmin, dmax, dcur] as bytes. */
  readonly Vsn: Uint8Array | null;
}

/** dead: `Node` is dead at `Incarnation`; `From === Node` means it left gracefully. */
export interface Dead {
  readonly Incarnation: number;
  readonly Node: string;
  readonly From: string;
}

/** pushPullHeader: the first object of a push/pull stream. */
export interface PushPullHeader {
  readonly Nodes: number;
  readonly UserStateLen: number;
  readonly Join: boolean;
}

/** userMsgHeader: the first object of a user-message stream. */
export interface UserMsgHeader {
  readonly UserMsgLen: number;
}

/** pushNodeState: one node of a push/pull exchange. */
export interface PushNodeState {
  readonly Name: string;
  readonly Addr: Uint8Array | null;
  readonly Port: number;
  readonly Meta: Uint8Array | null;
  readonly Incarnation: number;
  /** A NodeState value; any Go int is accepted on the way in. */
  readonly State: number;
  readonly Vsn: Uint8Array | null;
}

/** compress: `Buf` is the LZW-compressed form of a whole message (type byte first). */
export interface Compress {
  readonly Algo: number;
  readonly Buf: Uint8Array | null;
}

export const pingSchema = defineStruct<Ping>('ping', [
  { name: 'SeqNo', kind: 'u32' },
  { name: 'Node', kind: 'string' },
  { name: 'SourceAddr', kind: 'bytes', omitEmpty: true },
  { name: 'SourcePort', kind: 'u16', omitEmpty: true },
  { name: 'SourceNode', kind: 'string', omitEmpty: true },
]);

export const indirectPingReqSchema = defineStruct<IndirectPingReq>('indirectPingReq', [
  { name: 'SeqNo', kind: 'u32' },
  { name: 'Target', kind: 'bytes' },
  { name: 'Port', kind: 'u16' },
  { name: 'Node', kind: 'string' },
  { name: 'Nack', kind: 'bool' },
  { name: 'SourceAddr', kind: 'bytes', omitEmpty: true },
  { name: 'SourcePort', kind: 'u16', omitEmpty: true },
  { name: 'SourceNode', kind: 'string', omitEmpty: true },
]);

export const ackRespSchema = defineStruct<AckResp>('ackResp', [
  { name: 'SeqNo', kind: 'u32' },
  { name: 'Payload', kind: 'bytes' },
]);

export const nackRespSchema = defineStruct<NackResp>('nackResp', [{ name: 'SeqNo', kind: 'u32' }]);

export const errRespSchema = defineStruct<ErrResp>('errResp', [{ name: 'Error', kind: 'string' }]);

export const suspectSchema = defineStruct<Suspect>('suspect', [
  { name: 'Incarnation', kind: 'u32' },
  { name: 'Node', kind: 'string' },
  { name: 'From', kind: 'string' },
]);

export const aliveSchema = defineStruct<Alive>('alive', [
  { name: 'Incarnation', kind: 'u32' },
  { name: 'Node', kind: 'string' },
  { name: 'Addr', kind: 'bytes' },
  { name: 'Port', kind: 'u16' },
  { name: 'Meta', kind: 'bytes' },
  { name: 'Vsn', kind: 'bytes' },
]);

export const deadSchema = defineStruct<Dead>('dead', [
  { name: 'Incarnation', kind: 'u32' },
  { name: 'Node', kind: 'string' },
  { name: 'From', kind: 'string' },
]);

export const pushPullHeaderSchema = defineStruct<PushPullHeader>('pushPullHeader', [
  { name: 'Nodes', kind: 'int' },
  { name: 'UserStateLen', kind: 'int' },
  { name: 'Join', kind: 'bool' },
]);

export const userMsgHeaderSchema = defineStruct<UserMsgHeader>('userMsgHeader', [{ name: 'UserMsgLen', kind: 'int' }]);

export const pushNodeStateSchema = defineStruct<PushNodeState>('pushNodeState', [
  { name: 'Name', kind: 'string' },
  { name: 'Addr', kind: 'bytes' },
  { name: 'Port', kind: 'u16' },
  { name: 'Meta', kind: 'bytes' },
  { name: 'Incarnation', kind: 'u32' },
  { name: 'State', kind: 'int' },
  { name: 'Vsn', kind: 'bytes' },
]);

export const compressSchema = defineStruct<Compress>('compress', [
  { name: 'Algo', kind: 'u8' },
  { name: 'Buf', kind: 'bytes' },
]);

/** The six protocol versions a node advertises in Vsn. */
export interface Versions {
  readonly pmin: number;
  readonly pmax: number;
  readonly pcur: number;
  readonly dmin: number;
  readonly dmax: number;
  readonly dcur: number;
}

/** Vsn bytes [pmin, pmax, pcur, dmin, dmax, dcur]. */
export function makeVsn(v: Versions): Uint8Array {
  return Uint8Array.of(v.pmin, v.pmax, v.pcur, v.dmin, v.dmax, v.dcur);
}

/**
 * Reads Vsn, or undefined when it has fewer than 6 bytes (memberlist v0.2.2 ignores such alive
 * messages and its verifyProtocol would index past a short one; HEAD checks the length).
 */
export function parseVsn(vsn: Uint8Array | null): Versions | undefined {
  if (vsn === null || vsn.length < 6) return undefined;
  const [pmin = 0, pmax = 0, pcur = 0, dmin = 0, dmax = 0, dcur = 0] = vsn;
  return { pmin, pmax, pcur, dmin, dmax, dcur };
}
