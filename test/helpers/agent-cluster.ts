/**
 * N in-process nodes for tests of the agents' cluster layer (src/agents/cluster-agents.ts): each node
 * has its own SQLite file, a real AgentPool (one worker thread), real Deployments, and a MemoryPeers on
 * one MemoryNetwork. Each node has its own view of the members (a test fails or isolates a node in
 * some views and not others, as a partition would).
 *
 * Routing by name stands in for issue 11's router (another branch) and follows the contract
 * src/agents/handoff.ts states for it: held for an arriving agent → a local agent that takes it → the
 * handoff's redirect → the node hosting the agent (looked up here across the test's nodes, where the
 * real router asks the directory), posted over Peers as `test.msg` so that partitions and downed
 * nodes apply. Replies to the test's clients travel the same way (the pools' Directory).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { AgentPool } from '../../src/sandbox/index.js';
import { Deployments } from '../../src/agents/deployments.js';
import { ClusterAgents } from '../../src/agents/cluster-agents.js';
import type { AgentsEvent, ReplicaState } from '../../src/agents/cluster-events.js';
import { DeploymentStore, openDatabase, SqliteAgentStateStore, type AgentSnapshot, type SqliteDatabase } from '../../src/storage/index.js';
import { createLogger } from '../../src/observability/logger.js';
import type { MemberView } from '../../src/agents/ownership.js';
import type { Directory, RemoteLink } from '../../src/messaging/directory.js';
import { MemoryNetwork, type MemoryPeers } from './memory-peers.js';
import { agentWasm, type Msg } from './agents.js';
import { tempDir } from './tmp.js';

export interface TestNode {
  readonly name: string;
  readonly dir: string;
  readonly db: SqliteDatabase;
  readonly pool: AgentPool;
  readonly deployments: Deployments;
  readonly peers: MemoryPeers;
  readonly agents: ClusterAgents;
  readonly events: AgentsEvent[];
  /** Messages addressed to this node's client (`client-<node>`). */
  readonly inbox: Msg[];
  up: boolean;
}

export interface AgentClusterOptions {
  readonly drainTimeoutMs?: number;
  /** State replication for failovers, per node. */
  readonly replicaState?: (node: string) => ReplicaState;
  /** Whether a node starts again after a cluster stop (ClusterAgentsOptions.startHeld), per node. */
  readonly startHeld?: (node: string) => () => boolean;
}

