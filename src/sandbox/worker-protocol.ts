/**
 * Messages between the pool (main thread) and its worker threads. Hot-path traffic (deliveries and
 * outbound messages) travels as flat arrays in batches: one postMessage carries many messages, which
 * is what closes most of the gap to shared-memory rings (wasm-on-node20.md §5).
 */
import type { FaultKind, CallPhase } from './agent-instance.js';
import type { MessagePort } from 'node:worker_threads';
import type { ConversationInfo } from './worker/conversations.js';
import type { Hop } from './worker/hop-log.js';
import type { PriorityLevel } from './worker/mailbox.js';
import type { RevokedEntry } from '../security/revoked-certs.js';
import type { DirectStart, DirectTls } from './worker/direct-link.js';

/** Passed as workerData. */
export interface WorkerInit {
  readonly workerIndex: number;
  readonly databasePath: string;
  readonly fuelPerCall: number;
  readonly maxMessageBytes: number;
  readonly mailboxCapacity: number;
  /** Bytes (2 × UTF-16 code units) of messages queued per agent, see worker/mailbox.ts. */
  readonly mailboxBytes: number;
  readonly redeliverAfterMs: number;
  /**
   * Int32Array over this buffer: [0] a call counter, odd while a call into an agent is running;
   * [1] the key of the agent being called; [2] messages queued in this worker as of its last drain.
   * The main thread reads them without a message round trip.
   */
  readonly watch: SharedArrayBuffer;
  /** Float64Array over this buffer: the direct path's counters (worker/direct-link.ts DIRECT_COUNTERS). */
  readonly directStats: SharedArrayBuffer;
}

export const WATCH_SEQ = 0;
export const WATCH_AGENT = 1;
export const WATCH_QUEUED = 2;
export const WATCH_SLOTS = 3;

/** Per-call latency histogram: bucket 0 is < 1 µs, bucket i ≥ 1 is [2^(i-1), 2^i) µs; the last is open. */
export const LATENCY_BUCKETS = 26;

export interface SpawnCommand {
  readonly op: 'spawn';
  readonly key: number;
  readonly id: string;
  readonly name: string;
  readonly hash: string;
  /** The operator's config as JSON text. */
  readonly config: string;
  readonly restarts: number;
  /** Start with messages held (state ready or suspended) instead of running. */
  readonly hold: boolean;
  /** Replicate the agent's state from its start (see the 'replicate' command). */
  readonly replicate?: ReplicationSettings;
  /** At-least-once message ids already applied to the agent's state elsewhere (a promoted replica's). */
  readonly seen?: readonly string[];
}

/**
 * How an agent's key-value writes are replicated (src/agents/replication/). `sync`: the messages a
 * handler sent and the outbox ack of the message it handled are held until the main thread says the
 * replica holds the handler's delta; `async`: nothing is held. `fenced`: another node took the agent
 * over with a higher epoch: nothing held is ever released and the agent handles no more messages.
 */
export type ReplicationMode = 'sync' | 'async';

export interface ReplicationSettings {
  readonly mode: ReplicationMode;
  /** The ownership epoch stamped on every delta. */
  readonly epoch: number;
  /** The last delta seq the main thread has seen: the worker goes on from there. */
  readonly seq: number;
}

/**
 * One handler's key-value and timer writes (or, `full`, the agent's whole state as of `seq`). `writes`
 * is flat [key, value-or-null (a delete), ...]; `timers` flat [id, due_at, message-or-null (gone:
 * fired and handled, or cancelled), ...]; `applied` is the at-least-once message id the handler
 * handled, or ''. A full snapshot also carries the agent's last timer id.
 */
export interface WorkerDelta {
  readonly name: string;
  readonly epoch: number;
  readonly seq: number;
  readonly full: boolean;
  readonly writes: (Uint8Array | null)[];
  readonly timers: (number | string | null)[];
  readonly lastTimerId?: number;
  readonly applied: string;
}

