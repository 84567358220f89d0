/**
 * `caxton/testing`: run an agent's .wasm in-process, through the node's own admission, host functions
 * and runtime, with the test's clock and randomness. docs/testing-agents.md.
 */
export { loadAgent, TestAgent, MAX_CALLS_PER_STEP } from './test-agent.js';
export { TestClock, DEFAULT_TEST_NOW } from './test-clock.js';
export { KvView } from './kv-view.js';
export type { AgentMessage, LoadOptions, LogLevel, LogLine, Outcome, StepResult, TestMessage } from './types.js';