const quiet = createLogger({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent', destination: process.env['TEST_LOG_LEVEL'] ? process.stderr : new Writable({ write: (_c, _e, cb) => cb() }) });

export class AgentCluster {
  readonly net = new MemoryNetwork();
  readonly nodes = new Map<string, TestNode>();
  /** view[observer][member] = status; tags[member] = its tags (gossip carries them to every view). */
  readonly view = new Map<string, Map<string, string>>();
  readonly tags = new Map<string, Record<string, string>>();
  /** Messages the test router gave up on (forwarded twice and still nowhere to go): a lost message. */
  readonly dropped: { at: string; to: string; json: string }[] = [];
  readonly #tmp = tempDir('caxton-agent-cluster-');
  #seq = 0;

  constructor(readonly options: AgentClusterOptions = {}) {}

  static async start(names: readonly string[], options: AgentClusterOptions = {}): Promise<AgentCluster> {
    const c = new AgentCluster(options);
    for (const n of names) await c.addNode(n);
    return c;
  }

  node(name: string): TestNode {
    const n = this.nodes.get(name);
    if (n === undefined) throw new Error(`no test node ${name}`);
    return n;
  }

  /** Starts a node (a fresh one, or again on its old data dir when `keepData`), alive in every view. */
  async addNode(name: string, keepData = true): Promise<TestNode> {
    const dir = join(this.#tmp.path, name);
    if (!keepData) rmSync(dir, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true });
    const databasePath = join(dir, 'caxton.db');
    const db = openDatabase(databasePath);
    const peers = this.net.add(name);
    const directory: Directory = {
      nodeFor: (to) => this.#target(name, to),
      capabilityNodes: () => [],
      topicNodes: () => [],
    };
    // The pool's router counts the hop already; route() counts it again on arrival.
    const link: RemoteLink = { deliver: (node, to, json, _priority, hops) => peers.post(node, 'test.msg', { to, json, hops: hops - 1 }) };
    const pool = await AgentPool.start({ databasePath, workers: 1, directory, link });
    const deployments = new Deployments(pool, new DeploymentStore(db), new SqliteAgentStateStore(db), quiet);
    const events: AgentsEvent[] = [];
    const inbox: Msg[] = [];
    pool.addEndpoint({ accepts: (to) => to === `client-${name}`, deliver: (_f, _t, json) => void inbox.push(JSON.parse(json) as Msg) });
    this.tags.set(name, { role: 'caxton' });
    const replicaState = this.options.replicaState?.(name);
    const agents = new ClusterAgents({
      peers,
      deployments,
      db,
      dataDir: dir,
      members: () => this.members(name),
      announce: async (out) => {
        const t = { ...(this.tags.get(name) ?? {}) };
        if (out) t['isolated'] = '1';
        else delete t['isolated'];
        this.tags.set(name, t);
      },
      deliverLocal: (to, json, priority) => pool.deliver(to, json, priority),
      reroute: (to, json) => this.route(name, to, json),
      ...(replicaState === undefined ? {} : { replicaState }),
      ...(this.options.startHeld === undefined ? {} : { startHeld: this.options.startHeld(name) }),
      logger: quiet,
      drainTimeoutMs: this.options.drainTimeoutMs ?? 5_000,
      forwardMs: 60_000,
      callTimeoutMs: 10_000,
    });
    agents.onEvent((e) => events.push(e));
    peers.onPost('test.msg', (_from, body) => {
      const b = body as { to: string; json: string; hops: number };
      this.route(name, b.to, b.json, b.hops + 1);
    });
    const node: TestNode = { name, dir, db, pool, deployments, peers, agents, events, inbox, up: true };
    this.nodes.set(name, node);
    this.net.up(name);
    for (const [observer, v] of this.view) if (observer !== name) v.set(name, 'alive');
    this.view.set(name, new Map([...this.nodes.keys()].map((n) => [n, this.nodes.get(n)?.up === false ? 'failed' : 'alive'])));
    return node;
  }

  members(observer: string): MemberView[] {
    const v = this.view.get(observer) ?? new Map<string, string>();
    return [...v].map(([name, status]) => ({ name, status, tags: this.tags.get(name) ?? {} }));
  }

  /** kill -9 of a node: off the network, its pool and database gone; other views still see it alive until failView(). */
  async kill(name: string): Promise<void> {
    const n = this.node(name);
    n.up = false;
    this.net.down(name);
    n.agents.close();
    await n.pool.close();
    n.db.close();
  }

  /** Marks `member` failed in the views of `observers` (default: every other node). */
  failView(member: string, observers: readonly string[] = [...this.nodes.keys()].filter((n) => n !== member)): void {
    for (const o of observers) this.view.get(o)?.set(member, 'failed');
  }

  aliveView(member: string, observers: readonly string[] = [...this.nodes.keys()].filter((n) => n !== member)): void {
    for (const o of observers) this.view.get(o)?.set(member, 'alive');
  }

  /** Runs a view change on every live node (as each would on a membership event) and waits for all. */
  async viewChange(names: readonly string[] = [...this.nodes.values()].filter((n) => n.up).map((n) => n.name)): Promise<void> {
    await Promise.all(names.map((n) => this.node(n).agents.viewChanged()));
  }

  /** Deploys a built example agent on `node` (`pinned`: as target_node does, pinned to `node`). */
  async deploy(node: string, name: string, kind = 'counter', pinned = false): Promise<void> {
    await this.node(node).deployments.deploy({ name, module: agentWasm(kind), ...(pinned ? { pin: node } : {}) });
  }

  /** The live nodes that run `agent` now. */
  hosts(agent: string): string[] {
    return [...this.nodes.values()].filter((n) => n.up && n.pool.agent(agent) !== undefined && n.pool.agent(agent)?.state !== 'stopped').map((n) => n.name);
  }

  /** Sends from `client-<node>` on `node`; returns the reply_with. */
  send(node: string, to: string, performative: string, content: unknown): string {
    const replyWith = `r${++this.#seq}`;
    const json = JSON.stringify({ performative, sender: `client-${node}`, receiver: to, content, reply_with: replyWith, conversation_id: `c-${to}` });
    this.route(node, to, json);
    return replyWith;
  }

  async waitReply(node: string, replyWith: string, timeoutMs = 10_000): Promise<Msg> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = this.node(node).inbox.find((x) => x.in_reply_to === replyWith);
      if (m !== undefined) return m;
      if (Date.now() > end) throw new Error(`no reply to ${replyWith} on ${node} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async request(node: string, to: string, content: unknown): Promise<Msg> {
    return this.waitReply(node, this.send(node, to, 'request', content));
  }

  async count(node: string, agent: string): Promise<number> {
    const m = await this.request(node, agent, { op: 'get' });
    return (m.content as { count: number }).count;
  }

  /**
   * Routing by name at `at`, as the module doc says. A message that already crossed the network twice
   * and still has nowhere to go here is dropped (recorded in `dropped`): as with the real router, a
   * node forwards what it does not host once, and a message must not bounce between nodes.
   */
  route(at: string, to: string, json: string, hops = 0): void {
    const n = this.node(at);
    if (!n.up) return;
    if (n.agents.gate.holding(to)) {
      if (n.agents.gate.hold(to, json, 1)) return;
    }
    if (n.pool.deliver(to, json)) return;
    if (to === `client-${at}`) {
      n.pool.route(to, json);
      return;
    }
    const target = this.#target(at, to);
    if (target === undefined || hops >= 2) {
      this.dropped.push({ at, to, json });
      return;
    }
    if (!n.peers.post(target, 'test.msg', { to, json, hops })) throw new Error(`test router: ${at} could not post to ${target} for ${to}`);
  }

  /** The node a message for `to` goes to from `at`, as a directory would answer (never `at`). */
  #target(at: string, to: string): string | undefined {
    const n = this.node(at);
    const target = to.startsWith('client-') ? to.slice('client-'.length) : (n.agents.gate.redirectOf(to) ?? this.#hostOf(to, at));
    return target === at ? undefined : target;
  }

  /** The node that hosts `agent` (holding it during a move counts), as a directory would answer. */
  #hostOf(agent: string, except: string): string | undefined {
    for (const n of this.nodes.values()) {
      if (!n.up || n.name === except) continue;
      if (n.agents.gate.holding(agent) || n.deployments.store.get(agent) !== undefined) return n.name;
    }
    return undefined;
  }

  async close(): Promise<void> {
    for (const n of this.nodes.values()) {
      if (!n.up) continue;
      n.agents.close();
      await n.pool.close();
      n.db.close();
    }
    this.#tmp.cleanup();
  }
}

/**
 * Stands in for state replication's StateReplicator (issue 11 point 5, another branch) behind the
 * ReplicaState seam: holds, per agent, the counter value the test saw acknowledged (what sync
 * replication guarantees the replica has), and fences like the real one (epoch = max seen + 1).
 */
export class AckedCounters {
  readonly acked = new Map<string, number>();
  readonly #epochs = new Map<string, number>();
  readonly promoted: { node: string; agent: string; epoch: number }[] = [];
  /** setReplicas calls: where each node said an agent's state goes now. */
  readonly replicaSets: { node: string; agent: string; replicas: readonly string[] }[] = [];

  forNode(node: string): ReplicaState {
    return {
      promote: async (agent, _replicas, minEpoch) => {
        const epoch = Math.max(minEpoch, this.#epochs.get(agent) ?? 0) + 1;
        this.#epochs.set(agent, epoch);
        this.promoted.push({ node, agent, epoch });
        const n = this.acked.get(agent);
        const snapshot: AgentSnapshot = { kv: n === undefined ? [] : [[Buffer.from('count').toString('base64'), Buffer.from(String(n)).toString('base64')]], timers: [], lastTimerId: 0 };
        return { epoch, snapshot };
      },
      setReplicas: (agent, replicas) => void this.replicaSets.push({ node, agent, replicas: [...replicas] }),
    };
  }
}