export type ToWorker =
  | { readonly op: 'module'; readonly hash: string; readonly module: WebAssembly.Module }
  /** The pool forgot a module no agent of this worker uses: drop it too. */
  | { readonly op: 'forget_module'; readonly hash: string }
  /** An agent's state here was discarded: the at-least-once ids it applied are no longer handled. */
  | { readonly op: 'forget_handled'; readonly name: string }
  | SpawnCommand
  /** Flat [receiver, json, priority level, ...]. */
  | { readonly op: 'deliver'; readonly batch: (string | number)[] }
  /** Bring back an agent whose instance was discarded after a fault. */
  | { readonly op: 'restart'; readonly name: string; readonly restarts: number }
  /** Hold (ready, suspended) or release (running) the agent's mailbox. */
  | { readonly op: 'hold'; readonly name: string; readonly held: boolean }
  /** Refuse new messages, finish the queued ones, then shut down and report 'stopped'. */
  | { readonly op: 'drain'; readonly name: string }
  /** Shut down now; queued messages are dropped and counted. */
  | { readonly op: 'stop'; readonly name: string }
  /**
   * Swap the agent's module, keeping its name, mailbox, timers and key-value state. `immediate`: at
   * the next message boundary. `graceful`: after the messages queued now have been handled by the old
   * version. The new version is started before the old one is shut down; if it fails to start, the
   * old one keeps running.
   */
  | { readonly op: 'upgrade'; readonly name: string; readonly hash: string; readonly graceful: boolean }
  /**
   * Operator control of circuit breakers: one agent, or every agent of the worker when name is null.
   * A reset with `rampMs` lets traffic back in gradually over that time (worker/circuit-breaker.ts);
   * a reset also closes the agent's per-sender circuits.
   */
  | { readonly op: 'circuit'; readonly name: string | null; readonly action: 'force' | 'reset'; readonly rampMs?: number }
  /**
   * Start `hash` as a canary of the agent (see worker/canary.ts) taking `percent` of its messages.
   * Answered with 'canary_started' or 'upgrade_failed'.
   */
  | { readonly op: 'canary_start'; readonly name: string; readonly hash: string; readonly percent: number; readonly limits: CanaryLimits }
  | { readonly op: 'canary_percent'; readonly name: string; readonly percent: number }
  /** Promote the canary (answered with 'upgraded') or roll it back (answered with 'canary_ended'). */
  | { readonly op: 'canary_end'; readonly name: string; readonly promote: boolean; readonly reason: string }
  | { readonly op: 'stats'; readonly reqId: number }
  /** Answered with the at-least-once ids the agent applied lately (its dedup window), newest last, at most `max`. */
  | { readonly op: 'handled'; readonly reqId: number; readonly name: string; readonly max: number }
  | { readonly op: 'conversations'; readonly reqId: number }
  /** Answered with the worker's activity (WorkerRuntime.activity): how a draining node knows it is quiet. */
  | { readonly op: 'activity'; readonly reqId: number }
  /** Answered with the hashes of every conversation id the worker tracks (counting without the ids). */
  | { readonly op: 'conversation_hashes'; readonly reqId: number }
  /** Answered with what the worker knows of one conversation: its table entry and its hops. */
  | { readonly op: 'conversation'; readonly reqId: number; readonly id: string }
  /**
   * A direct channel to another worker: messages for its agents go there without crossing the main
   * thread. Sent again when that worker is replaced.
   */
  | { readonly op: 'peer'; readonly worker: number; readonly port: MessagePort }
  /** Where agents live now (worker index, or -1: nowhere), flat [name, worker, ...]. */
  | { readonly op: 'placement'; readonly batch: (string | number)[] }
  /**
   * Start (or change) replicating the agent: the worker posts a full snapshot as delta seq + 1, then
   * one delta per handler that wrote. `off` releases whatever is held and stops capturing; `fenced`
   * drops it (never released) and stops the agent handling messages.
   */
  | { readonly op: 'replicate'; readonly name: string; readonly mode: ReplicationMode | 'off' | 'fenced'; readonly epoch: number; readonly seq: number }
  /** The replica holds the agents' deltas up to seq: release what was held for them. Flat [name, seq, ...]. */
  | { readonly op: 'replicated'; readonly batch: (string | number)[] }
  /** Open the direct path to other nodes' workers (worker/direct-link.ts); answered 'direct_listening'. */
  | { readonly op: 'direct_start'; readonly config: DirectStart }
  /** A message of this worker's to `name` went to `node` over the link: try a direct route for it. */
  | { readonly op: 'route'; readonly name: string; readonly node: string }
  /** The fence this worker asked for could not be sent: its queued messages go the main thread's way. */
  | { readonly op: 'route_refused'; readonly name: string }
  /** Another node's worker fenced agent `name` of this worker: answer it at host:port. */
  | { readonly op: 'fence'; readonly name: string; readonly token: string; readonly host: string; readonly port: number; readonly node: string }
  /** `node` left the view: drop the direct path's connections to it. */
  | { readonly op: 'drop_node'; readonly node: string }
  /** New TLS material for the direct path's new connections (rotate-certs, SIGHUP). */
  | { readonly op: 'direct_tls'; readonly tls: DirectTls }
  /** Rows added to the revocation list: the direct path closes connections they revoke. */
  | { readonly op: 'direct_revoked'; readonly rows: readonly RevokedEntry[] };

