/**
 * What membership asks of the layer above it (Serf-compatible state, node meta) and tells it.
 * Mirrors memberlist's Delegate and EventDelegate (delegate.go, event_delegate.go): keep the
 * contracts, since Serf relies on the exact moments each is called.
 */
export type MemberStatus = 'alive' | 'suspect' | 'failed' | 'left';

export interface Member {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Node meta (≤ 512 bytes): Serf tags (wire/serf-tags.ts). */
  readonly meta: Uint8Array;
  readonly incarnation: number;
  readonly status: MemberStatus;
  /** When the status last changed, ms since epoch. */
  readonly since: number;
  /** [pmin, pmax, pcur, dmin, dmax, dcur]: memberlist and delegate (Serf) protocol versions. */
  readonly vsn: readonly number[];
}

export interface MembershipDelegate {
  /** This node's meta, at most `limit` bytes; asked when our alive message is built. */
  nodeMeta(limit: number): Uint8Array;
  /** A user message that arrived (gossip or stream). Must not block. */
  notifyMessage(bytes: Uint8Array): void;
  /** User messages to piggyback on gossip, `overhead` bytes per message, `limit` bytes in all. */
  getBroadcasts(overhead: number, limit: number): Uint8Array[];
  /** The user state sent in a push/pull (`join` true when it is a join). */
  localState(join: boolean): Uint8Array;
  /** The user state received in a push/pull. */
  mergeRemoteState(bytes: Uint8Array, join: boolean): void;
  /** The payload of our acks (Serf puts a Vivaldi coordinate there; empty is legal). */
  ackPayload(): Uint8Array;
  /**
   * A direct probe of `member` was acked after `rttMs`, with the payload its ack carried (memberlist
   * PingDelegate.NotifyPingComplete; Serf updates its coordinates here). Optional. Must not block.
   */
  notifyPingComplete?(member: Member, rttMs: number, payload: Uint8Array): void;
}

export type MemberEvent =
  | { readonly type: 'join'; readonly member: Member }
  | { readonly type: 'update'; readonly member: Member }
  | { readonly type: 'suspect'; readonly member: Member; readonly from: string }
  | { readonly type: 'failed'; readonly member: Member }
  | { readonly type: 'left'; readonly member: Member }
  | { readonly type: 'alive'; readonly member: Member }
  | { readonly type: 'reaped'; readonly member: Member }
  /** Another node claims our name with a different address. */
  | { readonly type: 'conflict'; readonly existing: Member; readonly other: Member };
