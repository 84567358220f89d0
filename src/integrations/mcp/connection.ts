/**
 * One MCP server as the node keeps it: connected through the SDK's Client, supervised, and asked for
 * tools. States:
 *
 *   connecting → ready → (closed: it exited, crashed, flooded, answered garbage, the HTTP link broke)
 *   → backoff → connecting → ...;  stop() from any state → stopped.
 *
 * A stdio server is a child process the node starts (./stdio-transport.ts) and restarts after it ends;
 * an HTTP server is reconnected to (a new session) after its link failed. Both wait RESTART_BASE_MS,
 * doubling per failure up to RESTART_MAX_MS; a server that stayed up HEALTHY_MS starts from the base
 * again. Calls in flight when a server goes get a failure naming why; calls that arrive while it is in
 * back-off get one at once (CAXTON_ERR_TOOL_SERVER_UNAVAILABLE) rather than waiting blind.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JsonSchemaValidator, jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import { ErrorCode, McpError, ToolListChangedNotificationSchema, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { CaxtonError } from '../../errors.js';
import { VERSION } from '../../version.js';
import type { McpServerOptions } from './options.js';
import type { SecretMask } from './secrets.js';
import { BoundedStdioTransport, MAX_LINE_BYTES } from './stdio-transport.js';
import { boundedFetch } from './bounded-fetch.js';

export type ServerState = 'connecting' | 'ready' | 'backoff' | 'stopped';

/** First wait before a restart or reconnect, ms; doubles per failure. */
export const RESTART_BASE_MS = 500;
export const RESTART_MAX_MS = 30_000;
/** A server up this long is healthy again: its next failure waits RESTART_BASE_MS. */
export const HEALTHY_MS = 60_000;
/** Longest a connection attempt (start, initialize, tools/list) may take, ms. */
export const CONNECT_TIMEOUT_MS = 15_000;
/**
 * The SDK checks a tool's structuredContent against the outputSchema the same server declared, with
 * AJV on the node's main thread: a server's schema (a catastrophic regex `pattern`, a huge one) could
 * freeze the node. Whether a server keeps its own contract is between it and the agent that reads
 * the answer: the node passes structuredContent on unchecked.
 */
const UNCHECKED: jsonSchemaValidator = {
  getValidator<T>(): JsonSchemaValidator<T> {
    return (input) => ({ valid: true, data: input as T, errorMessage: undefined });
  },
};
/** Pages of tools/list read at most (a server that pages forever is cut). */
const MAX_TOOL_PAGES = 20;

export interface ConnectionLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface ServerStatus {
  readonly name: string;
  readonly transport: 'stdio' | 'http';
  readonly state: ServerState;
  readonly tools: readonly Tool[];
  /** Times the server was started or connected again after a failure. */
  readonly restarts: number;
  /** Why it last closed or failed to connect ('' if it never did), secrets masked. */
  readonly lastError: string;
  readonly pid: number | undefined;
  readonly serverInfo: { readonly name: string; readonly version: string } | undefined;
}

export class McpServerConnection {
  readonly options: McpServerOptions;
  #state: ServerState = 'connecting';
  #client: Client | undefined;
  #transport: Transport | undefined;
  #tools: readonly Tool[] = [];
  #restarts = 0;
  #failures = 0;
  #readySince = 0;
  #lastError = '';
  #retryAt = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The attempt under way, for calls that arrive while the server is connecting. */
  #attempt: Promise<void> | undefined;
  /** The client whose tool list is being read again after a change (one read at a time), and whether it changed meanwhile. */
  #refreshing: Client | undefined;
  #refreshAgain = false;
  readonly #log: ConnectionLogger;
  readonly #mask: SecretMask;

  constructor(options: McpServerOptions, log: ConnectionLogger, mask: SecretMask) {
    this.options = options;
    this.#log = log;
    this.#mask = mask;
  }

  get state(): ServerState {
    return this.#state;
  }

  /** Starts the first connection; failures are retried with back-off. */
  start(): void {
    this.#connect();
  }

  status(): ServerStatus {
    const info = this.#client?.getServerVersion();
    return {
      name: this.options.name,
      transport: this.options.transport,
      state: this.#state,
      tools: this.#tools,
      restarts: this.#restarts,
      lastError: this.#lastError,
      pid: this.#transport instanceof BoundedStdioTransport ? this.#transport.pid : undefined,
      serverInfo: info === undefined ? undefined : { name: info.name, version: info.version },
    };
  }

  /** The server's tools (as of the last tools/list; refreshed when it says they changed). */
  async tools(deadline: number): Promise<readonly Tool[]> {
    await this.#whenReady(deadline);
    return this.#tools;
  }

