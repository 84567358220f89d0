/**
 * Other nodes' agent lifecycle events on this node's event stream, only while someone here wants them.
 *
 * An event stream (GET /events) shows the events of the node that serves it; a dashboard or a
 * `caxton` follower open on node-1 must still see a deploy, a crash or a restart on node-3 as it
 * happens. Rather than every node sending every event to every node (log lines by the thousand a
 * second), a node that has at least one open stream whose filter takes agent lifecycle events holds a
 * lease on every other alive Caxton member (`events.watch`, renewed every RENEW_MS, LEASE_MS long,
 * cancelled when its last such stream closes). A node posts its own lifecycle events (RELAYED_TYPES:
 * no log lines, no per-message events) to the members holding a lease on it, at most
 * MAX_RELAYED_PER_SECOND a second, over the peer link (one-way posts, batched; a refused post is
 * dropped, never retried). The receiver checks the event and puts it on its stream with `node` set to
 * the sender. Relayed events are never relayed again.
 *
 * Log lines go only where asked for by agent: a stream opened for one agent's log lines (the dashboard's
 * detail of another node's agent) adds that agent to the lease (`logs`), and the node hosting it
 * relays its `agent.log` events, at most MAX_LOG_LINES_PER_SECOND a second.
 *
 * Cost: nothing while no stream is open; while one is, one small post per peer per RENEW_MS from the
 * watching node, and on each watched node one post per lifecycle event (or followed log line) per
 * watcher.
 */
import type { NodeName, PeerBody, Peers } from './peers.js';

export const EVENT_WATCH_POST = 'events.watch';
export const EVENT_RELAY_POST = 'events.relay';

/** The types a node relays to its watchers (docs/api.md, "Event stream"). */
export const RELAYED_TYPES = [
  'agent.deployed',
  'agent.removed',
  'agent.state',
  'agent.started',
  'agent.fault',
  'agent.start_failed',
  'agent.stopped',
  'agent.upgraded',
  'agent.canary_step',
  'agent.canary_rolled_back',
] as const;
const RELAYED = new Set<string>(RELAYED_TYPES);
/** What a node takes from a peer: the lifecycle events, and the log lines of the agents it asked for. */
const ACCEPTED = new Set<string>([...RELAYED_TYPES, 'agent.log']);

/** How long a lease lasts without renewal, ms: a watcher that died stops costing anything after this. */
export const LEASE_MS = 30_000;
/** How often a watching node renews its lease on every member (and so reaches members that joined since), ms. */
export const RENEW_MS = 10_000;
/** Events relayed per second by one node, whatever the number of watchers; more are dropped (a crash loop of many agents must not flood the link). */
export const MAX_RELAYED_PER_SECOND = 500;
/** Log lines relayed per second by one node (a chatty agent logs thousands): more are dropped. */
export const MAX_LOG_LINES_PER_SECOND = 200;
/** Agents whose log lines one lease may ask for. */
export const MAX_LOG_AGENTS = 20;
const MAX_FIELDS = 20;
const MAX_STRING = 4000;
/** Dropped events are logged at most this often, ms. */
const DROP_LOG_MS = 60_000;

export interface RelayedEvent {
  readonly type: string;
  readonly time: string;
  readonly [field: string]: unknown;
}

interface Member {
  readonly name: string;
  readonly status: string;
  readonly tags: Readonly<Record<string, string>>;
}

export interface EventRelayOptions {
  readonly peers: Peers;
  readonly members: () => readonly Member[];
  /** Puts a checked event from another node on this node's stream. */
  readonly emit: (e: RelayedEvent & { node: NodeName }) => void;
  readonly warn: (text: string) => void;
  readonly now?: () => number;
}

export class EventRelay {
  readonly #o: EventRelayOptions;
  readonly #now: () => number;
  /** Open streams here that want other nodes' lifecycle events. */
  #holders = 0;
  #renew: NodeJS.Timeout | undefined;
  /** Agents whose log lines streams here follow, with how many streams follow each. */
  readonly #logHolders = new Map<string, number>();
  /** Nodes holding a lease on this one: when it ends, and whose log lines they follow. */
  readonly #watchers = new Map<NodeName, { until: number; logs: ReadonlySet<string> }>();
  readonly #budget = { window: 0, lifecycle: 0, logs: 0 };
  #dropped = 0;
  #droppedLoggedAt = -Infinity;

  constructor(o: EventRelayOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    o.peers.onPost(EVENT_WATCH_POST, (from, body) => this.#watch(from, body));
    o.peers.onPost(EVENT_RELAY_POST, (from, body) => this.#received(from, body));
  }

  /**
   * A stream here wants other nodes' lifecycle events: leases are taken on every member now and kept
   * until every such stream has called the returned release.
   */
  want(): () => void {
    return this.#hold(() => {
      this.#holders++;
      return () => this.#holders--;
    });
  }

