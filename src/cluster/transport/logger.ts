/**
 * The little logging the cluster transport and Serf layers do. A pino Logger (observability/logger.ts)
 * satisfies it; tests and embedders may pass anything with these two methods.
 */
export interface ClusterLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Discards everything (the default). */
export const silentLogger: ClusterLogger = {
  debug: () => undefined,
  warn: () => undefined,
};
