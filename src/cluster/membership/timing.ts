/**
 * The SWIM/Lifeguard formulas of memberlist v0.2.2 util.go, as pure functions (table-tested in
 * test/unit/cluster/membership/timing.test.ts with memberlist's own cases). Durations are in
 * milliseconds and may be fractional (Go computes in nanoseconds).
 */

/** Above this many nodes the push/pull interval grows (util.go pushPullScaleThreshold). */
export const PUSH_PULL_SCALE_THRESHOLD = 32;

/**
 * The minimum suspicion timeout (util.go suspicionTimeout):
 * `suspicionMult × max(1, log10(max(1, n))) × interval`. The node scale is truncated to thousandths
 * first, as Go does (`time.Duration(nodeScale*1000)`), so n = 50 gives 1.698, not 1.69897.
 * Note log10, not log(N+1) as the Go config comment says.
 */
export function suspicionTimeout(suspicionMult: number, n: number, intervalMs: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  return (suspicionMult * Math.floor(nodeScale * 1000) * intervalMs) / 1000;
}

/**
 * How many times a broadcast is sent before it leaves the queue (util.go retransmitLimit):
 * `retransmitMult × ceil(log10(n + 1))`: 0 for n = 0, 1× below 10 nodes, 2× below 100, 3× below 1000.
 */
export function retransmitLimit(retransmitMult: number, n: number): number {
  const nodeScale = Math.ceil(Math.log10(n + 1));
  return retransmitMult * nodeScale;
}

/**
 * The push/pull interval for a cluster of n (util.go pushPullScale): unchanged up to 32 nodes, then
 * × `ceil(log2(n) − log2(32)) + 1`, so 33–64 → 2×, 65–128 → 3×, to keep full-state syncs from
 * saturating the network as the cluster grows.
 */
export function pushPullScale(intervalMs: number, n: number): number {
  if (n <= PUSH_PULL_SCALE_THRESHOLD) return intervalMs;
  const multiplier = Math.ceil(Math.log2(n) - Math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1;
  return multiplier * intervalMs;
}