  /**
   * A stream here follows `agent`'s log lines (an agent of another node): its node relays them while
   * the lease lists it. At most MAX_LOG_AGENTS agents at once; more are not asked for.
   */
  wantLogs(agent: string): () => void {
    return this.#hold(() => {
      this.#logHolders.set(agent, (this.#logHolders.get(agent) ?? 0) + 1);
      return () => {
        const n = (this.#logHolders.get(agent) ?? 1) - 1;
        if (n === 0) this.#logHolders.delete(agent);
        else this.#logHolders.set(agent, n);
      };
    });
  }

  /** Takes a hold, leases at once when what is asked for changed, and releases once. */
  #hold(take: () => () => void): () => void {
    const before = this.#asked();
    const give = take();
    if (this.#asked() !== before) this.#leaseNow();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const was = this.#asked();
      give();
      if (this.#asked() !== was) this.#leaseNow();
    };
  }

  /** What the lease asks for, as a comparable key; '' when nothing. */
  #asked(): string {
    if (this.#holders === 0 && this.#logHolders.size === 0) return '';
    return JSON.stringify([...this.#logHolders.keys()].sort().slice(0, MAX_LOG_AGENTS));
  }

  /** Posts the lease (or its end) now, and keeps renewing it while anything is asked for. */
  #leaseNow(): void {
    const asked = this.#asked() !== '';
    this.#lease(asked ? LEASE_MS : 0);
    if (asked && this.#renew === undefined) {
      this.#renew = setInterval(() => this.#lease(LEASE_MS), RENEW_MS);
      this.#renew.unref();
    } else if (!asked && this.#renew !== undefined) {
      clearInterval(this.#renew);
      this.#renew = undefined;
    }
  }

  /** True while some node holds a lease on this one (the caller may skip building events otherwise). */
  get watched(): boolean {
    return this.#liveWatchers().length > 0;
  }

  /**
   * An event of this node: a lifecycle event goes to every node watching this one, an agent's log
   * line to those following that agent.
   */
  local(e: RelayedEvent): void {
    // Every agent event and log line of the pool comes through here: with nobody watching, nothing is made.
    if (this.#watchers.size === 0) return;
    const log = e.type === 'agent.log';
    if (!log && !RELAYED.has(e.type)) return;
    const to = this.#liveWatchers().filter(([, w]) => !log || w.logs.has(e['agent'] as string));
    if (to.length === 0) return;
    const now = this.#now();
    const second = Math.floor(now / 1000);
    if (second !== this.#budget.window) Object.assign(this.#budget, { window: second, lifecycle: 0, logs: 0 });
    const kind = log ? 'logs' : 'lifecycle';
    const max = log ? MAX_LOG_LINES_PER_SECOND : MAX_RELAYED_PER_SECOND;
    if (this.#budget[kind] >= max) {
      this.#dropped++;
      if (now - this.#droppedLoggedAt >= DROP_LOG_MS) {
        this.#droppedLoggedAt = now;
        this.#o.warn(`more than ${MAX_RELAYED_PER_SECOND} agent events or ${MAX_LOG_LINES_PER_SECOND} followed log lines a second: ${this.#dropped} not relayed to the nodes watching this one (their views still show the outcome at their next refresh)`);
      }
      return;
    }
    this.#budget[kind]++;
    for (const [node] of to) this.#o.peers.post(node, EVENT_RELAY_POST, e);
  }

  /** The watchers whose lease has not ended (ended ones are forgotten). */
  #liveWatchers(): [NodeName, { until: number; logs: ReadonlySet<string> }][] {
    if (this.#watchers.size === 0) return [];
    const now = this.#now();
    const live: [NodeName, { until: number; logs: ReadonlySet<string> }][] = [];
    for (const [node, w] of this.#watchers) {
      if (w.until > now) live.push([node, w]);
      else this.#watchers.delete(node);
    }
    return live;
  }

  /** Posts a lease of `ms` (0: cancelled), with the agents whose log lines are followed, to every other alive Caxton member. */
  #lease(ms: number): void {
    const logs = [...this.#logHolders.keys()].sort().slice(0, MAX_LOG_AGENTS);
    for (const m of this.#o.members()) {
      if (m.name !== this.#o.peers.self && m.status === 'alive' && m.tags['role'] === 'caxton') this.#o.peers.post(m.name, EVENT_WATCH_POST, { lease_ms: ms, logs });
    }
  }

  #watch(from: NodeName, body: PeerBody): void {
    const b = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const ms = b['lease_ms'];
    const logs = b['logs'] ?? [];
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > LEASE_MS || !Array.isArray(logs) || logs.length > MAX_LOG_AGENTS || !logs.every((x) => typeof x === 'string' && x.length <= 255)) {
      return this.#o.warn(`node ${from} posted an ${EVENT_WATCH_POST} without a lease_ms from 0 to ${LEASE_MS} and at most ${MAX_LOG_AGENTS} agent names in logs: ignored`);
    }
    if (ms === 0) this.#watchers.delete(from);
    else this.#watchers.set(from, { until: this.#now() + ms, logs: new Set(logs as string[]) });
  }

  #received(from: NodeName, body: PeerBody): void {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return this.#o.warn(`node ${from} posted an ${EVENT_RELAY_POST} that is not an object: ignored`);
    const entries = Object.entries(body as Record<string, unknown>);
    const b = body as Record<string, unknown>;
    if (typeof b['type'] !== 'string' || !ACCEPTED.has(b['type']) || typeof b['time'] !== 'string' || entries.length > MAX_FIELDS) {
      return this.#o.warn(`node ${from} posted an ${EVENT_RELAY_POST} without an agent lifecycle or log type and a time: ignored`);
    }
    // Plain values only (nothing nested, nothing that could pass for a prototype), strings bounded;
    // `node` is the sender, whatever the body says.
    const plain = (v: unknown) => (typeof v === 'string' && v.length <= MAX_STRING) || typeof v === 'number' || typeof v === 'boolean' || v === null;
    const fields = Object.fromEntries(entries.filter(([k, v]) => k !== '__proto__' && k !== 'node' && plain(v)));
    this.#o.emit({ ...(fields as unknown as RelayedEvent), node: from });
  }
}
