/**
 * Agent lifecycle states and the transitions allowed between them. The pool owns each agent's state
 * and changes it only through `transition`, so an illegal move is an error, never a silent no-op.
 *
 *   loaded ──▶ ready ──▶ running ◀──▶ suspended
 *     ▲          │         │  │          │
 *     │          │         │  └──▶ draining ──▶ stopped ──▶ (removed, or loaded again on restart)
 *     └──────────┴── crash ┘             │
 *   failed ◀── crash loop (restart intensity exceeded), start failure, drain timeout
 */
import { CaxtonError } from '../errors.js';

export const AGENT_STATES = ['loaded', 'ready', 'running', 'suspended', 'draining', 'stopped', 'failed'] as const;
export type AgentState = (typeof AGENT_STATES)[number];

/**
 * - loaded: known to the node, no live instance (starting, or waiting out a restart back-off).
 * - ready: instantiated and initialised, not yet taking messages (held in its mailbox).
 * - running: taking messages.
 * - suspended: instance kept, messages held in its mailbox until resumed.
 * - draining: takes no new messages, finishes the queued ones, then stops.
 * - stopped: shut down on request; can be restarted or removed.
 * - failed: given up on; can be restarted by an operator or removed.
 */
const TRANSITIONS: Readonly<Record<AgentState, readonly AgentState[]>> = {
  loaded: ['ready', 'failed', 'stopped'],
  ready: ['running', 'suspended', 'draining', 'loaded', 'stopped', 'failed'],
  running: ['suspended', 'draining', 'loaded', 'stopped', 'failed'],
  suspended: ['running', 'draining', 'loaded', 'stopped', 'failed'],
  draining: ['stopped', 'failed', 'loaded'],
  stopped: ['loaded'],
  failed: ['loaded'],
};

export function canTransition(from: AgentState, to: AgentState): boolean {
  return TRANSITIONS[from].includes(to);
}

export function allowedFrom(state: AgentState): readonly AgentState[] {
  return TRANSITIONS[state];
}

/** Throws CAXTON_ERR_AGENT_STATE unless `from → to` is allowed. */
export function assertTransition(agent: string, from: AgentState, to: AgentState, action: string): void {
  if (canTransition(from, to)) return;
  throw new CaxtonError(
    'CAXTON_ERR_AGENT_STATE',
    `cannot ${action} agent ${agent}: it is ${from}, and ${from} can only become ${TRANSITIONS[from].join(', ') || 'nothing'}`,
    { agent, state: from, wanted: to },
  );
}
