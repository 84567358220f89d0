/**
 * Deployments: the operator's agents, kept durable. Every change is written to SQLite before the
 * caller hears it succeeded, and `restore()` brings the node back to that state after a restart or a
 * kill -9: the same agents, from the same modules, with the same ids, config and running state.
 *
 * The pool holds what runs now; this holds what should run. An agent that is deployed but not in the
 * pool (stopped by the operator, or failed to come back at start) is still listed, as stopped/failed.
 */
import { randomUUID } from 'node:crypto';
import { CaxtonError } from '../errors.js';
import type { AgentInfo, AgentPool } from '../sandbox/index.js';
import type { UpgradeOptions } from '../sandbox/pool.js';
import type { AgentPriority, Deployment, DeploymentStore, DesiredState } from '../storage/index.js';
import type { AgentStateStore } from '../storage/agent-state-store.js';
import type { Logger } from '../observability/logger.js';

export const PRIORITIES: readonly AgentPriority[] = ['low', 'normal', 'high', 'critical'];

export interface DeployRequest {
  readonly name: string;
  readonly module: Uint8Array;
  readonly config?: unknown;
  readonly priority?: AgentPriority;
  /** Start taking messages at once. @default true */
  readonly start?: boolean;
  /** The node it was placed on with target_node (this node): kept as its pin (Deployment.pin). */
  readonly pin?: string;
}

/** A deployed agent: its deployment and what the pool says about it now (undefined: not running). */
export interface DeployedAgent {
  readonly deployment: Deployment;
  readonly live: AgentInfo | undefined;
  /** Why it is not running after a restore, when it failed to come back. */
  readonly restoreError: string | undefined;
}

/**
 * What changed in a deployment: the cluster layer pushes the row to the agent's replicas. `deployed`
 * is set on the put of a new deployment made here (deploy), once per deploy: not on an upgrade, a
 * change of state or an adoption (a move).
 */
export type DeploymentChange =
  | { readonly type: 'put'; readonly name: string; readonly deployed?: { readonly module: string; readonly priority: AgentPriority } }
  | { readonly type: 'removed'; readonly name: string };

export class Deployments {
  readonly #restoreErrors = new Map<string, string>();
  readonly #listeners: ((c: DeploymentChange) => void)[] = [];

  constructor(
    readonly pool: AgentPool,
    readonly store: DeploymentStore,
    readonly state: AgentStateStore,
    readonly logger: Logger,
    readonly maxAgents = Infinity,
    /** Told how long each start took, from the spawn request (module admitted) to agent_init returned, seconds. */
    readonly observeStart: (seconds: number) => void = () => undefined,
  ) {
    // Whatever made the pool swap modules (an immediate, graceful or promoted canary upgrade), the
    // deployment follows, so a restart brings back the version that was running.
    pool.onEvent((e) => {
      if (e.type === 'agent_upgraded' && store.get(e.name) !== undefined) {
        store.setModule(e.name, e.to);
        this.#changed({ type: 'put', name: e.name });
      }
      // Kept so that the count an agent reads in agent_init goes on across node restarts.
      if (e.type === 'agent_started') store.setRestarts(e.name, e.restarts);
    });
  }

  /** Brings back every deployment after a start. Failures are logged and kept, never fatal. */
  async restore(): Promise<{ restored: number; failed: number }> {
    this.store.dropUnusedModules();
    let restored = 0;
    let failed = 0;
    for (const d of this.store.list()) {
      if (d.desiredState === 'stopped') continue;
      try {
        // Coming back after the node stopped is a restart too, as the agent sees it.
        await this.#spawn(d, d.desiredState === 'running', d.restarts + 1);
        if (d.desiredState === 'suspended') this.pool.suspend(d.name);
        restored++;
      } catch (e) {
        failed++;
        const why = (e as Error).message;
        this.#restoreErrors.set(d.name, why);
        this.logger.error({ agent: d.name, err: why }, 'deployed agent did not come back at start');
      }
    }
    return { restored, failed };
  }

