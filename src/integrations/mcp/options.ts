/**
 * One MCP server as the node runs it: integrations.mcp.servers[] resolved (src/config/resolve.ts),
 * defaults applied, durations in ms. docs/configuration.md and docs/tools.md describe each key.
 */
export interface McpServerOptions {
  readonly name: string;
  readonly transport: 'stdio' | 'http';
  /** stdio: the program and its arguments (no shell). */
  readonly command: string;
  readonly args: readonly string[];
  /** stdio: variables besides the few inherited ones. Secret: never logged or shown. */
  readonly env: Readonly<Record<string, string>>;
  /** http: the Streamable HTTP endpoint. */
  readonly url: string;
  /** http: sent with every request. Secret: never logged or shown. */
  readonly headers: Readonly<Record<string, string>>;
  /** Agent name patterns and `capability:<name>` entries (./acl.ts). */
  readonly allow: readonly string[];
  readonly timeoutMs: number;
  /**
   * stdio: output per second past which the server is closed as flooding. Not a configuration key:
   * the limit is the same for every server; a test lowers it to trip it on a slow machine.
   * @default MAX_BYTES_PER_SECOND (./stdio-transport.ts)
   */
  readonly maxOutputBytesPerSecond?: number;
  readonly maxConcurrent: number;
  readonly maxConcurrentPerAgent: number;
  readonly rateLimit: {
    /** 0 = no limit. */
    readonly callsPerSecond: number;
    readonly burst: number;
    /** 0 = no limit. */
    readonly agentCallsPerSecond: number;
    readonly agentBurst: number;
  };
  readonly auditArguments: boolean;
}
