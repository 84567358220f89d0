/**
 * Runs an agent project's build (the `build` argv of caxton.agent.json, in the project dir, without a
 * shell) and reads the module it wrote. The build's output is handed on line by line as it comes, so
 * a watcher can print the compiler's errors at once; a build is never retried or interpreted here.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { AgentProject } from './project-file.js';

/** Lines of build output a result keeps (the last ones: a compiler's summary comes at the end). */
export const KEPT_OUTPUT_LINES = 200;

export interface BuildOptions {
  /** Each line of the build's stdout and stderr, as it comes (without the newline). */
  readonly onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Aborting kills the build's whole process group (npm, the shell it starts, the compiler). */
  readonly signal?: AbortSignal;
  /** Added to the build's environment. */
  readonly env?: NodeJS.ProcessEnv;
}

export type BuildResult =
  | {
      readonly ok: true;
      readonly wasm: Uint8Array;
      /** sha256 of the module, hex: the node's module id. */
      readonly hash: string;
      readonly ms: number;
      readonly output: readonly string[];
    }
  | {
      readonly ok: false;
      /** What went wrong, in one sentence (the compiler's own errors are in `output`). */
      readonly reason: string;
      readonly aborted: boolean;
      readonly ms: number;
      readonly output: readonly string[];
    };

/** Runs the build once. Never throws for a failed build: the result says why. */
export async function buildProject(project: AgentProject, opts: BuildOptions = {}): Promise<BuildResult> {
  const t0 = performance.now();
  const output: string[] = [];
  const keep = (line: string, stream: 'stdout' | 'stderr') => {
    output.push(line);
    if (output.length > KEPT_OUTPUT_LINES) output.shift();
    opts.onLine?.(line, stream);
  };
  const failed = (reason: string, aborted = false): BuildResult => ({ ok: false, reason, aborted, ms: performance.now() - t0, output });
  // A function: TypeScript would keep the first check's narrowing across the await below.
  const cancelled = () => opts.signal?.aborted === true;
  if (cancelled()) return failed('the build was cancelled', true);
  const [cmd, ...args] = project.build;
  const shown = project.build.join(' ');
  const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: NodeJS.ErrnoException }>((done) => {
    // Its own process group, so that a cancel reaches the compiler that `npm run` or make started,
    // and a Ctrl-C in the terminal reaches the build only through us.
    const child = spawn(cmd, args, { cwd: project.dir, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true, shell: false });
    const kill = () => {
      if (child.pid === undefined || child.exitCode !== null) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* the group is gone already */
      }
    };
    opts.signal?.addEventListener('abort', kill, { once: true });
    for (const [stream, name] of [[child.stdout, 'stdout'], [child.stderr, 'stderr']] as const) {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        rest += chunk;
        let i: number;
        while ((i = rest.indexOf('\n')) >= 0) {
          keep(rest.slice(0, i).replace(/\r$/, ''), name);
          rest = rest.slice(i + 1);
        }
      });
      stream.on('end', () => {
        if (rest !== '') keep(rest, name);
        rest = '';
      });
    }
    child.once('error', (error: NodeJS.ErrnoException) => {
      opts.signal?.removeEventListener('abort', kill);
      done({ error });
    });
    // 'close', not 'exit': the output streams have ended, so every line has been handed on.
    child.once('close', (code, signal) => {
      opts.signal?.removeEventListener('abort', kill);
      done({ code, signal });
    });
  });
  if ('error' in outcome) {
    const e = outcome.error;
    if (e.code === 'ENOENT') return failed(`the build command "${cmd}" was not found (is it installed and on PATH?); "build" in ${project.file} is ${JSON.stringify(project.build)}`);
    return failed(`the build command "${shown}" could not start: ${e.message}`);
  }
  if (cancelled()) return failed('the build was cancelled', true);
  if (outcome.code !== 0) {
    return failed(outcome.signal !== null ? `the build "${shown}" was killed by ${outcome.signal}` : `the build "${shown}" failed with exit code ${outcome.code ?? '?'}`);
  }
  const where = relative(project.dir, project.wasm);
  let bytes: Buffer;
  try {
    // An up-to-date build (make with nothing to do) leaves the module as it was: that is fine.
    bytes = readFileSync(project.wasm);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return failed(code === 'ENOENT' ? `the build succeeded but ${where} does not exist: check "wasm" in ${project.file}` : `cannot read ${where}: ${(e as Error).message}`);
  }
  const wasm = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { ok: true, wasm, hash: createHash('sha256').update(wasm).digest('hex'), ms: performance.now() - t0, output };
}
