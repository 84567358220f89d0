/** The sandbox: module admission, agent instances and the worker pool that runs them. */
export { AgentPool, DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_MAILBOX_BYTES, DEFAULT_MAILBOX_CAPACITY, DEFAULT_MAX_MESSAGE_BYTES, isReliable, reliableIdOf } from './pool.js';
export type { AgentFaultInfo, AgentInfo, AgentSpec, AgentStats, PoolEvent, PoolOptions } from './pool.js';
export { ModuleCache } from './module-cache.js';
export type { CachedModule } from './module-cache.js';
export { AgentInstance, AgentFault } from './agent-instance.js';
export type { CallPhase, FaultKind } from './agent-instance.js';
export type { AgentServices } from './host-functions.js';
export { DEFAULT_POLICY, makePolicy } from './policy.js';
export type { SandboxPolicy, WasmFeature } from './policy.js';
export { ABI_VERSION, HostError } from './abi.js';
export type { AgentRuntimeStats } from './worker-protocol.js';
export type { ConversationInfo } from './worker/conversations.js';