  /** Admits the module, records the deployment, then starts the agent. */
  async deploy(req: DeployRequest): Promise<DeployedAgent> {
    // mcp:<server> names the node's MCP servers (src/integrations/mcp): an agent there would take their messages.
    if (req.name.startsWith('mcp:')) {
      throw new CaxtonError('CAXTON_ERR_AGENT_NAME', `agent name ${JSON.stringify(req.name)} is not allowed: names starting with "mcp:" are the node's MCP servers (docs/tools.md)`, { agent: req.name });
    }
    this.#checkRoom(req.name);
    const cached = await this.pool.admit(req.module); // throws on a bad module: nothing recorded
    // Admission ran in another thread: a deploy of the same name, or one that took the last place,
    // may have finished meanwhile.
    this.#checkRoom(req.name);
    const deployment = this.store.add(
      {
        name: req.name,
        id: randomUUID(),
        module: cached.hash,
        config: JSON.stringify(req.config ?? {}),
        priority: req.priority ?? 'normal',
        desiredState: req.start === false ? 'suspended' : 'running',
        ...(req.pin === undefined ? {} : { pin: req.pin }),
      },
      req.module,
    );
    try {
      await this.#spawn(deployment, req.start !== false, 0);
      if (req.start === false) this.pool.suspend(req.name);
    } catch (e) {
      // A first start that fails is the deployer's problem, reported at once: nothing stays deployed.
      this.store.remove(req.name);
      throw e;
    }
    this.#changed({ type: 'put', name: req.name, deployed: { module: deployment.module, priority: deployment.priority } });
    return this.get(req.name) as DeployedAgent;
  }

  /**
   * Takes over an agent deployed on another node (a failover or a live move): records its deployment as
   * it was there, at its new ownership epoch, and starts it as its desired state says. Its module must be
   * stored already (DeploymentStore.putModule) and its state written. A start that fails leaves nothing.
   */
  /** `seen`: at-least-once message ids the adopted state already applied (the new copy drops them). */
  async adopt(d: Deployment, seen?: readonly string[]): Promise<DeployedAgent> {
    this.#checkRoom(d.name);
    this.store.adopt(d);
    try {
      if (d.desiredState !== 'stopped') {
        await this.#spawn(d, d.desiredState === 'running', d.restarts + 1, seen);
        if (d.desiredState === 'suspended') this.pool.suspend(d.name);
      }
    } catch (e) {
      this.store.remove(d.name);
      throw e;
    }
    this.#changed({ type: 'put', name: d.name });
    return this.require(d.name);
  }

  /**
   * Lets an agent go to another node: takes it out of the pool and forgets its deployment here. Its
   * state is left in the database for the caller (a move reads it, then drops it). No 'removed' change
   * is announced: the agent lives on, elsewhere.
   */
  async release(name: string): Promise<void> {
    if (this.pool.agent(name) !== undefined) await this.pool.remove(name);
    this.store.remove(name);
    this.#restoreErrors.delete(name);
  }

  /** The agent's ownership epoch here (undefined: not deployed here). */
  epoch(name: string): number | undefined {
    return this.store.get(name)?.epoch;
  }

