/**
 * Serf 0.9.4 messages (serf/messages.go, serf/serf.go, serf/internal_query.go, serf/keymanager.go).
 *
 * A Serf message is `[serfType][msgpack body]`, carried inside a memberlist user message: gossip
 * `[8][serfType][msgpack]`, or the push/pull user state (`[2]` + messagePushPull). ONLY APPEND to
 * SerfMessageType: the numbers are on the wire.
 *
 * | # | type            | body (Go struct, fields as go-msgpack writes them: sorted by name)               |
 * |---|-----------------|-----------------------------------------------------------------------------------|
 * | 0 | leave           | messageLeave{LTime, Node, Prune}                                                  |
 * | 1 | join            | messageJoin{LTime, Node}                                                          |
 * | 2 | pushPull        | messagePushPull{EventLTime, Events []*userEvents, LTime, LeftMembers []string,    |
 * |   |                 |   QueryLTime, StatusLTimes map[string]LamportTime}                                |
 * | 3 | userEvent       | messageUserEvent{CC, LTime, Name, Payload}                                        |
 * | 4 | query           | messageQuery{Addr, Filters [][]byte, Flags, ID, LTime, Name, Payload, Port,       |
 * |   |                 |   RelayFactor, SourceNode, Timeout (ns)}                                          |
 * | 5 | queryResponse   | messageQueryResponse{Flags, From, ID, LTime, Payload}                             |
 * | 6 | conflictResp.   | *Member (nil when unknown), inside a query response payload                       |
 * | 7 | keyRequest      | keyRequest{Key}, inside a `_serf_*-key` query payload                             |
 * | 8 | keyResponse     | nodeKeyResponse{Keys, Message, PrimaryKey, Result}, inside a query response       |
 * | 9 | relay           | relayHeader{DestAddr{IP, Port, Zone}, DestName} + a whole serf message            |
 *
 * go-msgpack rules as in the wire codec (docs/cluster-wire.md): structs are maps keyed by Go field name
 * in byte order of the names; integers in their smallest form; string and []byte both raw str; nil
 * slices/maps/pointers 0xc0. Go maps iterate randomly; we write map keys sorted so bytes are stable.
 * Reading accepts any key order, unknown keys (skipped), nil for any field (zero value), and structs
 * in array form. LamportTime (uint64) is a JS number: times above 2^53-1 are refused (`int-range`).
 */
import {
  MsgpackReader,
  MsgpackWriter,
  WireError,
  defineStruct,
  readStruct,
  writeStruct,
  type StructSchema,
} from '../wire/index.js';
import type { LamportTime } from './lamport.js';

export const SerfMessageType = {
  Leave: 0,
  Join: 1,
  PushPull: 2,
  UserEvent: 3,
  Query: 4,
  QueryResponse: 5,
  ConflictResponse: 6,
  KeyRequest: 7,
  KeyResponse: 8,
  Relay: 9,
} as const;
export type SerfMessageTypeCode = (typeof SerfMessageType)[keyof typeof SerfMessageType];

/** messageQuery.Flags / messageQueryResponse.Flags. */
export const QueryFlag = {
  /** Ask every node that passes the filters for an ack; on a response: this is the ack. */
  Ack: 1,
  /** Do not re-gossip the query (used to target nodes individually). */
  NoBroadcast: 2,
} as const;

/** The first byte of each entry of messageQuery.Filters. */
export const FilterType = {
  /** msgpack []string of node names. */
  Node: 0,
  /** msgpack filterTag{Expr, Tag}: a regular expression on one tag. */
  Tag: 1,
} as const;

/** Serf member status as serf.Member.Status (a Go int): none, alive, leaving, left, failed. */
export const SerfStatusCode = { None: 0, Alive: 1, Leaving: 2, Left: 3, Failed: 4 } as const;

export const INTERNAL_QUERY_PREFIX = '_serf_';

// ---------------------------------------------------------------------------------------------
// Flat structs: the wire codec's struct schemas

export interface MessageJoin {
  readonly LTime: LamportTime;
  readonly Node: string;
}

