/**
 * `caxton server start --releases DIR` (docs/operations.md, "Upgrading Caxton"): this process stays
 * up for the node's whole life (a stable PID for systemd) and runs the node as its child,
 * `node <releases>/<current>/bin/caxton.js server start ...` with the same arguments, so that the node
 * can move to another installed release, which an in-place restart cannot (the code of a process
 * is the code it started with).
 *
 * - SIGTERM, SIGINT and SIGHUP go on to the child; after a SIGTERM/SIGINT the supervisor exits with the
 *   child's exit code.
 * - A child that exits on its own with a failure (a crash, a failed restart) is started again, after a
 *   back-off that doubles from `initialBackoffMs` to `maxBackoffMs`; `maxFailedStarts` starts in a row
 *   that never became ready and the supervisor gives up (exit 1) rather than loop for ever.
 * - A child that exits 0 on its own stopped on purpose: the supervisor exits 0 too.
 * - A child that asks to switch (`caxton.switch`, after handing its agents over and stopping) exits;
 *   the supervisor points `current` at the new release (`previous` at the old) and starts it. If the
 *   new release fails `revertAfterFailedStarts` starts in a row before it is ever ready, `current`
 *   goes back to the release that ran before, so that a broken release does not keep a node down.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { childMessage, SUPERVISOR_ENV } from './supervisor-ipc.js';
import type { ResolvedConfig } from '../config/index.js';
import { CURRENT, linkedVersion, releaseProblem, switchCurrent } from '../cluster/upgrade/releases.js';

export interface SupervisorOptions {
  readonly releasesDir: string;
  /** The node's `server start` arguments (without --releases). */
  readonly args: readonly string[];
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Node options for the child. @default ['--disable-wasm-trap-handler'] (what bin/caxton.js would add) */
  readonly nodeOptions?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** @default 1000 */
  readonly initialBackoffMs?: number;
  /** @default 30000 */
  readonly maxBackoffMs?: number;
  /** Starts in a row that never became ready before the supervisor gives up. @default 5 */
  readonly maxFailedStarts?: number;
  /** Failed starts of a release just switched to before `current` goes back. @default 3 */
  readonly revertAfterFailedStarts?: number;
}

export class Supervisor {
  readonly #o: SupervisorOptions;
  readonly #root: string;
  #child: ChildProcess | undefined;
  #version = '';
  #stopping: NodeJS.Signals | undefined;
  /** A switch the running child asked for, carried out when it exits. */
  #switch: { version: string; rejoin: readonly string[] } | undefined;
  /** Set after a switch until the new release is ready: where to go back to. */
  #switchedFrom: string | undefined;
  /** The members the node had at its last switch: every later start may rejoin through them. */
  #rejoin: readonly string[] = [];
  #failedStarts = 0;
  #readyThisRun = false;
  #backoff: NodeJS.Timeout | undefined;
  #done: ((code: number) => void) | undefined;

  constructor(o: SupervisorOptions) {
    this.#o = o;
    this.#root = resolve(o.releasesDir);
  }