/** When a canary rolls itself back. */
export interface CanaryLimits {
  /** Errors (non-zero results and crashes) over messages handled, 0..1. */
  readonly maxErrorRate: number;
  /** P99 of the canary's handling time, ms. */
  readonly maxP99Ms: number;
  /** The error rate's denominator is at least this; the P99 is judged from this many timings on. */
  readonly minSamples: number;
}

export interface CanaryStats {
  readonly module: string;
  readonly percent: number;
  readonly messagesIn: number;
  readonly errors: number;
  readonly faults: number;
  readonly p99Ms: number;
  readonly fuelUsed: number;
}

export type RefusalCode = 'no_agent' | 'mailbox_full' | 'draining' | 'circuit_open';

export interface AgentRuntimeStats {
  readonly name: string;
  readonly key: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly errors: number;
  readonly faults: number;
  readonly fuelUsed: number;
  readonly memoryBytes: number;
  readonly queued: number;
  /** Bytes of the queued messages (2 × UTF-16 code units). */
  readonly queuedBytes: number;
  /** Timers set and not yet fired. */
  readonly timers: number;
  /** Handling time per message, see LATENCY_BUCKETS. */
  readonly latency: readonly number[];
  readonly circuit: 'closed' | 'open' | 'half-open' | 'forced-open' | 'recovering';
  /** Senders whose messages the agent refuses for now, after their poison messages, and until when (epoch ms). */
  readonly blockedSenders: readonly { readonly sender: string; readonly until: number }[];
  /** At-least-once messages recognised as already handled and dropped. */
  readonly duplicates: number;
  /** Messages that crashed the agent and were dead-lettered as poison. */
  readonly poisoned: number;
  /** The canary's own share of the counters above, while one runs. */
  readonly canary?: CanaryStats;
}