export interface MessageLeave {
  readonly LTime: LamportTime;
  readonly Node: string;
  /** Forget the node at once (force-leave -prune). */
  readonly Prune: boolean;
}

export interface MessageUserEvent {
  readonly LTime: LamportTime;
  readonly Name: string;
  readonly Payload: Uint8Array | null;
  /** "Can coalesce". */
  readonly CC: boolean;
}

export interface MessageQueryResponse {
  readonly LTime: LamportTime;
  readonly ID: number;
  /** The responding node's name. */
  readonly From: string;
  readonly Flags: number;
  readonly Payload: Uint8Array | null;
}

/** The payload of `_serf_install-key`, `_serf_use-key`, `_serf_remove-key` after the type byte 7. */
export interface KeyRequest {
  readonly Key: Uint8Array | null;
}

export interface FilterTag {
  readonly Tag: string;
  readonly Expr: string;
}

/** serf.go userEvent: one event inside userEvents. */
export interface UserEvent {
  readonly Name: string;
  readonly Payload: Uint8Array | null;
}

export const messageJoinSchema: StructSchema<MessageJoin> = defineStruct<MessageJoin>('messageJoin', [
  { name: 'LTime', kind: 'int' },
  { name: 'Node', kind: 'string' },
]);

export const messageLeaveSchema: StructSchema<MessageLeave> = defineStruct<MessageLeave>('messageLeave', [
  { name: 'LTime', kind: 'int' },
  { name: 'Node', kind: 'string' },
  { name: 'Prune', kind: 'bool' },
]);

export const messageUserEventSchema: StructSchema<MessageUserEvent> = defineStruct<MessageUserEvent>('messageUserEvent', [
  { name: 'LTime', kind: 'int' },
  { name: 'Name', kind: 'string' },
  { name: 'Payload', kind: 'bytes' },
  { name: 'CC', kind: 'bool' },
]);

export const messageQueryResponseSchema: StructSchema<MessageQueryResponse> = defineStruct<MessageQueryResponse>('messageQueryResponse', [
  { name: 'LTime', kind: 'int' },
  { name: 'ID', kind: 'u32' },
  { name: 'From', kind: 'string' },
  { name: 'Flags', kind: 'u32' },
  { name: 'Payload', kind: 'bytes' },
]);

export const keyRequestSchema: StructSchema<KeyRequest> = defineStruct<KeyRequest>('keyRequest', [{ name: 'Key', kind: 'bytes' }]);

export const filterTagSchema: StructSchema<FilterTag> = defineStruct<FilterTag>('filterTag', [
  { name: 'Tag', kind: 'string' },
  { name: 'Expr', kind: 'string' },
]);

export const userEventSchema: StructSchema<UserEvent> = defineStruct<UserEvent>('userEvent', [
  { name: 'Name', kind: 'string' },
  { name: 'Payload', kind: 'bytes' },
]);

// ---------------------------------------------------------------------------------------------
// Nested structs

/** serf.go userEvents: the events seen at one Lamport time. */
export interface UserEvents {
  readonly LTime: LamportTime;
  readonly Events: readonly UserEvent[];
}

export interface MessagePushPull {
  /** Membership clock. */
  readonly LTime: LamportTime;
  /** Each known member's status time (its last join/leave intent). */
  readonly StatusLTimes: ReadonlyMap<string, LamportTime>;
  readonly LeftMembers: readonly string[];
  readonly EventLTime: LamportTime;
  /** The event buffer; Go sends all of it, nil slots included (null here). */
  readonly Events: readonly (UserEvents | null)[];
  readonly QueryLTime: LamportTime;
}

export interface MessageQuery {
  readonly LTime: LamportTime;
  /** Random per query. */
  readonly ID: number;
  /** Where to send responses (net.IP bytes) and on which port (memberlist's, UDP). */
  readonly Addr: Uint8Array | null;
  readonly Port: number;
  readonly SourceNode: string;
  /** `[FilterType][msgpack]` each; nil when there are none. */
  readonly Filters: readonly Uint8Array[] | null;
  readonly Flags: number;
  readonly RelayFactor: number;
  /** time.Duration: nanoseconds. */
  readonly Timeout: number;
  readonly Name: string;
  readonly Payload: Uint8Array | null;
}

