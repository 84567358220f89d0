/** The harness's public types (re-exported by ./index.ts). */
import type { FaultKind } from '../sandbox/agent-instance.js';

export interface LoadOptions {
  /** The agent's name: its identity as a sender and in its init document. @default 'agent' */
  readonly name?: string;
  /** Where the test clock starts, epoch ms. It moves only with advance(). @default 1_700_000_000_000 */
  readonly now?: number;
  /** Seed of caxton.random_fill: the same seed gives the same bytes. @default 1 */
  readonly seed?: number;
  /** Fuel granted to each call into the agent. @default 10,000,000 (the node's sandbox.fuel_per_call) */
  readonly fuel?: number;
  /** Cap on the agent's linear memory, MiB. @default 64 (the node's runtime.max_memory_per_agent) */
  readonly memoryLimitMb?: number;
  /** Key-value state the agent starts with (as if written by an earlier version of it). */
  readonly kv?: Readonly<Record<string, string | Uint8Array>>;
  /** The operator's config, passed to agent_init as the init document's `config`. @default {} */
  readonly config?: unknown;
}

/**
 * A message delivered to the agent; `receiver` is the agent (send) or `topic` the topic (publish),
 * `sender` 'tester' unless given. The sender is never the agent itself: the node refuses a message
 * whose sender equals its receiver, and does not deliver a publication back to its publisher.
 */
export interface TestMessage {
  readonly performative: string;
  readonly content: unknown;
  readonly sender?: string;
  readonly conversation_id?: string;
  readonly reply_with?: string;
  readonly in_reply_to?: string;
  readonly reply_by?: string;
  readonly protocol?: string;
  readonly language?: string;
  readonly ontology?: string;
  readonly message_id?: string;
  readonly priority?: 'low' | 'normal' | 'high' | 'critical';
  readonly [field: string]: unknown;
}

/** A message the agent sent, as the node would route it (FIPA-ACL JSON, completed by the host). */
export interface AgentMessage {
  readonly message_id: string;
  readonly performative: string;
  readonly sender: string;
  readonly receiver?: string;
  readonly capability?: string;
  readonly topic?: string;
  readonly content: unknown;
  readonly conversation_id?: string;
  readonly reply_with?: string;
  readonly in_reply_to?: string;
  readonly protocol?: string;
  readonly [field: string]: unknown;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface LogLine {
  readonly level: LogLevel;
  readonly text: string;
}

/**
 * How a step ended. 'error': handle_message returned non-zero; 'refused': the node refused the message
 * (for example the agent's circuit breaker is open); 'not_subscribed': publish() to a topic the agent
 * is not subscribed to, so nothing was delivered; a fault kind: the agent crashed, and was started
 * again as on a node.
 */
export type Outcome = 'ok' | 'error' | 'refused' | 'not_subscribed' | FaultKind;

/** What one send(), publish() or advance() did. */
export interface StepResult {
  /** Messages the agent sent, in order (messages to itself are handled, not listed). */
  readonly sent: AgentMessage[];
  readonly logs: LogLine[];
  /** Fuel the step's calls used (≈ wasm operators plus host-call costs). */
  readonly fuel: number;
  /** handle_message calls the step made: the message, plus timers fired and messages to itself. */
  readonly calls: number;
  /** The agent's linear memory after the step, in bytes. */
  readonly memoryBytes: number;
  readonly outcome: Outcome;
  /** Why, when the outcome is not 'ok'. */
  readonly error?: string;
}