  /** Subscribes to deployment changes made here (deploy, upgrade, desired state, remove, adopt). */
  onChange(fn: (c: DeploymentChange) => void): () => void {
    this.#listeners.push(fn);
    return () => {
      const i = this.#listeners.indexOf(fn);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  #changed(c: DeploymentChange): void {
    for (const fn of this.#listeners) {
      try {
        fn(c);
      } catch (e) {
        // a listener's failure (a replica that cannot be reached) must not fail the operation
        this.logger.warn({ agent: c.name, err: e }, 'deployment change listener failed');
      }
    }
  }

  get(name: string): DeployedAgent | undefined {
    const deployment = this.store.get(name);
    if (deployment === undefined) return undefined;
    return { deployment, live: this.pool.agent(name), restoreError: this.#restoreErrors.get(name) };
  }

  /** Like `get`, but a missing agent is a CAXTON_ERR_AGENT_NOT_FOUND. */
  require(name: string): DeployedAgent {
    const a = this.get(name);
    if (a === undefined) throw new CaxtonError('CAXTON_ERR_AGENT_NOT_FOUND', `no agent named ${name}`, { agent: name });
    return a;
  }

  list(): DeployedAgent[] {
    return this.store.list().map((deployment) => ({ deployment, live: this.pool.agent(deployment.name), restoreError: this.#restoreErrors.get(deployment.name) }));
  }

  count(): number {
    return this.store.count();
  }

  suspend(name: string): DeployedAgent {
    this.require(name);
    this.pool.suspend(name);
    this.#desire(name, 'suspended');
    return this.require(name);
  }

  resume(name: string): DeployedAgent {
    this.require(name);
    this.pool.resume(name);
    this.#desire(name, 'running');
    return this.require(name);
  }

  async stop(name: string, options: { graceful?: boolean; drainTimeoutMs?: number } = {}): Promise<DeployedAgent> {
    this.require(name);
    // Desired first: a crash during the drain must not bring the agent back.
    this.#desire(name, 'stopped');
    if (this.pool.agent(name) === undefined) {
      throw new CaxtonError('CAXTON_ERR_AGENT_STATE', `agent ${name} is already stopped`, { agent: name, state: 'stopped' });
    }
    await this.pool.stop(name, options);
    return this.require(name);
  }

  /** Starts an agent again: a stopped or failed one, one that never came back at start, or a running one (stop, then start). */
  async restart(name: string): Promise<DeployedAgent> {
    const { deployment } = this.require(name);
    if (this.pool.agent(name) === undefined) {
      await this.#spawn(deployment, true, deployment.restarts + 1);
    } else {
      await this.pool.restart(name);
    }
    this.#restoreErrors.delete(name);
    this.#desire(name, 'running');
    return this.require(name);
  }

  /**
   * Upgrades to a new module. The bytes are stored first; the deployment points at them once the pool
   * has swapped (at once, after the drain, or when a canary is promoted).
   */
  async upgrade(name: string, bytes: Uint8Array, options: UpgradeOptions): Promise<{ agent: DeployedAgent; done: Promise<AgentInfo> }> {
    this.require(name);
    const cached = await this.pool.admit(bytes);
    this.store.putModule(cached.hash, bytes);
    const done = this.pool.upgrade(name, cached.hash, options);
    if (options.strategy !== 'canary') {
      await done;
      return { agent: this.require(name), done };
    }
    // A canary runs for minutes: answer once it runs (or failed to start).
    done.catch(() => {});
    await new Promise<void>((resolve, reject) => {
      const off = this.pool.onEvent((e) => {
        if (e.type === 'canary_step' && e.name === name) {
          off();
          resolve();
        }
      });
      done.then(
        () => (off(), resolve()),
        (err: unknown) => (off(), reject(err)),
      );
    });
    return { agent: this.require(name), done };
  }

  /** Forgets an agent: stops it, deletes its deployment and its key-value state. */
  async remove(name: string): Promise<void> {
    this.require(name);
    this.store.setDesiredState(name, 'stopped');
    if (this.pool.agent(name) !== undefined) await this.pool.remove(name);
    this.store.remove(name);
    this.state.clear(name);
    this.#restoreErrors.delete(name);
    this.#changed({ type: 'removed', name });
  }

  #checkRoom(name: string): void {
    if (this.store.get(name) !== undefined || this.pool.agent(name) !== undefined) {
      throw new CaxtonError('CAXTON_ERR_AGENT_EXISTS', `an agent named ${name} already exists on this node`, { agent: name });
    }
    if (this.store.count() >= this.maxAgents) {
      throw new CaxtonError('CAXTON_ERR_AGENT_LIMIT', `this node already has ${this.maxAgents} agents (runtime.max_agents)`, { limit: this.maxAgents });
    }
  }

  #desire(name: string, state: DesiredState): void {
    this.store.setDesiredState(name, state);
    this.#changed({ type: 'put', name });
  }

  async #spawn(d: Deployment, start: boolean, restarts: number, seen?: readonly string[]): Promise<AgentInfo> {
    let hash = d.module;
    if (this.pool.modules.get(hash) === undefined) {
      const bytes = this.store.module(hash);
      if (bytes === undefined) throw new CaxtonError('CAXTON_ERR_STORAGE_UNAVAILABLE', `module ${hash} of agent ${d.name} is missing from the database`, { agent: d.name });
      hash = (await this.pool.admit(bytes)).hash;
    }
    const t0 = performance.now();
    const info = await this.pool.spawn({ name: d.name, id: d.id, module: hash, config: JSON.parse(d.config) as unknown, start, restarts, ...(seen === undefined ? {} : { seen }) });
    this.observeStart((performance.now() - t0) / 1000);
    return info;
  }
}