/** internal_query.go nodeKeyResponse, the payload of a key query's response after the type byte 8. */
export interface NodeKeyResponse {
  readonly Result: boolean;
  readonly Message: string;
  /** Base64 keys (list-keys only; nil otherwise). */
  readonly Keys: readonly string[] | null;
  /** Base64 primary key (list-keys only). */
  readonly PrimaryKey: string;
}

/** Go's net.UDPAddr as go-msgpack writes it. */
export interface UdpAddr {
  readonly IP: Uint8Array | null;
  readonly Port: number;
  readonly Zone: string;
}

export interface RelayHeader {
  readonly DestAddr: UdpAddr;
  readonly DestName: string;
}

/** A relayed message: the header, then a whole serf message (type byte first) to forward. */
export interface Relay {
  readonly Header: RelayHeader;
  readonly Message: Uint8Array;
}

/** serf.Member, the `_serf_conflict` answer. */
export interface SerfMemberWire {
  readonly Name: string;
  readonly Addr: Uint8Array | null;
  readonly Port: number;
  readonly Tags: ReadonlyMap<string, string>;
  readonly Status: number;
  readonly ProtocolMin: number;
  readonly ProtocolMax: number;
  readonly ProtocolCur: number;
  readonly DelegateMin: number;
  readonly DelegateMax: number;
  readonly DelegateCur: number;
}

export interface SerfMessageBodies {
  [SerfMessageType.Leave]: MessageLeave;
  [SerfMessageType.Join]: MessageJoin;
  [SerfMessageType.PushPull]: MessagePushPull;
  [SerfMessageType.UserEvent]: MessageUserEvent;
  [SerfMessageType.Query]: MessageQuery;
  [SerfMessageType.QueryResponse]: MessageQueryResponse;
  [SerfMessageType.ConflictResponse]: SerfMemberWire | null;
  [SerfMessageType.KeyRequest]: KeyRequest;
  [SerfMessageType.KeyResponse]: NodeKeyResponse;
  [SerfMessageType.Relay]: Relay;
}

export type SerfMessage = {
  [K in SerfMessageTypeCode]: { readonly type: K; readonly body: SerfMessageBodies[K] };
}[SerfMessageTypeCode];

// ---------------------------------------------------------------------------------------------
// Reading helpers (nil → Go zero value everywhere)

const MAX_LTIME = Number.MAX_SAFE_INTEGER;

function tooDeep(r: MsgpackReader): WireError {
  return new WireError('too-deep', `msgpack: nesting deeper than ${r.maxDepth}`, { offset: r.pos });
}

/**
 * Reads a Go struct at the reader's position: a map (any key order, unknown keys skipped), an array
 * (declaration order), or nil (all zero). `depth` counts the containers already open around it.
 */
function readFields(r: MsgpackReader, depth: number, goName: string, order: readonly string[], field: (name: string, depth: number) => void): void {
  if (depth >= r.maxDepth) throw tooDeep(r);
  if (r.tryNil()) return;
  const kind = r.peekKind();
  if (kind === 'map') {
    const n = r.readMapHeader();
    for (let i = 0; i < n; i++) {
      const keyKind = r.peekKind();
      let name: string | undefined;
      if (keyKind === 'str' || keyKind === 'bin') name = r.readString();
      else if (keyKind === 'nil') r.skip(depth + 1);
      else throw new WireError('type-mismatch', `${goName}: map key is ${keyKind}, not a string`, { offset: r.pos });
      if (name !== undefined && order.includes(name)) field(name, depth + 1);
      else r.skip(depth + 1);
    }
    return;
  }
  if (kind === 'array') {
    const n = r.readArrayHeader();
    for (let i = 0; i < n; i++) {
      const name = order[i];
      if (name === undefined) r.skip(depth + 1);
      else field(name, depth + 1);
    }
    return;
  }
  throw new WireError('type-mismatch', `${goName}: expected a map, found ${kind}`, { offset: r.pos });
}

function rdLTime(r: MsgpackReader): LamportTime {
  return r.tryNil() ? 0 : r.readInt(0, MAX_LTIME);
}

