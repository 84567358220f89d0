/**
 * The Serf 0.9.4 layer: Lamport clocks, Serf messages, and SerfDelegate (a MembershipDelegate that
 * makes a Caxton node a Serf member). See docs/cluster-serf.md.
 */
export { LamportClock } from './lamport.js';
export type { LamportTime } from './lamport.js';
export { QueryResponse } from './query-response.js';
export type { QueryParams, NodeResponse, QueryOutcome } from './query-response.js';
export { ipFromBytes, ipToBytes } from './addr.js';
export * from './messages.js';
export {
  SerfDelegate,
  SERF_PROTOCOL_MIN,
  SERF_PROTOCOL_MAX,
  SERF_PROTOCOL_DEFAULT,
  USER_EVENT_SIZE_LIMIT,
} from './delegate.js';
export type {
  SerfDelegateOptions,
  SerfMemberStatus,
  SerfMemberState,
  SerfUserEvent,
  SerfIntent,
  SerfKeyChange,
  SerfQuery,
  SerfStatusChange,
} from './delegate.js';
