/**
 * The tool metrics (docs/metrics.md, "Tool metrics"), on the node's registry. The `tool` label is
 * the tool's name only when the server lists that tool; any other name an agent sends is counted as
 * "(unknown)", so that agents cannot grow the series without bound.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Seconds: a cached lookup (1 ms) to a slow tool (the 30 s default timeout and past it). */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export type ToolOutcome = 'ok' | 'tool_error' | 'timeout' | 'forbidden' | 'busy' | 'rate_limited' | 'unavailable' | 'failed' | 'too_large' | 'invalid' | 'not_found';

export const UNKNOWN_TOOL = '(unknown)';

export interface ServerReading {
  readonly name: string;
  readonly up: boolean;
  readonly restarts: number;
}

export class ToolMetrics {
  readonly #calls: Counter<'server' | 'tool' | 'outcome'>;
  readonly #duration: Histogram<'server' | 'tool'>;
  readonly #inFlight: Gauge<'server'>;

  constructor(registry: Registry, servers: () => readonly ServerReading[]) {
    const registers = [registry];
    this.#calls = new Counter({ name: 'caxton_tool_calls_total', help: 'Tool calls through MCP, by server, tool and outcome (ok, tool_error, timeout, forbidden, busy, rate_limited, unavailable, failed, too_large, invalid, not_found)', labelNames: ['server', 'tool', 'outcome'], registers });
    this.#duration = new Histogram({ name: 'caxton_tool_call_duration_seconds', help: 'Time from a tool call taken by the bridge to its answer, for calls that reached the server', labelNames: ['server', 'tool'], buckets: DURATION_BUCKETS, registers });
    this.#inFlight = new Gauge({ name: 'caxton_tool_calls_in_flight', help: 'Tool calls waiting for their server now', labelNames: ['server'], registers });
    new Gauge({
      name: 'caxton_tool_server_up',
      help: 'Whether an MCP server is connected and ready (1) or not (0: starting, restarting, reconnecting)',
      labelNames: ['server'],
      registers,
      collect() {
        this.reset();
        for (const s of servers()) this.set({ server: s.name }, s.up ? 1 : 0);
      },
    });
    new Counter({
      name: 'caxton_tool_server_restarts_total',
      help: 'Times an MCP server was restarted (stdio) or reconnected (http) after it closed or failed to connect',
      labelNames: ['server'],
      registers,
      // Read from each connection's own count, which only grows.
      collect() {
        this.reset();
        for (const s of servers()) this.inc({ server: s.name }, s.restarts);
      },
    });
  }

  started(server: string): void {
    this.#inFlight.inc({ server });
  }

  ended(server: string): void {
    this.#inFlight.dec({ server });
  }

  /** One call decided; `seconds` only for calls that reached the server. */
  observe(server: string, tool: string, outcome: ToolOutcome, seconds?: number): void {
    this.#calls.inc({ server, tool, outcome });
    if (seconds !== undefined) this.#duration.observe({ server, tool }, seconds);
  }
}