function rdUint(r: MsgpackReader, max: number): number {
  return r.tryNil() ? 0 : r.readInt(0, max);
}

function rdInt64(r: MsgpackReader): number {
  return r.tryNil() ? 0 : r.readInt(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
}

function rdBool(r: MsgpackReader): boolean {
  return r.tryNil() ? false : r.readBool();
}

function rdString(r: MsgpackReader): string {
  return r.tryNil() ? '' : r.readString();
}

function rdBytes(r: MsgpackReader, depth: number): Uint8Array | null {
  if (r.tryNil()) return null;
  const kind = r.peekKind();
  if (kind === 'str' || kind === 'bin') return r.readRawBytes();
  if (kind === 'array') {
    if (depth >= r.maxDepth) throw tooDeep(r);
    const n = r.readArrayHeader();
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = r.readInt(0, 0xff);
    return out;
  }
  throw new WireError('type-mismatch', `msgpack: expected bytes, found ${kind} at offset ${r.pos}`, { offset: r.pos });
}

function rdArray<T>(r: MsgpackReader, depth: number, item: (depth: number) => T): T[] | null {
  if (r.tryNil()) return null;
  if (depth >= r.maxDepth) throw tooDeep(r);
  const n = r.readArrayHeader();
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(item(depth + 1));
  return out;
}

function rdMap<V>(r: MsgpackReader, depth: number, value: (depth: number) => V): Map<string, V> {
  const out = new Map<string, V>();
  if (r.tryNil()) return out;
  if (depth >= r.maxDepth) throw tooDeep(r);
  const n = r.readMapHeader();
  for (let i = 0; i < n; i++) {
    const k = rdString(r);
    out.set(k, value(depth + 1));
  }
  return out;
}

function checkLTime(goName: string, t: number): void {
  if (t < 0) throw new WireError('int-range', `${goName}.LTime: ${t} is not a LamportTime (uint64)`);
}

// ---------------------------------------------------------------------------------------------
// Writing helpers

type FieldWriter = readonly [string, () => void];

/** Writes a struct map with its fields in byte order of the names, as go-msgpack does. */
function writeSorted(w: MsgpackWriter, fields: readonly FieldWriter[]): void {
  const sorted = [...fields].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  w.mapHeader(sorted.length);
  for (const [name, write] of sorted) {
    w.str(name);
    write();
  }
}

function wrLTime(w: MsgpackWriter, goName: string, t: LamportTime): void {
  if (!Number.isSafeInteger(t) || t < 0) throw new WireError('invalid-value', `${goName}: ${t} is not a LamportTime`);
  w.uint(t);
}

function wrUint(w: MsgpackWriter, goName: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new WireError('invalid-value', `${goName}: ${v} out of range`);
  w.uint(v);
}

function wrStrings(w: MsgpackWriter, list: readonly string[] | null): void {
  if (list === null) {
    w.nil();
    return;
  }
  w.arrayHeader(list.length);
  for (const s of list) w.str(s);
}

function sortedEntries<V>(m: ReadonlyMap<string, V>): [string, V][] {
  return [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------
// Per-struct codecs

function writeUserEvents(w: MsgpackWriter, e: UserEvents): void {
  writeSorted(w, [
    ['LTime', () => wrLTime(w, 'userEvents.LTime', e.LTime)],
    [
      'Events',
      () => {
        w.arrayHeader(e.Events.length);
        for (const ev of e.Events) writeStruct(w, userEventSchema, ev);
      },
    ],
  ]);
}

function readUserEvents(r: MsgpackReader, depth: number): UserEvents | null {
  if (r.tryNil()) return null;
  let LTime = 0;
  let Events: UserEvent[] = [];
  readFields(r, depth, 'userEvents', ['LTime', 'Events'], (name, d) => {
    if (name === 'LTime') LTime = rdLTime(r);
    else Events = rdArray(r, d, (dd) => readStruct(r, userEventSchema, dd)) ?? [];
  });
  return { LTime, Events };
}

/** Writes messagePushPull (no type byte). */
export function writeMessagePushPull(w: MsgpackWriter, pp: MessagePushPull): void {
  writeSorted(w, [
    ['LTime', () => wrLTime(w, 'messagePushPull.LTime', pp.LTime)],
    [
      'StatusLTimes',
      () => {
        const entries = sortedEntries(pp.StatusLTimes);
        w.mapHeader(entries.length);
        for (const [k, v] of entries) {
          w.str(k);
          wrLTime(w, `messagePushPull.StatusLTimes[${k}]`, v);
        }
      },
    ],
    ['LeftMembers', () => wrStrings(w, pp.LeftMembers)],
    ['EventLTime', () => wrLTime(w, 'messagePushPull.EventLTime', pp.EventLTime)],
    [
      'Events',
      () => {
        w.arrayHeader(pp.Events.length);
        for (const e of pp.Events) {
          if (e === null) w.nil();
          else writeUserEvents(w, e);
        }
      },
    ],
    ['QueryLTime', () => wrLTime(w, 'messagePushPull.QueryLTime', pp.QueryLTime)],
  ]);
}

export function readMessagePushPull(r: MsgpackReader, depth = 0): MessagePushPull {
  let LTime = 0;
  let StatusLTimes = new Map<string, LamportTime>();
  let LeftMembers: string[] = [];
  let EventLTime = 0;
  let Events: (UserEvents | null)[] = [];
  let QueryLTime = 0;
  const order = ['LTime', 'StatusLTimes', 'LeftMembers', 'EventLTime', 'Events', 'QueryLTime'];
  readFields(r, depth, 'messagePushPull', order, (name, d) => {
    switch (name) {
      case 'LTime':
        LTime = rdLTime(r);
        break;
      case 'StatusLTimes':
        StatusLTimes = rdMap(r, d, () => rdLTime(r));
        break;
      case 'LeftMembers':
        LeftMembers = rdArray(r, d, () => rdString(r)) ?? [];
        break;
      case 'EventLTime':
        EventLTime = rdLTime(r);
        break;
      case 'Events':
        Events = rdArray(r, d, (dd) => readUserEvents(r, dd)) ?? [];
        break;
      default:
        QueryLTime = rdLTime(r);
    }
  });
  return { LTime, StatusLTimes, LeftMembers, EventLTime, Events, QueryLTime };
}

export function writeMessageQuery(w: MsgpackWriter, q: MessageQuery): void {
  writeSorted(w, [
    ['LTime', () => wrLTime(w, 'messageQuery.LTime', q.LTime)],
    ['ID', () => wrUint(w, 'messageQuery.ID', q.ID, 0xffff_ffff)],
    ['Addr', () => w.bytes(q.Addr)],
    ['Port', () => wrUint(w, 'messageQuery.Port', q.Port, 0xffff)],
    ['SourceNode', () => w.str(q.SourceNode)],
    [
      'Filters',
      () => {
        if (q.Filters === null) {
          w.nil();
          return;
        }
        w.arrayHeader(q.Filters.length);
        for (const f of q.Filters) w.bytes(f);
      },
    ],
    ['Flags', () => wrUint(w, 'messageQuery.Flags', q.Flags, 0xffff_ffff)],
    ['RelayFactor', () => wrUint(w, 'messageQuery.RelayFactor', q.RelayFactor, 0xff)],
    [
      'Timeout',
      () => {
        if (!Number.isSafeInteger(q.Timeout)) throw new WireError('invalid-value', `messageQuery.Timeout: ${q.Timeout}`);
        w.int(q.Timeout);
      },
    ],
    ['Name', () => w.str(q.Name)],
    ['Payload', () => w.bytes(q.Payload)],
  ]);
}

export function readMessageQuery(r: MsgpackReader, depth = 0): MessageQuery {
  const q = {
    LTime: 0,
    ID: 0,
    Addr: null as Uint8Array | null,
    Port: 0,
    SourceNode: '',
    Filters: null as Uint8Array[] | null,
    Flags: 0,
    RelayFactor: 0,
    Timeout: 0,
    Name: '',
    Payload: null as Uint8Array | null,
  };
  const order = ['LTime', 'ID', 'Addr', 'Port', 'SourceNode', 'Filters', 'Flags', 'RelayFactor', 'Timeout', 'Name', 'Payload'];
  readFields(r, depth, 'messageQuery', order, (name, d) => {
    switch (name) {
      case 'LTime':
        q.LTime = rdLTime(r);
        break;
      case 'ID':
        q.ID = rdUint(r, 0xffff_ffff);
        break;
      case 'Addr':
        q.Addr = rdBytes(r, d);
        break;
      case 'Port':
        q.Port = rdUint(r, 0xffff);
        break;
      case 'SourceNode':
        q.SourceNode = rdString(r);
        break;
      case 'Filters':
        q.Filters = rdArray(r, d, (dd) => rdBytes(r, dd) ?? new Uint8Array(0));
        break;
      case 'Flags':
        q.Flags = rdUint(r, 0xffff_ffff);
        break;
      case 'RelayFactor':
        q.RelayFactor = rdUint(r, 0xff);
        break;
      case 'Timeout':
        q.Timeout = rdInt64(r);
        break;
      case 'Name':
        q.Name = rdString(r);
        break;
      default:
        q.Payload = rdBytes(r, d);
    }
  });
  return q;
}

export function writeNodeKeyResponse(w: MsgpackWriter, k: NodeKeyResponse): void {
  writeSorted(w, [
    ['Result', () => w.bool(k.Result)],
    ['Message', () => w.str(k.Message)],
    ['Keys', () => wrStrings(w, k.Keys)],
    ['PrimaryKey', () => w.str(k.PrimaryKey)],
  ]);
}

export function readNodeKeyResponse(r: MsgpackReader, depth = 0): NodeKeyResponse {
  let Result = false;
  let Message = '';
  let Keys: string[] | null = null;
  let PrimaryKey = '';
  readFields(r, depth, 'nodeKeyResponse', ['Result', 'Message', 'Keys', 'PrimaryKey'], (name, d) => {
    if (name === 'Result') Result = rdBool(r);
    else if (name === 'Message') Message = rdString(r);
    else if (name === 'Keys') Keys = rdArray(r, d, () => rdString(r));
    else PrimaryKey = rdString(r);
  });
  return { Result, Message, Keys, PrimaryKey };
}

function writeRelayHeader(w: MsgpackWriter, h: RelayHeader): void {
  writeSorted(w, [
    [
      'DestAddr',
      () =>
        writeSorted(w, [
          ['IP', () => w.bytes(h.DestAddr.IP)],
          [
            'Port',
            () => {
              if (!Number.isSafeInteger(h.DestAddr.Port)) throw new WireError('invalid-value', `relayHeader.DestAddr.Port: ${h.DestAddr.Port}`);
              w.int(h.DestAddr.Port);
            },
          ],
          ['Zone', () => w.str(h.DestAddr.Zone)],
        ]),
    ],
    ['DestName', () => w.str(h.DestName)],
  ]);
}

function readRelayHeader(r: MsgpackReader, depth: number): RelayHeader {
  let IP: Uint8Array | null = null;
  let Port = 0;
  let Zone = '';
  let DestName = '';
  readFields(r, depth, 'relayHeader', ['DestAddr', 'DestName'], (name, d) => {
    if (name === 'DestName') {
      DestName = rdString(r);
      return;
    }
    readFields(r, d, 'net.UDPAddr', ['IP', 'Port', 'Zone'], (field, dd) => {
      if (field === 'IP') IP = rdBytes(r, dd);
      else if (field === 'Port') Port = rdInt64(r);
      else Zone = rdString(r);
    });
  });
  return { DestAddr: { IP, Port, Zone }, DestName };
}

export function writeSerfMember(w: MsgpackWriter, m: SerfMemberWire): void {
  const u8 = (name: keyof SerfMemberWire, v: number): FieldWriter => [name, () => wrUint(w, `Member.${name}`, v, 0xff)];
  writeSorted(w, [
    ['Name', () => w.str(m.Name)],
    ['Addr', () => w.bytes(m.Addr)],
    ['Port', () => wrUint(w, 'Member.Port', m.Port, 0xffff)],
    [
      'Tags',
      () => {
        const entries = sortedEntries(m.Tags);
        w.mapHeader(entries.length);
        for (const [k, v] of entries) w.str(k).str(v);
      },
    ],
    [
      'Status',
      () => {
        if (!Number.isSafeInteger(m.Status)) throw new WireError('invalid-value', `Member.Status: ${m.Status}`);
        w.int(m.Status);
      },
    ],
    u8('ProtocolMin', m.ProtocolMin),
    u8('ProtocolMax', m.ProtocolMax),
    u8('ProtocolCur', m.ProtocolCur),
    u8('DelegateMin', m.DelegateMin),
    u8('DelegateMax', m.DelegateMax),
    u8('DelegateCur', m.DelegateCur),
  ]);
}

export function readSerfMember(r: MsgpackReader, depth = 0): SerfMemberWire | null {
  if (r.tryNil()) return null;
  const m = {
    Name: '',
    Addr: null as Uint8Array | null,
    Port: 0,
    Tags: new Map<string, string>(),
    Status: 0,
    ProtocolMin: 0,
    ProtocolMax: 0,
    ProtocolCur: 0,
    DelegateMin: 0,
    DelegateMax: 0,
    DelegateCur: 0,
  };
  const order = ['Name', 'Addr', 'Port', 'Tags', 'Status', 'ProtocolMin', 'ProtocolMax', 'ProtocolCur', 'DelegateMin', 'DelegateMax', 'DelegateCur'];
  readFields(r, depth, 'Member', order, (name, d) => {
    switch (name) {
      case 'Name':
        m.Name = rdString(r);
        break;
      case 'Addr':
        m.Addr = rdBytes(r, d);
        break;
      case 'Port':
        m.Port = rdUint(r, 0xffff);
        break;
      case 'Tags':
        m.Tags = rdMap(r, d, () => rdString(r));
        break;
      case 'Status':
        m.Status = rdInt64(r);
        break;
      case 'ProtocolMin':
      case 'ProtocolMax':
      case 'ProtocolCur':
      case 'DelegateMin':
      case 'DelegateMax':
      case 'DelegateCur':
        m[name] = rdUint(r, 0xff);
        break;
      default:
        r.skip(d);
    }
  });
  return m;
}

// ---------------------------------------------------------------------------------------------
// Whole messages

/** True for the type bytes Serf 0.9.4 defines (0-9). */
export function isSerfMessageType(t: number): t is SerfMessageTypeCode {
  return Number.isInteger(t) && t >= 0 && t <= 9;
}

/** `[type][msgpack body]`, as serf's encodeMessage (relay: header then the inner message verbatim). */
export function encodeSerfMessage<T extends SerfMessageTypeCode>(type: T, body: SerfMessageBodies[T]): Uint8Array {
  const w = new MsgpackWriter(128);
  w.byte(type);
  const t: SerfMessageTypeCode = type;
  switch (t) {
    case SerfMessageType.Leave: {
      const b = body as MessageLeave;
      checkLTime('messageLeave', b.LTime);
      writeStruct(w, messageLeaveSchema, b);
      break;
    }
    case SerfMessageType.Join: {
      const b = body as MessageJoin;
      checkLTime('messageJoin', b.LTime);
      writeStruct(w, messageJoinSchema, b);
      break;
    }
    case SerfMessageType.PushPull:
      writeMessagePushPull(w, body as MessagePushPull);
      break;
    case SerfMessageType.UserEvent: {
      const b = body as MessageUserEvent;
      checkLTime('messageUserEvent', b.LTime);
      writeStruct(w, messageUserEventSchema, b);
      break;
    }
    case SerfMessageType.Query:
      writeMessageQuery(w, body as MessageQuery);
      break;
    case SerfMessageType.QueryResponse: {
      const b = body as MessageQueryResponse;
      checkLTime('messageQueryResponse', b.LTime);
      writeStruct(w, messageQueryResponseSchema, b);
      break;
    }
    case SerfMessageType.ConflictResponse: {
      const b = body as SerfMemberWire | null;
      if (b === null) w.nil();
      else writeSerfMember(w, b);
      break;
    }
    case SerfMessageType.KeyRequest:
      writeStruct(w, keyRequestSchema, body as KeyRequest);
      break;
    case SerfMessageType.KeyResponse:
      writeNodeKeyResponse(w, body as NodeKeyResponse);
      break;
    case SerfMessageType.Relay: {
      const b = body as Relay;
      if (b.Message.length === 0) throw new WireError('empty', 'relay: empty inner message');
      writeRelayHeader(w, b.Header);
      w.raw(b.Message);
      break;
    }
  }
  return w.finish();
}

/** Decodes `[type][msgpack]`; trailing bytes after the body are ignored, as in Go. Throws WireError. */
export function decodeSerfMessage(buf: Uint8Array, maxDepth?: number): SerfMessage {
  if (buf.length === 0) throw new WireError('empty', 'empty serf message');
  const type = buf[0] ?? 0;
  if (!isSerfMessageType(type)) throw new WireError('unknown-message-type', `unknown serf message type ${type}`, { offset: 0 });
  const r = new MsgpackReader(buf, 1, buf.length, maxDepth);
  switch (type) {
    case SerfMessageType.Leave: {
      const body = readStruct(r, messageLeaveSchema);
      checkLTime('messageLeave', body.LTime);
      return { type, body };
    }
    case SerfMessageType.Join: {
      const body = readStruct(r, messageJoinSchema);
      checkLTime('messageJoin', body.LTime);
      return { type, body };
    }
    case SerfMessageType.PushPull:
      return { type, body: readMessagePushPull(r) };
    case SerfMessageType.UserEvent: {
      const body = readStruct(r, messageUserEventSchema);
      checkLTime('messageUserEvent', body.LTime);
      return { type, body };
    }
    case SerfMessageType.Query:
      return { type, body: readMessageQuery(r) };
    case SerfMessageType.QueryResponse: {
      const body = readStruct(r, messageQueryResponseSchema);
      checkLTime('messageQueryResponse', body.LTime);
      return { type, body };
    }
    case SerfMessageType.ConflictResponse:
      return { type, body: readSerfMember(r) };
    case SerfMessageType.KeyRequest:
      return { type, body: readStruct(r, keyRequestSchema) };
    case SerfMessageType.KeyResponse:
      return { type, body: readNodeKeyResponse(r) };
    case SerfMessageType.Relay: {
      const Header = readRelayHeader(r, 0);
      const Message = buf.slice(r.pos);
      if (Message.length === 0) throw new WireError('truncated', 'relay: no inner message', { offset: r.pos, needed: r.pos + 1 });
      return { type, body: { Header, Message } };
    }
  }
}

/** A query filter entry: `[FilterType.Node]` + msgpack []string. */
export function encodeNodeFilter(nodes: readonly string[]): Uint8Array {
  const w = new MsgpackWriter(32);
  w.byte(FilterType.Node);
  wrStrings(w, nodes);
  return w.finish();
}

/** A query filter entry: `[FilterType.Tag]` + msgpack filterTag{Expr, Tag}. */
export function encodeTagFilter(tag: string, expr: string): Uint8Array {
  const w = new MsgpackWriter(32);
  w.byte(FilterType.Tag);
  writeStruct(w, filterTagSchema, { Tag: tag, Expr: expr });
  return w.finish();
}

export type QueryFilter =
  | { readonly type: typeof FilterType.Node; readonly nodes: readonly string[] }
  | { readonly type: typeof FilterType.Tag; readonly tag: string; readonly expr: string };

/** Decodes one filter entry. Throws WireError (serf then refuses to process the query). */
export function decodeQueryFilter(f: Uint8Array): QueryFilter {
  if (f.length === 0) throw new WireError('empty', 'empty query filter');
  const r = new MsgpackReader(f, 1, f.length);
  if (f[0] === FilterType.Node) return { type: FilterType.Node, nodes: rdArray(r, 0, () => rdString(r)) ?? [] };
  if (f[0] === FilterType.Tag) {
    const t = readStruct(r, filterTagSchema);
    return { type: FilterType.Tag, tag: t.Tag, expr: t.Expr };
  }
  throw new WireError('invalid-value', `unknown query filter type ${f[0]}`, { offset: 0 });
}
