/** Structured JSON logs (pino). Components take a child logger with their own bindings. */
import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  readonly level?: string;
  /** Where lines go. @default stdout */
  readonly destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const opts = { level: options.level ?? 'info', base: { pid: process.pid } };
  return options.destination === undefined ? pino(opts) : pino(opts, options.destination);
}
