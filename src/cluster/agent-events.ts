/**
 * Agents moving between nodes (failovers, hand-overs, rebalances, second copies stopped) happen on
 * one node but concern the whole cluster: `caxton cluster watch` against any node shows all of them.
 * The node where a move happens posts its event to every other alive Caxton member, which puts it on
 * its own event stream with `reported_by` naming the source. Events from peers are checked: only
 * `cluster.agent_*` events with a text line are taken, and only their plain fields.
 */
import type { NodeName, PeerBody, Peers } from './peers.js';

export const AGENT_EVENT_POST = 'agents.event';

/** An event as the event stream carries it. */
export interface SharedEvent {
  readonly type: string;
  readonly time: string;
  readonly text: string;
  readonly [field: string]: unknown;
}

interface Member {
  readonly name: string;
  readonly status: string;
  readonly tags: Readonly<Record<string, string>>;
}

const TYPE = /^cluster\.agent_[a-z_]{1,40}$/;
const MAX_TEXT = 2000;
const MAX_FIELDS = 20;

export class AgentEventSharing {
  constructor(
    readonly peers: Peers,
    readonly members: () => readonly Member[],
    readonly emit: (e: SharedEvent & { reported_by: NodeName }) => void,
    readonly warn: (text: string) => void,
  ) {
    peers.onPost(AGENT_EVENT_POST, (from, body) => this.#received(from, body));
  }

  /** Tells the other members about an event of this node. */
  share(e: SharedEvent): void {
    for (const m of this.members()) {
      if (m.name !== this.peers.self && m.status === 'alive' && m.tags['role'] === 'caxton') this.peers.post(m.name, AGENT_EVENT_POST, e);
    }
  }

  #received(from: NodeName, body: PeerBody): void {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return this.warn(`node ${from} posted an ${AGENT_EVENT_POST} that is not an object: ignored`);
    const b = body as Record<string, unknown>;
    const entries = Object.entries(b);
    if (typeof b['type'] !== 'string' || !TYPE.test(b['type']) || typeof b['text'] !== 'string' || b['text'].length > MAX_TEXT || typeof b['time'] !== 'string' || entries.length > MAX_FIELDS) {
      return this.warn(`node ${from} posted an ${AGENT_EVENT_POST} without a cluster.agent_* type, a time and a text line: ignored`);
    }
    // Plain values only: nothing nested, nothing that could pass for a prototype.
    const fields = Object.fromEntries(entries.filter(([k, v]) => k !== '__proto__' && k !== 'reported_by' && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null)));
    this.emit({ ...(fields as unknown as SharedEvent), reported_by: from });
  }
}
