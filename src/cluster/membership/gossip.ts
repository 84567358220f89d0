/**
 * Gossip (memberlist state.go gossip): every gossipInterval, queued broadcasts go to gossipNodes
 * random peers that are alive, suspect, or dead for less than gossipToTheDead (so a node wrongly
 * declared dead hears about it and can refute). Each peer gets a fresh packet from the queue, so each
 * counts one transmit per message; the round stops as soon as the queue has nothing left.
 */
import { COMPOUND_OVERHEAD, NodeState } from '../wire/index.js';
import type { MembershipConfig } from './config.js';
import type { Broadcasts } from './broadcasts.js';
import type { Clock } from './clock.js';
import type { PacketSender } from './packet-sender.js';
import { kRandomNodes, type Random } from './selection.js';
import type { MemberTable, NodeRecord } from './state.js';
import type { Counters } from './stats.js';

export interface GossipEnv {
  readonly config: MembershipConfig;
  readonly clock: Clock;
  readonly random: Random;
  readonly counters: Counters;
  readonly table: MemberTable;
  readonly sender: PacketSender;
  readonly broadcasts: Broadcasts;
}

/** Whether gossip skips a node (the filter of state.go gossip). */
export function skipForGossip(n: NodeRecord, self: string, now: number, gossipToTheDeadMs: number): boolean {
  if (n.name === self) return true;
  switch (n.state) {
    case NodeState.Alive:
    case NodeState.Suspect:
      return false;
    case NodeState.Dead:
      return now - n.stateChange > gossipToTheDeadMs;
    default:
      return true;
  }
}

export class Gossiper {
  readonly #env: GossipEnv;

  constructor(env: GossipEnv) {
    this.#env = env;
  }

  gossip(): void {
    const env = this.#env;
    const cfg = env.config;
    const now = env.clock.now();
    const nodes = kRandomNodes(cfg.gossipNodes, env.table.nodes, (n) => skipForGossip(n, cfg.name, now, cfg.gossipToTheDeadMs), env.random);
    env.counters.gossipRounds += 1;
    const bytesAvail = env.sender.budget();
    for (const node of nodes) {
      const msgs = env.broadcasts.getBroadcasts(COMPOUND_OVERHEAD, bytesAvail);
      if (msgs.length === 0) return;
      env.counters.gossipPackets += 1;
      env.sender.sendMany({ host: node.host, port: node.port }, msgs, node);
    }
  }
}
