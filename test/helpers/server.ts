/**
 * Starts a real Caxton server process (the CLI's `server start`; from dist/ or source, see
 * caxton-command.ts) on loopback with
 * ephemeral ports, and runs CLI commands against it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { caxtonArgs } from './caxton-command.js';
import { tempDir } from './tmp.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface RunningServer {
  readonly apiUrl: string;
  readonly metricsUrl: string;
  readonly dataDir: string;
  readonly adminKey: string;
  readonly pid: number;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number>;
  /** Sends a signal (default SIGKILL) and waits for the process to be gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Everything the process wrote so far (stdout + stderr). */
  logs(): string;
  /** Removes the data dir (call after stop, unless the test restarts on it). */
  cleanup(): void;
}

export interface StartOptions {
  readonly args?: readonly string[];
  /** Reuse a data dir (a restart); a fresh temp dir otherwise. */
  readonly dataDir?: string;
  readonly env?: Record<string, string>;
  readonly timeoutMs?: number;
  /** A command to run the server under, e.g. ['ip', 'netns', 'exec', 'ns1']; it must exec node (as
   * `ip netns exec` does), so that the pid and the signals are node's. */
  readonly prefix?: readonly string[];
}

export function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const dir = opts.dataDir === undefined ? tempDir() : undefined;
  const dataDir = opts.dataDir ?? (dir as ReturnType<typeof tempDir>).path;
  // As bin/caxton.js runs `server start` (docs/sandbox.md, "Capacity"). CAXTON_SERVER_NODE_ARGS: more
  // node options for every server, space-separated, e.g. `--cpu-prof --cpu-prof-dir=/tmp/p` (profiles
  // of each thread, written on a clean stop), which NODE_OPTIONS may not carry.
  const args = ['--disable-wasm-trap-handler', ...(process.env['CAXTON_SERVER_NODE_ARGS']?.split(' ').filter((a) => a !== '') ?? []), ...caxtonArgs, 'server', 'start', '--data-dir', dataDir, '--node-id', 'test-node', '--api-addr', '127.0.0.1:0', '--metrics-addr', '127.0.0.1:0', '--workers', '1', ...(opts.args ?? [])];
  const [cmd, ...argv] = [...(opts.prefix ?? []), process.execPath, ...args] as [string, ...string[]];
  const child = spawn(cmd, argv, { cwd: root, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let buf = '';
  const exited = new Promise<number>((r) => child.once('exit', (code, signal) => r(code ?? (signal === null ? -1 : 128))));
  return new Promise<RunningServer>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start within ${opts.timeoutMs ?? 30_000} ms; output:\n${out}`));
    }, opts.timeoutMs ?? 30_000);
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      const s = d.toString();
      out += s;
      buf += s;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let rec: { msg?: string; api?: { host: string; port: number }; apiScheme?: string; metrics?: { host: string; port: number } };
        try {
          rec = JSON.parse(line) as typeof rec;
        } catch {
          continue;
        }
        if (rec.msg !== 'caxton node started') continue;
        clearTimeout(timer);
        resolve(running(child, dataDir, rec.api, rec.apiScheme ?? 'http', rec.metrics, exited, () => out, () => dir?.cleanup()));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it started; output:\n${out}`));
    });
  });
}

function running(child: ChildProcess, dataDir: string, api: { host: string; port: number } | undefined, scheme: string, metrics: { host: string; port: number } | undefined, exited: Promise<number>, logs: () => string, cleanup: () => void): RunningServer {
  return {
    // https when the node serves the API over TLS (security.api.tls), as its start line says.
    apiUrl: api === undefined ? '' : `${scheme}://${api.host}:${api.port}`,
    metricsUrl: metrics === undefined ? '' : `http://${metrics.host}:${metrics.port}`,
    dataDir,
    adminKey: readFileSync(join(dataDir, 'admin.key'), 'utf8').trim(),
    pid: child.pid as number,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
    kill: async (signal = 'SIGKILL') => {
      child.kill(signal);
      await exited;
    },
    logs,
    cleanup,
  };
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `caxton <args>` (under `prefix`, as startServer); resolves when it exits. */
export function runCli(args: readonly string[], opts: { env?: Record<string, string>; dataDir?: string; timeoutMs?: number; stdin?: string; prefix?: readonly string[] } = {}): Promise<CliResult> {
  const env = { ...process.env, ...(opts.dataDir === undefined ? {} : { CAXTON_DATA_DIR: opts.dataDir }), ...opts.env };
  const [cmd, ...argv] = [...(opts.prefix ?? []), process.execPath, ...caxtonArgs, ...args] as [string, ...string[]];
  const child = spawn(cmd, argv, { cwd: root, env, stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  child.stdin?.end(opts.stdin);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`caxton ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 60_000} ms; stderr: ${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** fetch against the API with the admin key (or `key`), parsed JSON body. */
export async function api(server: RunningServer, method: string, path: string, body?: unknown, key: string | null = server.adminKey): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (key !== null) headers['authorization'] = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.apiUrl}/api/v1${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** An unlabelled metric's value from the node's Prometheus endpoint; undefined when it is not exported. */
export async function metricValue(on: { metricsUrl: string }, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${on.metricsUrl}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]);
}
