/**
 * The MCP bridge: this node's MCP servers as receivers `mcp:<server>` of the router (an
 * ExternalEndpoint, like the API's callers). A tool call is a FIPA conversation, not a host function:
 *
 *   request   {"tool": "echo", "arguments": {...}}  → inform {"tool", "content", "structuredContent"?}
 *                                                      or failure {"error": CAXTON_ERR_TOOL_..., "reason", ...}
 *   query-ref {"list": "tools"}                      → inform {"tools": [{name, description, inputSchema, ...}]}
 *   cancel    (same conversation / in_reply_to)      → the call in flight is cancelled (its failure follows)
 *
 * so the ABI does not change, an agent waits for a slow tool without holding a worker, and reply_by,
 * tracing, dead letters and circuit breakers apply as to any conversation. docs/tools.md has the why.
 *
 * Who is asking: the router hands deliver() the sender it knows — an agent's name as its worker
 * stamped it (a worker refuses a message naming another sender), or '' for a message the node itself
 * redelivers from its outbox (whose sender the worker stamped when it was stored). Only agents of this
 * node are callers: an API client (any `sender` it chose, even one that matches the allow list) and
 * anything else is refused with CAXTON_ERR_TOOL_FORBIDDEN. Operators call tools through
 * callAsOperator (the API's POST /tools/...: a role check instead of the allow list).
 *
 * deliver() must not block: it parses and checks, and the call runs on as a promise.
 */
import { randomUUID } from 'node:crypto';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { CaxtonError, isCaxtonError, type ErrorCode } from '../../errors.js';
import type { Arrival, ExternalEndpoint } from '../../messaging/directory.js';
import { SYSTEM_SENDER } from '../../messaging/system-messages.js';
import { ToolAcl } from './acl.js';
import { McpServerConnection, type ConnectionLogger, type ServerStatus } from './connection.js';
import { ServerLimits } from './limits.js';
import { UNKNOWN_TOOL, type ToolMetrics, type ToolOutcome } from './metrics.js';
import type { McpServerOptions } from './options.js';
import { SecretMask } from './secrets.js';
import type { ToolAudit, ToolCaller } from './tool-audit.js';

/** The receiver prefix of MCP servers: `mcp:<server>`. Agent names with it are refused at deploy. */
export const MCP_PREFIX = 'mcp:';
/** How much of reply_by's time the bridge leaves for its failure to travel back before the node's reply_timeout. */
const REPLY_MARGIN_MS = 100;
/** At-least-once message ids remembered against redelivery. */
const TAKEN_MAX = 10_000;

export interface BridgeRouting {
  /** Sends the bridge's answer from `from` (mcp:<server>) to `to`, by name, like any message. */
  send(from: string, to: string, json: string): void;
  /** Whether `name` is an agent of this node (the only callers of tools by message). */
  isLocalAgent(name: string): boolean;
  /** The capabilities agent `name` registered (for `capability:` entries of allow lists). */
  capabilitiesOf(name: string): readonly string[];
  /** Acknowledges an at-least-once message the bridge took (the outbox would redeliver it: a tool would run again). */
  ack(messageId: string): void;
  /** Keeps an answer the bridge sent in the node's journal, so that the conversation's trace shows it. */
  journal(json: string, detail: string): void;
}

export interface McpBridgeOptions {
  readonly servers: readonly McpServerOptions[];
  readonly routing: BridgeRouting;
  readonly logger: ConnectionLogger & { child(bindings: Record<string, unknown>): ConnectionLogger };
  /** The largest message (messaging.max_message_size): a tool's answer must fit in one. */
  readonly maxMessageBytes: number;
  readonly metrics?: ToolMetrics;
  readonly audit?: ToolAudit;
}

/** One server as the bridge keeps it. */
interface Served {
  readonly options: McpServerOptions;
  readonly connection: McpServerConnection;
  readonly acl: ToolAcl;
  readonly limits: ServerLimits;
  readonly mask: SecretMask;
  readonly receiver: string;
  /** Calls in flight that a `cancel` can reach: caller + conversation key → its abort. */
  readonly cancels: Map<string, AbortController>;
}

