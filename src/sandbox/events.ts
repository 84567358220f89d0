/** What the pool tells its listeners, and how: synchronous calls, each listener isolated. */
import type { AgentState } from '../agents/lifecycle.js';
import type { CallPhase, FaultKind } from './agent-instance.js';
import type { SystemErrorCode } from '../messaging/system-messages.js';

export type PoolEvent =
  | { readonly type: 'agent_state'; readonly name: string; readonly from: AgentState; readonly to: AgentState }
  | { readonly type: 'agent_started'; readonly name: string; readonly worker: number; readonly restarts: number }
  | { readonly type: 'agent_fault'; readonly name: string; readonly kind: FaultKind | 'timeout'; readonly phase: CallPhase; readonly message: string; readonly recovered: boolean }
  | { readonly type: 'agent_start_failed'; readonly name: string; readonly kind: FaultKind; readonly phase: CallPhase; readonly message: string }
  /** The agent's capabilities or topic subscriptions changed (see pool.offersOf). */
  | { readonly type: 'agent_offers'; readonly name: string }
  /** The agent was removed from the pool (pool.remove). */
  | { readonly type: 'agent_removed'; readonly name: string }
  | { readonly type: 'agent_stopped'; readonly name: string; readonly status: number; readonly dropped: number }
  | { readonly type: 'agent_upgraded'; readonly name: string; readonly from: string; readonly to: string }
  | { readonly type: 'canary_step'; readonly name: string; readonly module: string; readonly percent: number }
  | { readonly type: 'canary_rolled_back'; readonly name: string; readonly module: string; readonly reason: string }
  | { readonly type: 'agent_log'; readonly name: string; readonly level: number; readonly text: string; readonly conversationId?: string; readonly traceparent?: string }
  | { readonly type: 'worker_replaced'; readonly worker: number; readonly reason: string; readonly agents: readonly string[]; readonly lostMessages: number }
  /**
   * A message that reached nobody. `kept`: it is at-least-once and stays in the outbox, which delivers
   * it again later; otherwise it is final (the node dead-letters it, and drops it from the outbox).
   * `code` is the system error its sender is told (no_such_agent: the name exists nowhere).
   */
  | { readonly type: 'undeliverable'; readonly from: string; readonly to: string; readonly reason: string; readonly json: string; readonly kept: boolean; readonly code: SystemErrorCode }
  /**
   * A message crashed agent `name` and is poison: to be dead-lettered with `reason` (and, when it was
   * at-least-once, acknowledged in the outbox under `messageId` once kept). The agent was
   * re-instantiated; `sender` is '' when the message named none.
   */
  | { readonly type: 'message_poisoned'; readonly name: string; readonly sender: string; readonly reason: string; readonly json: string; readonly messageId?: string };

export type Listener<T extends unknown[]> = (...args: T) => void;

/** Adds `fn` to `list`; returns the function that removes it again. */
export function subscribe<T extends unknown[]>(list: Listener<T>[], fn: Listener<T>): () => void {
  list.push(fn);
  return () => {
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
  };
}

/** Calls every listener with `e`. */
export function emitTo(list: readonly Listener<[PoolEvent]>[], e: PoolEvent): void {
  for (const fn of list) {
    try {
      fn(e);
    } catch {
      // A listener's failure must not stop the pool or the other listeners.
    }
  }
}
