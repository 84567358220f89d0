/**
 * Push/pull anti-entropy and join (memberlist state.go pushPull, pushPullNode, verifyProtocol;
 * net.go sendAndReceiveState, sendLocalState, readRemoteState, mergeRemoteState).
 *
 * Over one stream each side sends its whole node table plus the delegate's state; the side that was
 * dialled answers with its state from *before* merging the caller's. A join is the same exchange
 * with Join = true. Periodically (pushPullInterval, scaled with the cluster size) we do it with one
 * random live node, which repairs whatever gossip lost.
 */
import { MAX_PUSH_PULL_REQUESTS, MessageType, NodeState, encodePushPullStream, type PushNodeState, type PushPull } from '../wire/index.js';
import type { Address, Stream, Transport } from '../transport/transport.js';
import type { MembershipConfig } from './config.js';
import type { MembershipDelegate } from './delegate.js';
import type { MembershipLogger } from './log.js';
import { kRandomNodes, type Random } from './selection.js';
import type { MemberTable } from './state.js';
import type { Counters } from './stats.js';
import { readFrame, type StreamCodec } from './stream-io.js';
import { verifyProtocol } from './verify-protocol.js';

export interface PushPullEnv {
  readonly config: MembershipConfig;
  readonly random: Random;
  readonly counters: Counters;
  readonly log: MembershipLogger;
  readonly table: MemberTable;
  readonly transport: Transport;
  readonly delegate: MembershipDelegate;
  readonly streams: StreamCodec;
  /** Port for nodes that advertise 0 (and for every node under protocol 1). */
  readonly bindPort: number;
  isShutdown(): boolean;
}

export class PushPullSync {
  readonly #env: PushPullEnv;
  #inbound = 0;

  constructor(env: PushPullEnv) {
    this.#env = env;
  }

  /** The periodic exchange with one random live node. */
  async pushPull(): Promise<void> {
    const env = this.#env;
    const self = env.config.name;
    const [node] = kRandomNodes(1, env.table.nodes, (n) => n.name === self || n.state !== NodeState.Alive, env.random);
    if (node === undefined) return;
    try {
      await this.pushPullNode({ host: node.host, port: node.port }, false);
    } catch (err) {
      env.log.warn({ err, node: node.name }, 'push/pull failed');
    }
  }

  /** A full exchange with one address (join when `join`). Rejects when it failed. */
  async pushPullNode(to: Address, join: boolean): Promise<void> {
    const env = this.#env;
    env.counters.pushPullInitiated += 1;
    try {
      const remote = await this.#sendAndReceiveState(to, join);
      this.mergeRemoteState(join, remote.Nodes, remote.UserState);
    } catch (err) {
      env.counters.pushPullFailed += 1;
      throw err;
    }
  }

  /**
   * Takes one of the inbound push/pull slots (hashicorp/memberlist#158: a burst of thousands of
   * concurrent push/pulls, each holding a full copy of a 10k-node state, took 7 GB). The stream
   * handler asks as soon as it has read the message type, before the remote state is read or
   * decoded; undefined (counted) means refuse: close the stream. Go's bound, kept exactly: the
   * exchange that would be the MAX_PUSH_PULL_REQUESTS-th at once is refused. Call the returned
   * function once the exchange is over, however it ended.
   */
  admitInbound(from: string): (() => void) | undefined {
    const env = this.#env;
    if (this.#inbound + 1 >= MAX_PUSH_PULL_REQUESTS) {
      env.counters.pushPullRejected += 1;
      env.log.error({ from }, 'too many pending push/pull requests');
      return undefined;
    }
    this.#inbound += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inbound -= 1;
    };
  }

  /** Inbound push/pulls holding a slot now. */
  get inbound(): number {
    return this.#inbound;
  }

  /** Our side of an exchange a peer started (admitted by admitInbound): answer with our state, then merge theirs. */
  async handleInbound(stream: Stream, remote: PushPull): Promise<void> {
    const env = this.#env;
    try {
      await stream.write(encodePushPullStream(this.localState(remote.Join), env.streams.encode));
      this.mergeRemoteState(remote.Join, remote.Nodes, remote.UserState);
      env.counters.pushPullServed += 1;
    } catch (err) {
      env.counters.pushPullFailed += 1;
      env.log.warn({ err, from: `${stream.remote.host}:${stream.remote.port}` }, 'failed push/pull with a peer that dialled us');
    }
  }

  /** What we send: the whole table and the delegate's state. */
  localState(join: boolean): PushPull {
    const env = this.#env;
    let user: Uint8Array | null = null;
    try {
      user = env.delegate.localState(join);
    } catch (err) {
      env.log.error({ err }, 'delegate localState failed');
    }
    return { Join: join, Nodes: env.table.pushState(), UserState: user };
  }

  /** Checks versions, then merges the nodes and hands the user state to the delegate. Throws when incompatible. */
  mergeRemoteState(join: boolean, nodes: readonly PushNodeState[], userState: Uint8Array | null): void {
    const env = this.#env;
    const fixed = nodes.map((n) => (env.config.protocolVersion < 2 || n.Port === 0 ? { ...n, Port: env.bindPort } : n));
    const problem = verifyProtocol(env.table.nodes, fixed);
    if (problem !== undefined) throw new Error(problem);
    env.table.mergeState(fixed);
    if (userState !== null && userState.length > 0) {
      try {
        env.delegate.mergeRemoteState(userState, join);
      } catch (err) {
        env.log.error({ err }, 'delegate mergeRemoteState failed');
      }
    }
  }

  async #sendAndReceiveState(to: Address, join: boolean): Promise<PushPull> {
    const env = this.#env;
    const cfg = env.config;
    const stream = await env.transport.dial(to, cfg.tcpTimeoutMs);
    try {
      stream.setDeadline(cfg.tcpTimeoutMs);
      await stream.write(encodePushPullStream(this.localState(join), env.streams.encode));
      const frame = await readFrame(stream, env.streams.read);
      const m = frame.message;
      if (m.type === MessageType.Err) throw new Error(`remote error: ${m.body.Error}`);
      if (m.type !== MessageType.PushPull) throw new Error(`received invalid msgType (${m.type}), expected pushPullMsg (${MessageType.PushPull})`);
      return m.body;
    } finally {
      stream.close();
    }
  }
}