  /**
   * Calls a tool, at most until `deadline` (ms since the epoch): then it is cancelled. Resolves with the
   * tool's result (which may be an error result: isError); rejects with a CaxtonError: timeout, the
   * server gone during the call, not available, or a protocol error.
   */
  async call(tool: string, args: Record<string, unknown>, deadline: number, signal?: AbortSignal): Promise<CallToolResult> {
    await this.#whenReady(deadline);
    const client = this.#client as Client;
    const transport = this.#transport;
    const timeout = Math.max(1, deadline - Date.now());
    try {
      return (await client.callTool({ name: tool, arguments: args }, undefined, { timeout, maxTotalTimeout: timeout, ...(signal === undefined ? {} : { signal }) })) as CallToolResult;
    } catch (e) {
      // The SDK reports an aborted request like a timed-out one: the caller's cancel is told apart here.
      if (signal?.aborted === true) throw new CaxtonError('CAXTON_ERR_TOOL_TIMEOUT', `the call to tool ${tool} of MCP server ${this.options.name} was cancelled by its caller`, { server: this.options.name, tool, cancelled: true });
      throw this.#callError(e, tool, timeout, transport);
    }
  }

  /** Closes the server for good (stdio: the process is ended). Idempotent. */
  async stop(): Promise<void> {
    this.#state = 'stopped';
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    await client?.close().catch(() => undefined);
    await this.#transport?.close().catch(() => undefined);
  }

