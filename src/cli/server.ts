/** `caxton server ...`: run a node in the foreground. */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { CaxtonNode } from '../node.js';
import { createLogger } from '../observability/logger.js';

export function registerServer(program: Command): void {
  const server = program.command('server').description('run and inspect a Caxton node');
  server
    .command('start')
    .description('start a node in the foreground (stop it with Ctrl-C or SIGTERM)')
    .option('--data-dir <dir>', 'where the node keeps its state', './.caxton')
    .option('--node-id <id>', 'this node\'s name', hostname())
    .option('--workers <n>', 'agent worker threads (default: cores - 1)', (v) => positiveInt(v, '--workers'))
    .option('--log-level <level>', 'trace, debug, info, warn or error', 'info')
    .action(async (opts: { dataDir: string; nodeId: string; workers?: number; logLevel: string }) => {
      const logger = createLogger({ level: opts.logLevel });
      // Signal handlers go in before the node starts, so a SIGTERM during start-up still stops it cleanly.
      let node: CaxtonNode | undefined;
      let stopRequested: string | undefined;
      const shutdown = (signal: string) => {
        if (stopRequested !== undefined) return;
        stopRequested = signal;
        logger.info({ signal }, 'shutting down');
        if (node !== undefined) stopAndExit(node);
      };
      const stopAndExit = (n: CaxtonNode) => {
        n.stop().then(
          () => process.exit(0),
          (e: unknown) => {
            logger.error({ err: e }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', () => shutdown('SIGINT'));
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      node = await CaxtonNode.start({
        dataDir: opts.dataDir,
        nodeId: opts.nodeId,
        logger,
        ...(opts.workers === undefined ? {} : { workers: opts.workers }),
      });
      if (stopRequested !== undefined) stopAndExit(node);
    });
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} takes a whole number of at least 1, got "${value}"`);
  return n;
}
