/**
 * `caxton dev [DIR]`: the agent author's loop. Builds the project in DIR (caxton.agent.json),
 * deploys it to a running node or to one started here, then rebuilds on every change to the watched
 * sources and upgrades the agent at once (`immediate`: its key-value state stays). The build's output,
 * the agent's log lines and dev's own lines come out as one stream, each line prefixed with its source.
 */
import { existsSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import type { Command } from 'commander';
import type { AgentDetail, AgentView } from '../api-types.js';
import { ApiClient, type ServerEvent } from '../client.js';
import { context } from '../context.js';
import { CliError, EXIT_FAILURE } from '../errors.js';
import { stdout } from '../output.js';
import { agentPath } from './common.js';
import { type AgentProject, readProjectFile } from '../../agent-project/project-file.js';
import { type BuildResult, buildProject } from '../../agent-project/project-build.js';
import { ProjectWatcher, projectIgnore } from '../../agent-project/project-watch.js';
import { DEV_DATA_DIR, type DevNode, startDevNode } from '../dev-node.js';
import { ADMIN_KEY_FILE } from '../credentials.js';

export type DevSource = 'dev' | 'build' | 'agent' | 'node';

/** One stream: `[source] text` lines, or with -o json one object per line. */
export class DevOutput {
  readonly #json: boolean;
  constructor(json: boolean) {
    this.#json = json;
  }
  line(source: DevSource, text: string, fields: Record<string, unknown> = {}): void {
    stdout.write(this.#json ? `${JSON.stringify({ source, text, ...fields })}\n` : `[${source}] ${text}\n`);
  }
}

/** Errors after which dev cannot go on: the node is gone, or refuses the key. */
const FATAL_CODES = new Set(['CAXTON_CLI_UNREACHABLE', 'CAXTON_CLI_STREAM', 'CAXTON_ERR_API_UNAUTHORIZED', 'CAXTON_ERR_API_FORBIDDEN']);

export function registerDev(program: Command): Command {
  return program
    .command('dev')
    .description('build the agent project in DIR, deploy it, and on every change rebuild and upgrade it at once (Ctrl-C stops)')
    .argument('[dir]', 'the project directory, holding caxton.agent.json', '.')
    .action(async (dir: string, _opts: unknown, cmd: Command) => runDev(dir, cmd));
}

async function runDev(dirArg: string, cmd: Command): Promise<void> {
  // Run again by bin/caxton.js (with --disable-wasm-trap-handler), this process has an IPC channel to
  // it, which would keep it alive once the session is over: the exit comes when nothing else is left.
  process.channel?.unref();
  const project = readProjectFile(resolve(dirArg));
  const ctx = context(cmd);
  const out = new DevOutput(ctx.json);
  const session = new DevSession(project, out);
  await session.run(ctx.client);
}

class DevSession {
  readonly #project: AgentProject;
  readonly #out: DevOutput;
  readonly #stop = new AbortController();
  #node: DevNode | undefined;
  #client: ApiClient | undefined;
  #watcher: ProjectWatcher | undefined;
  /** The module running now (sha256), once deployed. */
  #running: string | undefined;
  #building: Promise<void> | undefined;
  /** Changes seen while a build ran: one more build follows it. */
  #again: string[] = [];
  #fatal: CliError | undefined;
  #signals = 0;

  constructor(project: AgentProject, out: DevOutput) {
    this.#project = project;
    this.#out = out;
  }

  async run(client: ApiClient): Promise<void> {
    const onSignal = (signal: NodeJS.Signals) => {
      this.#signals++;
      // A second Ctrl-C is someone who wants out now (the node's stop is bounded anyway).
      if (this.#signals > 1) {
        this.#out.line('dev', `${signal} again: exiting without waiting`);
        process.exit(EXIT_FAILURE);
      }
      this.#out.line('dev', `${signal}: stopping${this.#node === undefined ? '' : ' (and the node this command started)'}`);
      this.#stop.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      this.#client = await this.#connect(client);
      if (this.#stop.signal.aborted) return;
      // Subscribed before the first deploy, so that the agent's first lines (agent_init) are seen.
      const logs = await this.#followLogs(this.#client);
      // Watching from before the first build: a save during it is built next.
      this.#watch();
      await this.#cycle([]);
      await new Promise<void>((r) => (this.#stop.signal.aborted ? r() : this.#stop.signal.addEventListener('abort', () => r(), { once: true })));
      this.#watcher?.close();
      await this.#building;
      await logs.done;
    } finally {
      this.#watcher?.close();
      await this.#node?.stop();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (this.#fatal !== undefined) throw this.#fatal;
    this.#out.line('dev', 'stopped');
  }

  /** Ends the session with an error (after the clean-up in run). */
  #die(e: CliError): void {
    this.#fatal ??= e;
    this.#stop.abort();
  }

  /** The running node at the CLI's API URL, or one started here when nothing answers there. */
  async #connect(given: ApiClient): Promise<ApiClient> {
    const conn = given.connection;
    const devKey = resolve(this.#project.dir, DEV_DATA_DIR, ADMIN_KEY_FILE);
    // No key given and no ./.caxton/admin.key: the key of this project's dev node, for a node that
    // another `caxton dev` on this project started (or one left from an earlier session).
    const client = conn.keySource.kind === 'none' && conn.tls === undefined && existsSync(devKey) ? new ApiClient({ ...conn, apiKey: readFileSync(devKey, 'utf8').trim(), keySource: { kind: 'file', path: devKey } }) : given;
    try {
      const h = await client.get<{ status?: unknown; version?: unknown; node_id?: unknown }>('/health', undefined, { timeoutMs: 5000 });
      if (typeof h?.version !== 'string' || typeof h.node_id !== 'string') {
        throw new CliError(`something answers at ${conn.apiUrl}, but not as a Caxton node`, { code: 'CAXTON_CLI_BAD_RESPONSE', hint: 'Point --api-url (or CAXTON_API_URL) at a Caxton node, or at a free loopback port where `caxton dev` starts one.' });
      }
      // Any GET needing a key: a refused key stops here, with the usual explanation, before a build.
      await client.get('/agents');
      this.#out.line('dev', `using the node ${h.node_id} at ${conn.apiUrl} (version ${h.version})`, { event: 'node', api_url: conn.apiUrl, embedded: false });
      return client;
    } catch (e) {
      if (!(e instanceof CliError) || e.code !== 'CAXTON_CLI_UNREACHABLE' || e.details?.['reason'] !== 'ECONNREFUSED') throw e;
    }
    const url = new URL(conn.apiUrl);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (url.protocol !== 'http:' || !isLoopback(host)) {
      throw new CliError(`no node answers at ${conn.apiUrl}, and caxton dev starts one only on a plain-HTTP loopback address`, {
        code: 'CAXTON_CLI_UNREACHABLE',
        hint: 'Start that node first, or leave --api-url / CAXTON_API_URL unset (dev then starts a node on 127.0.0.1:8080), or give a free loopback port such as --api-url http://127.0.0.1:8181.',
      });
    }
    const dataDir = resolve(this.#project.dir, DEV_DATA_DIR);
    this.#out.line('dev', `no node at ${conn.apiUrl}: starting one here (data in ${this.#rel(dataDir)})`);
    this.#node = await startDevNode({
      dataDir,
      addr: { host, port: url.port === '' ? 80 : Number(url.port) },
      onLog: (level, text) => this.#out.line('node', `${level.toUpperCase()} ${text}`, { level }),
    });
    this.#out.line('dev', `node started at ${this.#node.apiUrl}; its admin key is in ${this.#rel(this.#node.adminKeyPath)} (other commands: caxton --api-url ${this.#node.apiUrl} --data-dir ${this.#rel(dataDir)} ...)`, { event: 'node', api_url: this.#node.apiUrl, embedded: true, data_dir: dataDir });
    return new ApiClient({ apiUrl: this.#node.apiUrl, urlSource: 'flag', apiKey: this.#node.adminKey, keySource: { kind: 'file', path: this.#node.adminKeyPath } });
  }

  /** Subscribes to the event stream; the promise it returns prints the agent's log lines until the session stops. */
  async #followLogs(client: ApiClient): Promise<{ readonly done: Promise<void> }> {
    let stream: AsyncGenerator<ServerEvent>;
    try {
      stream = await client.events('agent.log', this.#stop.signal);
    } catch (e) {
      if (this.#stop.signal.aborted) return { done: Promise.resolve() };
      throw e;
    }
    // Wrapped: an async function would wait for a promise it returns.
    return { done: this.#printLogs(client, stream) };
  }

  async #printLogs(client: ApiClient, stream: AsyncGenerator<ServerEvent>): Promise<void> {
    const name = this.#project.name;
    try {
      for await (const ev of stream) {
        const d = ev.data as Record<string, unknown> | null;
        if (d === null || typeof d !== 'object' || d['agent'] !== name) continue;
        const level = typeof d['level'] === 'string' ? d['level'] : 'info';
        const text = typeof d['text'] === 'string' ? d['text'] : JSON.stringify(d);
        this.#out.line('agent', `${level.toUpperCase().padEnd(5)} ${text}`, { level, agent: name });
      }
      if (!this.#stop.signal.aborted) this.#die(new CliError(`the node at ${client.connection.apiUrl} closed the event stream`, { code: 'CAXTON_CLI_STREAM', hint: 'The node stopped or restarted; run caxton dev again once it is up.' }));
    } catch (e) {
      if (this.#stop.signal.aborted) return;
      this.#die(e instanceof CliError ? e : new CliError(`the event stream broke off: ${(e as Error).message}`, { code: 'CAXTON_CLI_STREAM' }));
    }
  }

  #watch(): void {
    const p = this.#project;
    this.#watcher = new ProjectWatcher({
      paths: p.watch,
      ignore: projectIgnore(p, [resolve(p.dir, DEV_DATA_DIR)]),
      onChange: (changed) => this.#changed(changed),
      onWarning: (text) => this.#out.line('dev', `warning: ${text}`),
    });
    this.#out.line('dev', `watching ${p.watch.map((w) => this.#rel(w)).join(', ')}; Ctrl-C stops`, { event: 'watching', paths: p.watch });
  }

  #changed(changed: readonly string[]): void {
    if (this.#stop.signal.aborted) return;
    if (this.#building !== undefined) {
      this.#again.push(...changed);
      return;
    }
    void this.#cycle(changed);
  }

  /** One build, then a deploy or upgrade; then once more if something changed meanwhile. */
  #cycle(changed: readonly string[]): Promise<void> {
    const run = async () => {
      let next = changed;
      do {
        this.#again = [];
        await this.#buildAndDeploy(next);
        next = this.#again;
      } while (next.length > 0 && !this.#stop.signal.aborted);
    };
    this.#building = run().finally(() => (this.#building = undefined));
    return this.#building;
  }

  async #buildAndDeploy(changed: readonly string[]): Promise<void> {
    const p = this.#project;
    // Named: what is still there (an editor's or sed's temporary file came and went), else all.
    const unique = [...new Set(changed)];
    const present = unique.filter((c) => existsSync(c));
    const shown = present.length > 0 ? present : unique;
    const what = shown.length === 0 ? '' : `${shown.slice(0, 3).map((c) => this.#rel(c)).join(', ')}${shown.length > 3 ? ` and ${shown.length - 3} more` : ''} changed: `;
    this.#out.line('dev', `${what}building (${p.build.join(' ')})`, { event: 'build', changed });
    const r: BuildResult = await buildProject(p, { signal: this.#stop.signal, onLine: (line) => this.#out.line('build', line) });
    if (!r.ok) {
      if (r.aborted) return;
      const keeps = this.#running === undefined ? 'nothing is deployed yet' : `module sha256:${this.#running.slice(0, 12)} keeps running`;
      this.#out.line('dev', `build failed: ${r.reason}; ${keeps}; waiting for the next change`, { event: 'build_failed', reason: r.reason });
      return;
    }
    if (this.#stop.signal.aborted) return;
    if (r.hash === this.#running) {
      this.#out.line('dev', `built in ${seconds(r.ms)}: module sha256:${r.hash.slice(0, 12)} is the one running, nothing to upgrade`, { event: 'unchanged', module: r.hash });
      return;
    }
    await this.#deploy(r.wasm, r.hash, r.ms);
  }

  async #deploy(wasm: Uint8Array, hash: string, buildMs: number): Promise<void> {
    const client = this.#client as ApiClient;
    const name = this.#project.name;
    const module = Buffer.from(wasm.buffer, wasm.byteOffset, wasm.byteLength).toString('base64');
    const size = `${(wasm.byteLength / 1024).toFixed(1)} KiB, built in ${seconds(buildMs)}`;
    try {
      if (this.#running === undefined) {
        try {
          const a = await client.post<AgentView>('/agents', { name, module, start: true }, { timeoutMs: 180_000 });
          this.#running = a.module;
          this.#out.line('dev', `deployed ${name}: module sha256:${a.module} (${size})`, { event: 'deployed', agent: name, module: a.module });
          return;
        } catch (e) {
          if (!(e instanceof CliError) || e.code !== 'CAXTON_ERR_AGENT_EXISTS') throw e;
        }
        // Deployed before (an earlier dev session, or by hand): upgraded like after a change, state kept.
        const a = await client.get<AgentDetail>(agentPath(name));
        if (a.module === hash && a.state === 'running') {
          this.#running = hash;
          this.#out.line('dev', `${name} already runs module sha256:${hash} (${size})`, { event: 'deployed', agent: name, module: hash });
          return;
        }
      }
      const a = await client.post<AgentView>(agentPath(name, '/upgrade'), { module, strategy: 'immediate' }, { timeoutMs: 300_000 });
      this.#running = a.module;
      this.#out.line('dev', `upgraded ${name} (immediate, state kept): module sha256:${a.module} (${size})`, { event: 'upgraded', agent: name, module: a.module });
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      if (FATAL_CODES.has(e.code) || this.#stop.signal.aborted) {
        if (!this.#stop.signal.aborted) this.#die(e);
        return;
      }
      // The node refused the module (invalid, its start trapped): the old version keeps running.
      const keeps = this.#running === undefined ? 'nothing is deployed yet' : `module sha256:${this.#running.slice(0, 12)} keeps running`;
      this.#out.line('dev', `the node refused module sha256:${hash.slice(0, 12)}: ${e.message} [${e.code}]${e.hint === undefined ? '' : ` (${e.hint})`}; ${keeps}; waiting for the next change`, { event: 'deploy_failed', code: e.code, module: hash });
    }
  }

  #rel(path: string): string {
    const r = relative(process.cwd(), path);
    return r === '' ? '.' : r.startsWith('..') ? path : r;
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
