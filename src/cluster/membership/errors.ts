/**
 * The one error type membership throws at its caller (a bad config, a call after shutdown, a
 * broadcast that did not go out in time). Peers' bad bytes never surface as errors: they are counted
 * and dropped (stats().packets.dropped). These describe misuse by the layer above, not a user's
 * request, so they stay out of the user catalogue (src/errors.ts); the node maps them when it needs to.
 */
export const MEMBERSHIP_ERROR_REASONS = [
  'invalid-config', // a MembershipConfig value out of range
  'advertise-address', // the transport advertises something that is not an IP literal (memberlist needs IP bytes)
  'meta-too-large', // the delegate's nodeMeta is above META_MAX_SIZE (memberlist panics)
  'shut-down', // a call after shutdown()
  'left', // updateMeta after leave()
  'broadcast-timeout', // leave/updateMeta: the broadcast had not gone out when the timeout passed
  'unknown-node', // ping(name) of a node that is not in the member table
] as const;

export type MembershipErrorReason = (typeof MEMBERSHIP_ERROR_REASONS)[number];

export class MembershipError extends Error {
  override readonly name = 'MembershipError';
  readonly reason: MembershipErrorReason;

  constructor(reason: MembershipErrorReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

export function isMembershipError(e: unknown): e is MembershipError {
  return e instanceof MembershipError;
}
