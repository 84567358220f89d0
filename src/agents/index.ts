/** Agent lifecycle and supervision policy. The pool (src/sandbox) applies them. */
export { AGENT_STATES, allowedFrom, assertTransition, canTransition } from './lifecycle.js';
export type { AgentState } from './lifecycle.js';
export { CrashHistory, DEFAULT_RESTART_POLICY, restartDelay } from './restart-policy.js';
export type { RestartDecision, RestartPolicy } from './restart-policy.js';
