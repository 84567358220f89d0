/**
 * Asks many nodes the same question through `Peers` and gathers what comes back, for the cluster-wide
 * views (`agent list`, `queue stats`, `resources`, ... over every node). A view must never hang on
 * one node, nor fail because one node is slow or down: every call has its own deadline, at most
 * `concurrency` calls are in flight (so a 1,000-node cluster is not asked all at once), and the
 * whole gather has a deadline after which the nodes not yet asked are reported, not asked.
 * Whatever did not answer is listed in `missing` with the reason.
 */
import { CaxtonError } from '../errors.js';
import type { NodeName, PeerBody, Peers } from './peers.js';

export interface FanOutOptions {
  /** How long one node may take to answer, ms. @default 2000 */
  readonly timeoutMs?: number;
  /** Calls in flight at once. @default 16 */
  readonly concurrency?: number;
  /** How long the whole gather may take, ms; nodes not asked by then are reported missing. @default 10000 */
  readonly deadlineMs?: number;
}

export const FAN_OUT_DEFAULTS = { timeoutMs: 2000, concurrency: 16, deadlineMs: 10_000 } as const;

/**
 * A call with less time than this left is not made: it could not be answered, and a timer that fired
 * a millisecond early (timers and clocks differ by that much) must not start one more.
 */
const MIN_CALL_MS = 10;

/** A node that did not answer: why, and the error code when there was one. */
export interface MissingNode {
  readonly node: NodeName;
  readonly code: string | null;
  readonly reason: string;
}

export interface FanOutResult<T> {
  /** In the order the nodes were given. */
  readonly answers: { readonly node: NodeName; readonly value: T }[];
  readonly missing: MissingNode[];
}

/**
 * Calls `method` on every node of `nodes` and resolves (never rejects) once each has answered, failed
 * or run out of time. `check` turns an answer into a T or throws: a node that answers something
 * else (another version, a bug) is reported missing instead of breaking the view.
 */
export async function fanOut<T>(peers: Peers, nodes: readonly NodeName[], method: string, body: PeerBody, check: (v: unknown) => T, options: FanOutOptions = {}): Promise<FanOutResult<T>> {
  const timeoutMs = options.timeoutMs ?? FAN_OUT_DEFAULTS.timeoutMs;
  const concurrency = Math.max(1, options.concurrency ?? FAN_OUT_DEFAULTS.concurrency);
  const deadline = performance.now() + (options.deadlineMs ?? FAN_OUT_DEFAULTS.deadlineMs);
  const outcomes = new Array<{ value: T } | MissingNode | undefined>(nodes.length);
  let next = 0;
  const runner = async () => {
    for (;;) {
      const i = next++;
      if (i >= nodes.length) return;
      const node = nodes[i] as NodeName;
      const left = deadline - performance.now();
      if (left < MIN_CALL_MS) {
        outcomes[i] = { node, code: 'CAXTON_ERR_CLUSTER_TIMEOUT', reason: 'not asked: the view ran out of time before its turn' };
        continue;
      }
      outcomes[i] = await ask(peers, node, method, body, check, Math.min(timeoutMs, left));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, nodes.length) }, runner));
  const answers: { node: NodeName; value: T }[] = [];
  const missing: MissingNode[] = [];
  outcomes.forEach((o, i) => {
    if (o !== undefined && 'value' in o) answers.push({ node: nodes[i] as NodeName, value: o.value });
    else if (o !== undefined) missing.push(o);
  });
  return { answers, missing };
}

/**
 * One call, bounded by its own timer as well as by the deadline handed to `peers.call`: the view
 * must not hang even on a Peers whose call never settles.
 */
async function ask<T>(peers: Peers, node: NodeName, method: string, body: PeerBody, check: (v: unknown) => T, ms: number): Promise<{ value: T } | MissingNode> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<MissingNode>((resolve) => {
    // A little after the link's own deadline, so that its CAXTON_ERR_CLUSTER_TIMEOUT (with its wording) wins.
    timer = setTimeout(() => resolve({ node, code: 'CAXTON_ERR_CLUSTER_TIMEOUT', reason: `did not answer ${method} within ${ms} ms` }), ms + 50);
  });
  try {
    return await Promise.race([
      peers.call(node, method, body, { timeoutMs: ms }).then(
        (v): { value: T } | MissingNode => {
          try {
            return { value: check(v) };
          } catch (e) {
            return { node, code: null, reason: `answered ${method} with something unexpected: ${(e as Error).message}` };
          }
        },
        (e: unknown): MissingNode => ({ node, code: e instanceof CaxtonError ? e.code : null, reason: e instanceof Error ? e.message : String(e) }),
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
