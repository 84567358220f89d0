/**
 * Cluster membership: SWIM + Lifeguard, wire-compatible with hashicorp/memberlist v0.2.2.
 * See docs/cluster-membership.md.
 */
export { Membership } from './membership.js';
export type { MembershipOptions, Subscription } from './membership.js';
export type { PingResult, IndirectPingResult } from './probe.js';

export {
  lanConfig,
  wanConfig,
  localConfig,
  fastConfig,
  validateConfig,
  configProblems,
  buildVersions,
  buildVsn,
  META_LIMIT,
  DEFAULT_TCP_TIMEOUT_MS,
  DEFAULT_INDIRECT_CHECKS,
  DEFAULT_RETRANSMIT_MULT,
  DEFAULT_SUSPICION_MULT,
  DEFAULT_SUSPICION_MAX_TIMEOUT_MULT,
  DEFAULT_PUSH_PULL_INTERVAL_MS,
  DEFAULT_PROBE_INTERVAL_MS,
  DEFAULT_PROBE_TIMEOUT_MS,
  DEFAULT_AWARENESS_MAX_MULTIPLIER,
  DEFAULT_GOSSIP_INTERVAL_MS,
  DEFAULT_GOSSIP_NODES,
  DEFAULT_GOSSIP_TO_THE_DEAD_MS,
  DEFAULT_HANDOFF_QUEUE_DEPTH,
  DEFAULT_RECONNECT_INTERVAL_MS,
  DEFAULT_RECONNECT_TIMEOUT_MS,
} from './config.js';
export type { MembershipConfig } from './config.js';

export type { Member, MemberEvent, MemberStatus, MembershipDelegate } from './delegate.js';
export { MembershipError, isMembershipError, MEMBERSHIP_ERROR_REASONS } from './errors.js';
export type { MembershipErrorReason } from './errors.js';
export type { MembershipLogger } from './log.js';
export { silentLogger } from './log.js';
export type { MembershipStats, MemberCounts } from './stats.js';

export { suspicionTimeout, retransmitLimit, pushPullScale, PUSH_PULL_SCALE_THRESHOLD } from './timing.js';
export { remainingSuspicionTime, Suspicion } from './suspicion.js';
export { Awareness } from './awareness.js';
export { TransmitLimitedQueue } from './broadcast-queue.js';
export type { Broadcast, FinishReason, QueuedBroadcast, TransmitLimitedQueueOptions } from './broadcast-queue.js';
export { systemClock } from './clock.js';
export type { Clock, Timer } from './clock.js';
export { membershipGauges } from './gauges.js';
export { verifyProtocol } from './verify-protocol.js';