  async #whenReady(deadline: number): Promise<void> {
    if (this.#state === 'ready') return;
    const name = this.options.name;
    if (this.#state === 'stopped') throw new CaxtonError('CAXTON_ERR_TOOL_SERVER_UNAVAILABLE', `MCP server ${name} is stopped (the node is shutting down)`, { server: name });
    if (this.#state === 'backoff') {
      const inMs = Math.max(0, this.#retryAt - Date.now());
      throw new CaxtonError('CAXTON_ERR_TOOL_SERVER_UNAVAILABLE', `MCP server ${name} is down (${this.#lastError || 'it closed'}); the node tries it again in ${inMs} ms`, { server: name, retry_in_ms: inMs });
    }
    // Connecting: wait for the attempt, within the call's own deadline.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), Math.max(0, deadline - Date.now()));
    });
    const outcome = await Promise.race([(this.#attempt ?? Promise.resolve()).then(() => 'done' as const), late]);
    clearTimeout(timer);
    if (outcome === 'late') throw new CaxtonError('CAXTON_ERR_TOOL_TIMEOUT', `MCP server ${name} was still starting when the call's time ran out`, { server: name });
    // The attempt ended: ready, or failed (back-off) — asked again, with the state it left.
    if ((this.#state as ServerState) !== 'ready') return this.#whenReady(deadline);
  }

  #connect(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'connecting';
    this.#attempt = this.#open().then(
      () => {
        if (this.#state === 'stopped') return;
        this.#state = 'ready';
        this.#readySince = Date.now();
        const info = this.#client?.getServerVersion();
        this.#log.info({ tools: this.#tools.length, pid: this.status().pid, server_info: info?.name }, 'MCP server ready');
      },
      (e: unknown) => {
        void this.#client?.close().catch(() => undefined);
        void this.#transport?.close().catch(() => undefined);
        this.#failed(`could not connect: ${this.#reason(e)}`);
      },
    );
  }

  async #open(): Promise<void> {
    const o = this.options;
    const transport = o.transport === 'stdio' ? this.#stdio() : this.#http();
    const client = new Client({ name: 'caxton', version: VERSION }, { capabilities: {}, jsonSchemaValidator: UNCHECKED });
    this.#transport = transport;
    this.#client = client;
    client.onclose = () => {
      // Only the current connection's close matters: an old one's arrives after its replacement.
      if (this.#client !== client) return;
      const why = transport instanceof BoundedStdioTransport ? stdioEnd(transport) : 'the connection closed';
      if (this.#state === 'ready') this.#failed(why);
    };
    client.onerror = (e) => this.#log.debug({ err: this.#mask.told(e.message) }, 'MCP server error');
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => this.#refreshTools(client));
    await client.connect(transport, { timeout: CONNECT_TIMEOUT_MS });
    await this.#listTools(client, Date.now() + CONNECT_TIMEOUT_MS);
  }

  /**
   * Reads the tool list again after the server said it changed: one read in flight at most, and one
   * more after it when it changed meanwhile, however many notifications came (a server sending them in
   * a loop would otherwise have the node read up to MAX_TOOL_PAGES pages for each).
   */
  #refreshTools(client: Client): void {
    if (this.#refreshing === client) {
      this.#refreshAgain = true;
      return;
    }
    this.#refreshing = client;
    this.#refreshAgain = false;
    void (async () => {
      try {
        do {
          this.#refreshAgain = false;
          await this.#listTools(client, Date.now() + CONNECT_TIMEOUT_MS);
        } while (this.#refreshAgain && this.#client === client);
      } catch (e) {
        this.#log.warn({ err: this.#reason(e) }, 'MCP server: could not read its changed tool list');
      } finally {
        if (this.#refreshing === client) this.#refreshing = undefined;
      }
    })();
  }

  async #listTools(client: Client, deadline: number): Promise<void> {
    if (client.getServerCapabilities()?.tools === undefined) {
      this.#tools = [];
      return;
    }
    const tools: Tool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_TOOL_PAGES; page++) {
      const r = await client.listTools(cursor === undefined ? {} : { cursor }, { timeout: Math.max(1, deadline - Date.now()) });
      tools.push(...r.tools);
      cursor = r.nextCursor;
      if (cursor === undefined) break;
    }
    this.#tools = tools;
  }

  #stdio(): BoundedStdioTransport {
    const o = this.options;
    return new BoundedStdioTransport({
      command: o.command,
      args: o.args,
      env: o.env,
      onStderr: (line) => this.#log.info({ stderr: this.#mask.mask(line) }, 'MCP server stderr'),
      ...(o.maxOutputBytesPerSecond === undefined ? {} : { maxBytesPerSecond: o.maxOutputBytesPerSecond }),
    });
  }

  #http(): StreamableHTTPClientTransport {
    const o = this.options;
    const fetch = boundedFetch(MAX_LINE_BYTES, (reason) => {
      // A response past the bound: the link is given up like a flooding stdio server.
      this.#log.warn({ reason }, 'MCP server closed: it flooded the node');
      if (this.#state === 'ready') this.#failed(reason);
    });
    return new StreamableHTTPClientTransport(new URL(o.url), { requestInit: { headers: { ...o.headers } }, fetch, reconnectionOptions: { maxReconnectionDelay: RESTART_MAX_MS, initialReconnectionDelay: RESTART_BASE_MS, reconnectionDelayGrowFactor: 2, maxRetries: 2 } });
  }

  /** The server went (or never came): logged with the reason, and tried again after the back-off. */
  #failed(reason: string): void {
    if (this.#state === 'stopped' || this.#state === 'backoff') return;
    const masked = this.#mask.told(reason);
    this.#lastError = masked;
    if (this.#state === 'ready' && Date.now() - this.#readySince >= HEALTHY_MS) this.#failures = 0;
    const wait = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** this.#failures);
    this.#failures++;
    this.#state = 'backoff';
    this.#retryAt = Date.now() + wait;
    const client = this.#client;
    this.#client = undefined;
    void client?.close().catch(() => undefined);
    this.#log.warn({ reason: masked, retry_in_ms: wait }, `MCP server closed: ${masked}`);
    this.#timer = setTimeout(() => {
      this.#restarts++;
      this.#connect();
    }, wait);
    this.#timer.unref();
  }

  /** A failed call as the agent will hear of it. */
  #callError(e: unknown, tool: string, timeoutMs: number, transport: Transport | undefined): CaxtonError {
    const server = this.options.name;
    if (e instanceof McpError && e.code === ErrorCode.RequestTimeout) {
      return new CaxtonError('CAXTON_ERR_TOOL_TIMEOUT', `tool ${tool} of MCP server ${server} did not answer within ${timeoutMs} ms; the call was cancelled`, { server, tool });
    }
    if (e instanceof McpError && e.code === ErrorCode.ConnectionClosed) {
      const why = transport instanceof BoundedStdioTransport ? stdioEnd(transport) : 'the connection closed';
      return new CaxtonError('CAXTON_ERR_TOOL_SERVER_FAILED', `MCP server ${server} went away during the call to ${tool}: ${this.#mask.told(why)}; the node restarts it`, { server, tool });
    }
    if (e instanceof McpError) {
      return new CaxtonError('CAXTON_ERR_TOOL_ERROR', `tool ${tool} of MCP server ${server} refused the call: ${this.#mask.told(e.message)}`, { server, tool, mcp_code: e.code });
    }
    // An HTTP status for this one call (a 500 for its arguments, a 413): that call's failure. The link
    // is fine, and tearing it down would fail every other agent's call in flight. 404 is the server
    // saying it forgot the session: that is the link, below.
    if (e instanceof StreamableHTTPError && e.code !== undefined && e.code !== 404) {
      return new CaxtonError('CAXTON_ERR_TOOL_ERROR', `MCP server ${server} answered the call to ${tool} with HTTP ${e.code}: ${this.#mask.told(e.message)}`, { server, tool, http_status: e.code });
    }
    // Anything else is the link (HTTP: refused, reset, a session the server forgot): reconnect.
    const reason = this.#reason(e);
    if (this.#state === 'ready' && this.options.transport === 'http') this.#failed(reason);
    return new CaxtonError('CAXTON_ERR_TOOL_SERVER_FAILED', `MCP server ${server} could not be reached for the call to ${tool}: ${reason}`, { server, tool });
  }

  #reason(e: unknown): string {
    const t = this.#transport;
    if (t instanceof BoundedStdioTransport && (t.closeReason !== '' || t.exit !== undefined)) return this.#mask.told(stdioEnd(t));
    const err = e as { message?: unknown; cause?: { message?: unknown } };
    const text = typeof err?.message === 'string' ? err.message : String(e);
    const cause = typeof err?.cause?.message === 'string' ? ` (${err.cause.message})` : '';
    return this.#mask.told(text + cause);
  }
}

/** Why a stdio server ended: the bridge's reason for closing it, or how the process exited. */
function stdioEnd(t: BoundedStdioTransport): string {
  if (t.closeReason !== '') return t.closeReason;
  const x = t.exit;
  if (x === undefined) return 'its stdio closed';
  return x.signal !== null ? `the process was killed by ${x.signal}` : `the process exited with code ${x.code}`;
}