/** What a request to mcp:<server> asked for (fields of the message the answer needs). */
interface Incoming {
  readonly message_id?: string;
  readonly delivery?: string;
  readonly performative: string;
  readonly sender: string;
  readonly content: unknown;
  readonly conversation_id?: string;
  readonly reply_with?: string;
  readonly in_reply_to?: string;
  readonly reply_by?: string;
  readonly protocol?: string;
  readonly language?: string;
  readonly ontology?: string;
  readonly trace_context?: unknown;
}

export interface ServerView extends ServerStatus {
  readonly allow: readonly string[];
  readonly inFlight: number;
}

export class McpBridge {
  readonly #servers = new Map<string, Served>();
  /** Ids of at-least-once messages taken lately, oldest first. */
  readonly #taken = new Set<string>();
  readonly #o: McpBridgeOptions;

  constructor(o: McpBridgeOptions) {
    this.#o = o;
    for (const s of o.servers) {
      const mask = new SecretMask(s.env, s.headers);
      const log = o.logger.child({ component: 'mcp', server: s.name });
      this.#servers.set(s.name, {
        options: s,
        connection: new McpServerConnection(s, log, mask),
        acl: new ToolAcl(s.allow),
        limits: new ServerLimits(s),
        mask,
        receiver: MCP_PREFIX + s.name,
        cancels: new Map(),
      });
    }
  }

  /** The router's view of the bridge: it takes messages for mcp:<server> of the servers configured here. */
  readonly endpoint: ExternalEndpoint = {
    accepts: (name) => name.startsWith(MCP_PREFIX) && this.#servers.has(name.slice(MCP_PREFIX.length)),
    // Handled after the router's call returns: an answer decided at once (a refusal) must not be
    // routed from inside the route() that brought the question (its sender may not take replies yet).
    // Outside the router's try/catch: whatever goes wrong is logged here, never thrown into the event
    // loop (an uncaught exception would end the node).
    deliver: (from, to, json, via) =>
      queueMicrotask(() => {
        try {
          this.#deliver(from, to, json, via);
        } catch (e) {
          this.#unexpected(to, e);
        }
      }),
  };

  /** Starts (stdio) or connects to (http) every server; each one's failures are retried on its own. */
  start(): void {
    for (const s of this.#servers.values()) s.connection.start();
  }

  /** Stops every server (stdio processes are ended). */
  async stop(): Promise<void> {
    await Promise.all([...this.#servers.values()].map((s) => s.connection.stop()));
  }

  get serverNames(): readonly string[] {
    return [...this.#servers.keys()];
  }

  /** The servers, their state, tools and allow lists (`caxton tools list`). */
  list(server?: string): ServerView[] {
    const out: ServerView[] = [];
    for (const s of this.#servers.values()) {
      if (server !== undefined && s.options.name !== server) continue;
      out.push({ ...s.connection.status(), allow: s.options.allow, inFlight: s.limits.inFlight });
    }
    if (server !== undefined && out.length === 0) throw unknownServer(server, this.serverNames);
    return out;
  }

  /** Readings for the server gauges. */
  readings(): { name: string; up: boolean; restarts: number }[] {
    return [...this.#servers.values()].map((s) => ({ name: s.options.name, up: s.connection.state === 'ready', restarts: s.connection.status().restarts }));
  }

  /**
   * An operator's call (`caxton tools call`): no allow list (the API checked the role), the server's
   * limits and timeout, audited as the operator. Resolves with the tool's result, rejects with the
   * CaxtonError an agent would get as `error`.
   */
  async callAsOperator(server: string, tool: string, args: Record<string, unknown>, caller: ToolCaller): Promise<CallToolResult> {
    const s = this.#servers.get(server);
    if (s === undefined) throw unknownServer(server, this.serverNames);
    const r = await this.#call(s, caller, tool, args, Date.now() + s.options.timeoutMs, undefined);
    if ('error' in r) throw r.content === undefined ? r.error : new CaxtonError(r.error.code, r.error.message, { ...r.error.details, content: r.content });
    return r.result;
  }

  #deliver(from: string, to: string, json: string, via: Arrival | undefined): void {
    const s = this.#servers.get(to.slice(MCP_PREFIX.length)) as Served;
    let m: Incoming;
    try {
      m = JSON.parse(json) as Incoming;
    } catch {
      return; // the router passes checked messages only; nothing to answer without a sender
    }
    // Never answered (FIPA), so an exchange cannot loop: failures, not-understood, the node's own messages.
    if (m.performative === 'failure' || m.performative === 'not-understood' || from === SYSTEM_SENDER || m.sender === SYSTEM_SENDER) return;
    if (typeof m.sender !== 'string') return;
    // Taken once: a tool call is not idempotent, so an at-least-once message is acknowledged on arrival
    // and a redelivery of one already taken is dropped (tool calls are at most once, docs/tools.md).
    if (m.delivery === 'at-least-once' && typeof m.message_id === 'string') {
      this.#o.routing.ack(m.message_id);
      if (this.#taken.has(m.message_id)) return;
      this.#taken.add(m.message_id);
      if (this.#taken.size > TAKEN_MAX) this.#taken.delete(this.#taken.values().next().value as string);
    }
    const caller = this.#caller(from, m.sender, via);
    if (m.performative === 'cancel') {
      if (caller === undefined) return;
      for (const k of [m.in_reply_to, m.conversation_id]) {
        const key = cancelKey(caller, k);
        if (key !== undefined) s.cancels.get(key)?.abort();
      }
      return;
    }
    if (m.performative !== 'request' && m.performative !== 'query-ref') {
      if (m.performative === 'inform' || m.performative === 'agree' || m.performative === 'refuse') return; // answers are not questions
      this.#answer(s, m, 'not-understood', errorContent(new CaxtonError('CAXTON_ERR_TOOL_REQUEST_INVALID', `${s.receiver} takes request (a tool call) and query-ref (the tool list), not ${m.performative}`, { server: s.options.name })));
      return;
    }
    // Identity first: the allow list is about who the host knows the sender is.
    if (caller === undefined || !s.acl.allows(caller, () => this.#o.routing.capabilitiesOf(caller as string))) {
      const who = caller === undefined ? `${JSON.stringify(m.sender)}, which is not an agent${via === undefined ? ' of this node' : ` of node ${via.node}`}` : `agent ${caller}`;
      const tool = m.performative === 'request' ? toolOf(m.content) : undefined;
      const e = new CaxtonError('CAXTON_ERR_TOOL_FORBIDDEN', `${who} may not use MCP server ${s.options.name}: it is not in the server's allow list`, { server: s.options.name, ...(tool === undefined ? {} : { tool }) });
      // A sender that is no agent is recorded by the name it claimed, as an unverified (anonymous) actor.
      if (m.performative === 'request') this.#record(s, caller === undefined ? { name: m.sender, kind: 'anonymous' } : { name: caller, kind: 'agent' }, tool ?? '', argsBytes(m.content), 'forbidden', e);
      this.#answer(s, m, 'failure', errorContent(e));
      return;
    }
    if (m.performative === 'query-ref') return void this.#list(s, m).catch((e: unknown) => this.#unexpected(s.receiver, e));
    this.#request(s, m, caller);
  }

  /**
   * The sender as the host knows it, if it is an agent of this node or of the node that handed the
   * message over (which trusts its own worker's stamp and says when the sender was no agent there);
   * undefined otherwise.
   */
  #caller(from: string, claimed: string, via: Arrival | undefined): string | undefined {
    if (via !== undefined) return via.replyTo === '' && via.node !== '' ? claimed : undefined;
    const name = from === '' ? claimed : from;
    if (name !== claimed) return undefined; // cannot happen for an agent's message: its worker stamped sender
    return this.#o.routing.isLocalAgent(name) ? name : undefined;
  }

  async #list(s: Served, m: Incoming): Promise<void> {
    const c = m.content as { list?: unknown } | null;
    if (typeof c !== 'object' || c === null || c.list !== 'tools') {
      this.#answer(s, m, 'failure', errorContent(new CaxtonError('CAXTON_ERR_TOOL_REQUEST_INVALID', `a query-ref to ${s.receiver} asks {"list": "tools"}`, { server: s.options.name })));
      return;
    }
    try {
      const tools = await s.connection.tools(this.#deadline(s, m));
      this.#answerSized(s, m, { tools: tools.map(toolView) });
    } catch (e) {
      this.#answer(s, m, 'failure', errorContent(asToolError(e, s)));
    }
  }

  #request(s: Served, m: Incoming, caller: string): void {
    const c = m.content as { tool?: unknown; arguments?: unknown } | null;
    const tool = toolOf(c);
    const args = typeof c === 'object' && c !== null ? (c.arguments ?? {}) : undefined;
    if (tool === undefined || typeof args !== 'object' || args === null || Array.isArray(args)) {
      const e = new CaxtonError('CAXTON_ERR_TOOL_REQUEST_INVALID', `a request to ${s.receiver} has content {"tool": "<name>", "arguments": {...}} (arguments an object, may be left out)`, { server: s.options.name });
      this.#record(s, { name: caller, kind: 'agent' }, tool ?? '', argsBytes(m.content), 'invalid', e);
      this.#answer(s, m, 'failure', errorContent(e));
      return;
    }
    // A cancel names the request (in_reply_to = its reply_with) or its conversation: either reaches it.
    const keys = [m.reply_with, m.conversation_id].map((k) => cancelKey(caller, k)).filter((k): k is string => k !== undefined);
    const abort = new AbortController();
    for (const k of keys) s.cancels.set(k, abort);
    void this.#call(s, { name: caller, kind: 'agent' }, tool, args as Record<string, unknown>, this.#deadline(s, m), abort.signal).then((r) => {
      for (const k of keys) if (s.cancels.get(k) === abort) s.cancels.delete(k);
      if ('error' in r) this.#answer(s, m, 'failure', errorContent(r.error, r.content));
      else this.#answerSized(s, m, { tool, ...resultView(r.result) }, tool);
    }).catch((e: unknown) => this.#unexpected(s.receiver, e));
  }

  /** The call's deadline: the server's timeout, shortened by the message's reply_by (less the margin its failure needs). */
  #deadline(s: Served, m: Incoming): number {
    const byTimeout = Date.now() + s.options.timeoutMs;
    const replyBy = m.reply_by === undefined ? NaN : Date.parse(m.reply_by);
    if (Number.isNaN(replyBy)) return byTimeout;
    const margin = Math.min(REPLY_MARGIN_MS, Math.max(0, (replyBy - Date.now()) / 10));
    return Math.min(byTimeout, replyBy - margin);
  }

  /**
   * One tool call through the limits, metrics and audit. Never rejects: the outcome is a result (the
   * tool ran; an isError result is reported as an error with its content) or an error.
   */
  async #call(s: Served, caller: ToolCaller, tool: string, args: Record<string, unknown>, deadline: number, signal: AbortSignal | undefined): Promise<{ result: CallToolResult } | { error: CaxtonError; content?: unknown }> {
    const server = s.options.name;
    const bytes = JSON.stringify(args).length;
    const refused = s.limits.take(caller.name);
    if (refused !== undefined) {
      const e =
        refused.kind === 'busy'
          ? new CaxtonError('CAXTON_ERR_TOOL_BUSY', refused.reason, { server, tool })
          : new CaxtonError('CAXTON_ERR_TOOL_RATE_LIMITED', `${refused.reason}; retry in ${refused.retryInMs} ms`, { server, tool, retry_in_ms: refused.retryInMs });
      this.#record(s, caller, tool, bytes, refused.kind === 'busy' ? 'busy' : 'rate_limited', e, undefined, args);
      return { error: e };
    }
    const t0 = performance.now();
    this.#o.metrics?.started(server);
    try {
      if (deadline <= Date.now()) throw new CaxtonError('CAXTON_ERR_TOOL_TIMEOUT', `the message's reply_by leaves no time to call ${tool}`, { server, tool });
      const result = await s.connection.call(tool, args, deadline, signal);
      const seconds = (performance.now() - t0) / 1000;
      const size = JSON.stringify(result.content ?? []).length + (result.structuredContent === undefined ? 0 : JSON.stringify(result.structuredContent).length);
      if (result.isError === true) {
        const e = new CaxtonError('CAXTON_ERR_TOOL_ERROR', `tool ${tool} of MCP server ${server} reported an error: ${s.mask.mask(firstText(result) ?? 'no text')}`, { server, tool });
        this.#record(s, caller, tool, bytes, 'tool_error', e, { seconds, resultBytes: size }, args);
        return { error: e, content: s.mask.maskAll(result.content) };
      }
      this.#record(s, caller, tool, bytes, 'ok', undefined, { seconds, resultBytes: size }, args);
      return { result };
    } catch (err) {
      const e = asToolError(err, s);
      const seconds = (performance.now() - t0) / 1000;
      this.#record(s, caller, tool, bytes, outcomeOf(e.code), e, { seconds, resultBytes: 0 }, args);
      return { error: e };
    } finally {
      s.limits.release(caller.name);
      this.#o.metrics?.ended(server);
    }
  }

  /** A message the bridge could not handle for a reason it did not foresee: logged, the node goes on. */
  #unexpected(receiver: string, e: unknown): void {
    this.#o.logger.warn({ receiver, err: e instanceof Error ? e.message : String(e) }, 'MCP bridge: a message could not be handled');
  }

  #record(s: Served, caller: ToolCaller, tool: string, argumentBytes: number, outcome: ToolOutcome, error?: CaxtonError, ran?: { seconds: number; resultBytes: number }, args?: Record<string, unknown>): void {
    const known = s.connection.status().tools.some((t) => t.name === tool);
    this.#o.metrics?.observe(s.options.name, known ? tool : UNKNOWN_TOOL, outcome, ran?.seconds);
    this.#o.audit?.record({
      caller,
      server: s.options.name,
      tool,
      outcome,
      argumentBytes,
      resultBytes: ran?.resultBytes ?? 0,
      durationMs: ran === undefined ? 0 : Math.round(ran.seconds * 1000),
      ...(error === undefined ? {} : { error }),
      ...(s.options.auditArguments && args !== undefined ? { arguments: s.mask.mask(JSON.stringify(args)) } : {}),
    });
  }

  /** An inform with `content`, or a failure if it does not fit in one message. */
  #answerSized(s: Served, m: Incoming, content: Record<string, unknown>, tool?: string): void {
    const json = this.#reply(s, m, 'inform', content);
    if (Buffer.byteLength(json, 'utf8') <= this.#o.maxMessageBytes) {
      this.#send(s, m.sender, json);
      return;
    }
    const e = new CaxtonError('CAXTON_ERR_TOOL_RESULT_TOO_LARGE', `the answer of ${tool === undefined ? `${s.receiver}'s tool list` : `tool ${tool}`} is ${Buffer.byteLength(json, 'utf8')} bytes as a message, more than messaging.max_message_size (${this.#o.maxMessageBytes})`, { server: s.options.name, ...(tool === undefined ? {} : { tool }) });
    this.#answer(s, m, 'failure', errorContent(e));
  }

  #answer(s: Served, m: Incoming, performative: 'failure' | 'not-understood', content: Record<string, unknown>): void {
    let json = this.#reply(s, m, performative, content);
    // A failure carrying a tool's error content may be too large itself: then without the content.
    if (Buffer.byteLength(json, 'utf8') > this.#o.maxMessageBytes && 'content' in content) {
      const { content: _dropped, ...rest } = content;
      json = this.#reply(s, m, performative, rest);
    }
    // Still too large (a tiny max_message_size, a long reason): the code and a short reason always fit.
    if (Buffer.byteLength(json, 'utf8') > this.#o.maxMessageBytes) {
      const reason = typeof content['reason'] === 'string' ? content['reason'].slice(0, 200) : '';
      json = this.#reply(s, m, performative, { error: content['error'], reason, server: s.options.name });
    }
    this.#send(s, m.sender, json);
  }

  #send(s: Served, to: string, json: string): void {
    this.#o.routing.journal(json, `by MCP server ${s.options.name}`);
    this.#o.routing.send(s.receiver, to, json);
  }

  #reply(s: Served, m: Incoming, performative: string, content: unknown): string {
    return JSON.stringify({
      message_id: randomUUID(),
      performative,
      sender: s.receiver,
      receiver: m.sender,
      content,
      ...(m.conversation_id === undefined ? {} : { conversation_id: m.conversation_id }),
      ...(m.reply_with === undefined ? {} : { in_reply_to: m.reply_with }),
      ...(m.protocol === undefined ? {} : { protocol: m.protocol }),
      ...(m.language === undefined ? {} : { language: m.language }),
      ...(m.ontology === undefined ? {} : { ontology: m.ontology }),
      ...(m.trace_context === undefined ? {} : { trace_context: m.trace_context }),
    });
  }
}

