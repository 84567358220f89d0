/**
 * The last log lines of each agent, in memory, for `caxton agent logs`. Bounded per agent so a noisy
 * agent cannot grow the node; every line also goes to the node's JSON log (stdout) in full.
 */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

export interface AgentLogLine {
  readonly time: number;
  readonly level: LogLevelName;
  readonly text: string;
  /** The conversation of the message the agent was handling, when it had one. */
  readonly conversationId?: string;
}

export class AgentLogs {
  readonly #lines = new Map<string, AgentLogLine[]>();

  constructor(readonly perAgent = 1000) {}

  add(agent: string, level: number, text: string, conversationId?: string, time = Date.now()): void {
    let ring = this.#lines.get(agent);
    if (ring === undefined) {
      ring = [];
      this.#lines.set(agent, ring);
    }
    ring.push({ time, level: LOG_LEVELS[level] ?? 'info', text, ...(conversationId === undefined ? {} : { conversationId }) });
    // Trim in chunks: one splice per perAgent/10 lines rather than a shift per line.
    if (ring.length > this.perAgent + Math.max(1, this.perAgent / 10)) ring.splice(0, ring.length - this.perAgent);
  }

  /** The last `tail` lines of an agent at `minLevel` or above, oldest first. */
  tail(agent: string, tail = 100, minLevel: LogLevelName = 'trace'): AgentLogLine[] {
    const ring = this.#lines.get(agent) ?? [];
    const min = LOG_LEVELS.indexOf(minLevel);
    const out = min === 0 ? ring : ring.filter((l) => LOG_LEVELS.indexOf(l.level) >= min);
    return out.slice(-Math.min(tail, this.perAgent));
  }

  /** Every kept line of every agent within [since, now], for analysis and debug dumps. */
  *since(since: number): Generator<AgentLogLine & { agent: string }> {
    for (const [agent, ring] of this.#lines) for (const l of ring) if (l.time >= since) yield { agent, ...l };
  }

  forget(agent: string): void {
    this.#lines.delete(agent);
  }
}
