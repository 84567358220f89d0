/** Structured JSON logs (pino). Components take a child logger with their own bindings. */
import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  readonly level?: string;
  /** Where lines go: a stream, or the log file's destination (./log-file.ts). @default stdout */
  readonly destination?: NodeJS.WritableStream | DestinationStream;
  /** `json` (one object per line, for machines) or `pretty` (for a terminal). @default json */
  readonly format?: 'json' | 'pretty';
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const opts = { level: options.level ?? 'info', base: { pid: process.pid } };
  if (options.format === 'pretty') {
    // In-process (not a transport thread): a terminal's log volume does not need a second thread.
    const out = options.destination ?? process.stdout;
    return pino(opts, pretty({ destination: out as NodeJS.WritableStream, colorize: (out as { isTTY?: boolean }).isTTY === true, sync: true }));
  }
  return options.destination === undefined ? pino(opts) : pino(opts, options.destination);
}
