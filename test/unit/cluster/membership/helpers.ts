/** Helpers for membership behaviour tests: a recording delegate, fast configs, a test cluster. */
import { lanConfig, type MembershipConfig } from '../../../../src/cluster/membership/config.js';
import type { Member, MemberEvent, MemberStatus, MembershipDelegate } from '../../../../src/cluster/membership/delegate.js';
import { Membership } from '../../../../src/cluster/membership/membership.js';
import { TransmitLimitedQueue } from '../../../../src/cluster/membership/broadcast-queue.js';
import type { MembershipLogger } from '../../../../src/cluster/membership/log.js';
import { MemoryNetwork, type MemoryNetworkOptions, type MemoryTransport } from './memory-transport.js';

export class RecordingDelegate implements MembershipDelegate {
  meta: Uint8Array = new Uint8Array(0);
  state: Uint8Array = new Uint8Array(0);
  readonly messages: Uint8Array[] = [];
  readonly remoteStates: { bytes: Uint8Array; join: boolean }[] = [];
  /** User broadcasts, retransmitted like Serf's own queue does. */
  readonly outgoing = new TransmitLimitedQueue({ retransmitMult: 4, numNodes: () => 8 });
  readonly pings: { name: string; rttMs: number }[] = [];

  /** Returns the meta as set, even above the limit (so the limit check is exercised). */
  nodeMeta(): Uint8Array {
    return this.meta;
  }
  /** Records a user message and, the first time it is seen, gossips it on (as Serf does with events). */
  notifyMessage(bytes: Uint8Array): void {
    const key = Buffer.from(bytes).toString('hex');
    const seen = this.messages.some((m) => Buffer.from(m).toString('hex') === key);
    this.messages.push(bytes);
    if (!seen) this.broadcast(bytes);
  }
  broadcast(bytes: Uint8Array): void {
    this.outgoing.queueBroadcast({ message: bytes });
  }
  getBroadcasts(overhead: number, limit: number): Uint8Array[] {
    return this.outgoing.getBroadcasts(overhead, limit);
  }
  localState(): Uint8Array {
    return this.state;
  }
  mergeRemoteState(bytes: Uint8Array, join: boolean): void {
    this.remoteStates.push({ bytes, join });
  }
  ackPayload(): Uint8Array {
    return new Uint8Array(0);
  }
  notifyPingComplete(member: Member, rttMs: number): void {
    this.pings.push({ name: member.name, rttMs });
  }
}

/**
 * Short timings for tests: probes every 100 ms (timeout 40 ms), gossip every 20 ms, suspicion
 * min = 3 × 100 = 300 ms (N ≤ 10), max 4 × that.
 */
export function fastConfig(name: string, overrides: Partial<MembershipConfig> = {}): MembershipConfig {
  return {
    ...lanConfig(name),
    probeIntervalMs: 100,
    probeTimeoutMs: 40,
    indirectChecks: 3,
    suspicionMult: 3,
    suspicionMaxTimeoutMult: 4,
    gossipIntervalMs: 20,
    gossipNodes: 3,
    retransmitMult: 4,
    pushPullIntervalMs: 1_000,
    gossipToTheDeadMs: 1_000,
    tcpTimeoutMs: 300,
    reconnectIntervalMs: 200,
    reconnectTimeoutMs: 60_000,
    ...overrides,
  };
}

export interface TestNode {
  readonly name: string;
  readonly host: string;
  readonly m: Membership;
  readonly transport: MemoryTransport;
  readonly delegate: RecordingDelegate;
  readonly events: MemberEvent[];
}

const quiet: MembershipLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Logs to stderr when MEMBERSHIP_DEBUG is set (e.g. MEMBERSHIP_DEBUG=n1). */
function loggerFor(name: string): MembershipLogger {
  const want = process.env['MEMBERSHIP_DEBUG'];
  if (want === undefined || (want !== '*' && !want.split(',').includes(name))) return quiet;
  const line = (lvl: string) => (obj: object, msg: string) => {
    process.stderr.write(`${Date.now() % 100000} ${name} ${lvl} ${msg} ${JSON.stringify(obj, (_k, v: unknown) => (v instanceof Error ? v.message : v))}\n`);
  };
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

export class TestCluster {
  readonly network: MemoryNetwork;
  /** The latest node started under each name (a restart or an impostor replaces the entry). */
  readonly nodes = new Map<string, TestNode>();
  /** Every node ever started, for shutdownAll. */
  readonly #all: TestNode[] = [];
  #hostSeq = 0;

  constructor(options: MemoryNetworkOptions = {}) {
    this.network = new MemoryNetwork(options);
  }

  /** Starts a node on its own host (10.0.0.N, or `host`). */
  async start(name: string, overrides: Partial<MembershipConfig> = {}, host?: string): Promise<TestNode> {
    const h = host ?? `10.0.0.${++this.#hostSeq}`;
    const transport = this.network.transport(h);
    const delegate = new RecordingDelegate();
    const m = await Membership.create(fastConfig(name, overrides), transport, delegate, { logger: loggerFor(name) });
    const events: MemberEvent[] = [];
    m.onEvent((ev) => events.push(ev));
    const node: TestNode = { name, host: h, m, transport, delegate, events };
    this.#all.push(node);
    const existing = this.nodes.get(name);
    if (existing === undefined || existing.m.isShutdown) this.nodes.set(name, node);
    return node;
  }

  node(name: string): TestNode {
    const n = this.nodes.get(name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  }

  /** Starts n nodes n1..nN and joins each to n1. */
  async startJoined(n: number, overrides: Partial<MembershipConfig> = {}): Promise<TestNode[]> {
    const nodes: TestNode[] = [];
    for (let i = 1; i <= n; i++) nodes.push(await this.start(`n${i}`, overrides));
    const seed = nodes[0] as TestNode;
    for (const node of nodes.slice(1)) {
      const joined = await node.m.join([seed.transport.local]);
      if (joined !== 1) throw new Error(`${node.name} failed to join`);
    }
    return nodes;
  }

  /** What `observer` thinks of `target`. */
  status(observer: string, target: string): MemberStatus | undefined {
    return this.node(observer).m.member(target)?.status;
  }

  /** Running (not shut down) nodes. */
  running(): TestNode[] {
    return [...this.nodes.values()].filter((n) => !n.m.isShutdown);
  }

  /** Every running node other than those listed sees `target` with `status`. */
  allSee(target: string, status: MemberStatus | undefined, except: readonly string[] = []): boolean {
    return this.running()
      .filter((n) => !except.includes(n.name))
      .every((n) => n.m.member(target)?.status === status);
  }

  /** Every running node sees every running node alive. */
  converged(): boolean {
    const running = this.running();
    return running.every((o) => running.every((t) => o.m.member(t.name)?.status === 'alive'));
  }

  /** A table of who sees what, for failure messages. */
  view(): string {
    return this.running()
      .map((o) => `${o.name}: ${o.m.members().map((m) => `${m.name}=${m.status}@${m.incarnation}`).join(' ')}`)
      .join('\n');
  }

  async shutdownAll(): Promise<void> {
    await Promise.all(this.#all.map((n) => n.m.shutdown()));
  }
}

/** Polls `pred` every 10 ms until true; throws with `what()` after timeoutMs. Resolves with the elapsed ms. */
export async function waitFor(pred: () => boolean, timeoutMs: number, what: () => string): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (pred()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what()}`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