export type FromWorker =
  | { readonly op: 'spawned'; readonly key: number; readonly name: string; readonly memoryBytes: number }
  /** State changes of replicated agents, in seq order per agent. */
  | { readonly op: 'deltas'; readonly batch: WorkerDelta[] }
  | { readonly op: 'spawn_failed'; readonly key: number; readonly name: string; readonly kind: FaultKind; readonly phase: CallPhase; readonly message: string }
  /** Flat [sender, receiver-or-empty, json, priority level, ...] for receivers that are not on this worker. */
  | { readonly op: 'out'; readonly batch: (string | number)[] }
  /**
   * The agent's instance was discarded after a crash no message explains (a failed re-instantiation);
   * its mailbox is kept until 'restart' or 'stop'. The main thread's supervision counts it.
   */
  | { readonly op: 'fault'; readonly name: string; readonly kind: FaultKind; readonly phase: CallPhase; readonly message: string }
  /**
   * A message crashed the agent: it is to be dead-lettered as poison (with `reason`). The worker has
   * already re-instantiated the agent (`reinstantiated`, with `restarts` its new count) or, when that
   * failed, follows with a 'fault'. `sender` is '' when the message named none; `messageId` is the
   * id of an at-least-once message ('' otherwise), to be acknowledged in the outbox once dead-lettered.
   */
  | {
      readonly op: 'poison';
      readonly name: string;
      readonly json: string;
      readonly sender: string;
      readonly messageId: string;
      readonly kind: FaultKind;
      readonly message: string;
      readonly reason: string;
      readonly restarts: number;
      readonly reinstantiated: boolean;
    }
  | { readonly op: 'restarted'; readonly name: string }
  | { readonly op: 'restart_failed'; readonly name: string; readonly kind: FaultKind; readonly phase: CallPhase; readonly message: string }
  /** Flat [agent, level, text, conversation id or '', traceparent or '', ...]. Levels as in the ABI. */
  | { readonly op: 'log'; readonly batch: (string | number)[] }
  /** A delivery from the main thread that could not be queued, and why. */
  | { readonly op: 'undeliverable'; readonly to: string; readonly json: string; readonly priority: PriorityLevel; readonly reason: string; readonly refusal: RefusalCode }
  | { readonly op: 'stopped'; readonly name: string; readonly status: number; readonly dropped: number }
  | { readonly op: 'upgraded'; readonly name: string; readonly hash: string }
  /** The agent registered a capability (it does so in agent_init, so this repeats after restarts). */
  | { readonly op: 'capability'; readonly name: string; readonly capability: string }
  | { readonly op: 'topic'; readonly name: string; readonly topic: string; readonly subscribed: boolean }
  | { readonly op: 'canary_started'; readonly name: string; readonly hash: string }
  /** The canary was rolled back (by its limits, a crash, or on request) and shut down. */
  | { readonly op: 'canary_ended'; readonly name: string; readonly hash: string; readonly reason: string }
  | { readonly op: 'upgrade_failed'; readonly name: string; readonly hash: string; readonly kind: FaultKind; readonly phase: CallPhase; readonly message: string }
  | { readonly op: 'stats'; readonly reqId: number; readonly agents: AgentRuntimeStats[] }
  | { readonly op: 'handled'; readonly reqId: number; readonly ids: string[] }
  | { readonly op: 'conversations'; readonly reqId: number; readonly conversations: ConversationInfo[] }
  | { readonly op: 'conversation_hashes'; readonly reqId: number; readonly hashes: Uint32Array }
  | { readonly op: 'activity'; readonly reqId: number; readonly queued: number; readonly moved: number }
  | { readonly op: 'conversation'; readonly reqId: number; readonly conversation: ConversationInfo | undefined; readonly hops: Hop[] }
  /** The direct path listens on `port` (or could not start: `error`). */
  | { readonly op: 'direct_listening'; readonly port: number; readonly error?: string }
  /** Send a fence for `name` to `node` over the link, behind this worker's earlier messages (direct-link.ts). */
  | { readonly op: 'fence'; readonly name: string; readonly node: string; readonly token: string; readonly host: string; readonly port: number }
  /** A direct-path message for an agent this worker does not host: route it as one from node `origin`. */
  | { readonly op: 'from_node'; readonly to: string; readonly json: string; readonly priority: PriorityLevel; readonly origin: string }
  /** A problem of the worker's own (not an agent's) for the node's log. */
  | { readonly op: 'warn'; readonly text: string };