  /** Runs until the node stops for good; resolves with the exit code for this process. */
  run(): Promise<number> {
    const version = linkedVersion(this.#root, CURRENT);
    const problem = version === undefined ? `${join(this.#root, CURRENT)} is not a symbolic link to an installed release` : releaseProblem(this.#root, version);
    if (problem !== undefined) {
      this.#o.logger.error({ releases: this.#root }, `cannot start the node: ${problem}; install a release there and point ${CURRENT} at it (docs/operations.md, "Upgrading Caxton")`);
      return Promise.resolve(1);
    }
    return new Promise<number>((done) => {
      this.#done = done;
      this.#spawn();
    });
  }

  /** Passes a signal on; SIGTERM and SIGINT also mean: exit once the child has. */
  signal(sig: NodeJS.Signals): void {
    if (sig === 'SIGTERM' || sig === 'SIGINT') {
      this.#stopping ??= sig;
      if (this.#child === undefined) {
        clearTimeout(this.#backoff);
        this.#finish(0);
        return;
      }
    }
    this.#child?.kill(sig);
  }

  #finish(code: number): void {
    const done = this.#done;
    this.#done = undefined;
    done?.(code);
  }

  #spawn(): void {
    const rejoin = this.#rejoin;
    const version = linkedVersion(this.#root, CURRENT) as string;
    this.#version = version;
    this.#readyThisRun = false;
    // The release's own directory, not `current/...`: the child's code is that release's even if
    // `current` moves while it runs, and its log says which one it is.
    const script = join(this.#root, version, 'bin', 'caxton.js');
    const env: NodeJS.ProcessEnv = { ...(this.#o.env ?? process.env), [SUPERVISOR_ENV.supervised]: '1', [SUPERVISOR_ENV.releases]: this.#root };
    if (rejoin.length > 0) env[SUPERVISOR_ENV.rejoin] = rejoin.join(',');
    else delete env[SUPERVISOR_ENV.rejoin];
    // Set when bin/caxton.js started this supervisor again with the trap-handler flag: it means
    // "die with your parent" there, and the node's parent is this supervisor (which the node outlives
    // only to drain: it stops on its own when the channel closes).
    delete env['CAXTON_REEXEC'];
    // Its own process group: a Ctrl-C in a terminal reaches the child once, from here.
    const child = spawn(process.execPath, [...(this.#o.nodeOptions ?? ['--disable-wasm-trap-handler']), script, 'server', 'start', ...this.#o.args], {
      stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
      detached: true,
      env,
    });
    this.#child = child;
    this.#o.logger.info({ version, release: join(this.#root, version), childPid: child.pid }, 'supervisor: node process started');
    child.on('message', (raw) => {
      const m = childMessage(raw);
      if (m?.type === 'caxton.ready') {
        this.#readyThisRun = true;
        this.#failedStarts = 0;
        this.#switchedFrom = undefined;
      } else if (m?.type === 'caxton.switch') {
        this.#o.logger.warn({ from: version, to: m.version, reason: m.reason }, 'supervisor: the node asks to switch release once it has stopped');
        this.#switch = { version: m.version, rejoin: m.rejoin };
      }
    });
    child.once('exit', (code, signal) => this.#exited(code, signal));
  }

  #exited(code: number | null, signal: NodeJS.Signals | null): void {
    const version = this.#version;
    this.#child = undefined;
    const sw = this.#switch;
    this.#switch = undefined;
    if (this.#stopping !== undefined) {
      this.#o.logger.info({ code, signal }, 'supervisor: the node stopped; exiting');
      this.#finish(code ?? 1);
      return;
    }
    if (sw !== undefined) {
      try {
        const { previous } = switchCurrent(this.#root, sw.version);
        this.#switchedFrom = previous;
        this.#failedStarts = 0;
        this.#o.logger.warn({ from: previous, to: sw.version }, 'supervisor: current release switched; starting the node on it');
      } catch (e) {
        this.#o.logger.error({ err: e, to: sw.version }, `supervisor: cannot switch to ${sw.version}; starting ${version} again`);
      }
      this.#rejoin = sw.rejoin;
      this.#spawn();
      return;
    }
    if (code === 0 && signal === null) {
      this.#o.logger.info({ version }, 'supervisor: the node stopped on its own; exiting');
      this.#finish(0);
      return;
    }
    if (!this.#readyThisRun) this.#failedStarts++;
    const from = this.#switchedFrom;
    if (from !== undefined && this.#failedStarts >= (this.#o.revertAfterFailedStarts ?? 3)) {
      this.#o.logger.error({ release: version, back_to: from, failedStarts: this.#failedStarts }, `supervisor: release ${version} failed to start ${this.#failedStarts} times in a row; going back to ${from}`);
      this.#switchedFrom = undefined;
      this.#failedStarts = 0;
      try {
        switchCurrent(this.#root, from);
      } catch (e) {
        this.#o.logger.error({ err: e }, `supervisor: cannot go back to ${from}`);
      }
    } else if (this.#failedStarts >= (this.#o.maxFailedStarts ?? 5)) {
      this.#o.logger.error({ release: version, failedStarts: this.#failedStarts }, `supervisor: the node failed to start ${this.#failedStarts} times in a row; giving up (see the lines above for why)`);
      this.#finish(1);
      return;
    }
    const delay = Math.min(this.#o.maxBackoffMs ?? 30_000, (this.#o.initialBackoffMs ?? 1000) * 2 ** Math.max(0, this.#failedStarts - 1));
    this.#o.logger.warn({ code, signal, version, restartInMs: delay }, 'supervisor: the node exited unexpectedly; starting it again');
    this.#backoff = setTimeout(() => {
      this.#backoff = undefined;
      if (this.#stopping === undefined) this.#spawn();
    }, delay);
  }
}

/**
 * The node's `server start` arguments from this process' command line: everything after
 * `server start`, less `--releases DIR` (the child runs the node, not another supervisor).
 */
export function childArgs(argv: readonly string[]): string[] {
  const at = argv.indexOf('server');
  const start = at < 0 ? -1 : argv.indexOf('start', at + 1);
  const rest = start < 0 ? [] : argv.slice(start + 1);
  const out: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] as string;
    if (a === '--releases') i++;
    else if (!a.startsWith('--releases=')) out.push(a);
  }
  return out;
}

/** `caxton server start --releases DIR` in this process: the supervisor, until the node stops for good. */
export async function runSupervisor(c: ResolvedConfig, releasesDir: string): Promise<void> {
  const { createLogger } = await import('../observability/logger.js');
  const logger = createLogger({ level: c.observability.logging.level, format: c.observability.logging.format });
  const trapHandlerOn = process.env['CAXTON_WASM_TRAP_HANDLER'] === 'on';
  const s = new Supervisor({ releasesDir, args: childArgs(process.argv), logger, nodeOptions: trapHandlerOn ? [] : ['--disable-wasm-trap-handler'] });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => s.signal(sig));
  logger.info({ releases: resolve(releasesDir) }, 'supervisor: running the node from the releases directory');
  process.exit(await s.run());
}
