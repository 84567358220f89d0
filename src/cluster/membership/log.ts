/**
 * What membership logs through. A pino Logger fits (pass `logger.child({ component: 'membership' })`);
 * the default is silent. Levels follow memberlist's: debug for routine failures (a ping timed out),
 * info for state changes, warn for refutations, conflicts and drops, error for our own failures.
 */
export interface MembershipLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const noop = (): void => undefined;

export const silentLogger: MembershipLogger = { debug: noop, info: noop, warn: noop, error: noop };