function unknownServer(server: string, names: readonly string[]): CaxtonError {
  return new CaxtonError('CAXTON_ERR_TOOL_NOT_FOUND', `no MCP server named ${server} on this node (servers: ${names.length === 0 ? 'none configured' : names.join(', ')})`, { server });
}

function toolOf(content: unknown): string | undefined {
  const t = typeof content === 'object' && content !== null ? (content as { tool?: unknown }).tool : undefined;
  return typeof t === 'string' && t.length > 0 && t.length <= 256 ? t : undefined;
}

function argsBytes(content: unknown): number {
  const a = typeof content === 'object' && content !== null ? (content as { arguments?: unknown }).arguments : undefined;
  return a === undefined ? 0 : JSON.stringify(a).length;
}

function cancelKey(caller: string, conversation: string | undefined): string | undefined {
  return conversation === undefined ? undefined : `${caller}\n${conversation}`;
}

function asToolError(e: unknown, s: Served): CaxtonError {
  if (isCaxtonError(e)) return e;
  return new CaxtonError('CAXTON_ERR_TOOL_SERVER_FAILED', `MCP server ${s.options.name}: ${s.mask.told((e as Error).message ?? String(e))}`, { server: s.options.name });
}

const OUTCOMES: Partial<Record<ErrorCode, ToolOutcome>> = {
  CAXTON_ERR_TOOL_FORBIDDEN: 'forbidden',
  CAXTON_ERR_TOOL_NOT_FOUND: 'not_found',
  CAXTON_ERR_TOOL_REQUEST_INVALID: 'invalid',
  CAXTON_ERR_TOOL_BUSY: 'busy',
  CAXTON_ERR_TOOL_RATE_LIMITED: 'rate_limited',
  CAXTON_ERR_TOOL_TIMEOUT: 'timeout',
  CAXTON_ERR_TOOL_ERROR: 'tool_error',
  CAXTON_ERR_TOOL_SERVER_UNAVAILABLE: 'unavailable',
  CAXTON_ERR_TOOL_SERVER_FAILED: 'failed',
  CAXTON_ERR_TOOL_RESULT_TOO_LARGE: 'too_large',
};

function outcomeOf(code: ErrorCode): ToolOutcome {
  return OUTCOMES[code] ?? 'failed';
}

/** A failure's content: the code agents match on, the reason, the details, and a tool's own error content. */
function errorContent(e: CaxtonError, content?: unknown): Record<string, unknown> {
  return { error: e.code, reason: e.message, ...(e.details ?? {}), ...(content === undefined ? {} : { content }) };
}

function firstText(r: CallToolResult): string | undefined {
  for (const c of r.content ?? []) if (c.type === 'text') return c.text.length > 300 ? `${c.text.slice(0, 300)}…` : c.text;
  return undefined;
}

function resultView(r: CallToolResult): Record<string, unknown> {
  return { content: r.content ?? [], ...(r.structuredContent === undefined ? {} : { structuredContent: r.structuredContent }) };
}

function toolView(t: Tool): Record<string, unknown> {
  return {
    name: t.name,
    ...(t.title === undefined ? {} : { title: t.title }),
    ...(t.description === undefined ? {} : { description: t.description }),
    inputSchema: t.inputSchema,
    ...(t.outputSchema === undefined ? {} : { outputSchema: t.outputSchema }),
    ...(t.annotations === undefined ? {} : { annotations: t.annotations }),
  };
}
