/**
 * One node's cluster membership, assembled from its three layers: the network (NetTransport, UDP and
 * TCP on one port), SWIM membership (Membership) and the Serf layer (SerfDelegate: tags in node meta,
 * intents, Lamport clocks, queries incl. key rotation). The Serf layer makes a Caxton node a member a
 * real `serf agent` accepts, and the other way round. On top of them, `peers` is the node-to-node
 * link (src/cluster/link/), on the same TCP port, that everything above membership talks through.
 */
import { Keyring } from './wire/index.js';
import { NetTransport } from './transport/net-transport.js';
import type { LinkTlsMaterial } from './transport/link-tls.js';
import type { Address, DropHook } from './transport/transport.js';
import { Membership, fastConfig, lanConfig, localConfig, wanConfig, type MembershipConfig, type MembershipLogger } from './membership/index.js';
import type { Member, MemberEvent } from './membership/delegate.js';
import { SerfDelegate } from './serf/index.js';
import { KeyManager } from './serf/key-manager.js';
import { decodeSerfTags } from './wire/index.js';
import { silentLogger, type ClusterLogger } from './transport/logger.js';
import { formatAddress, resolveAll } from '../config/address.js';
import { Link, type LinkOptions } from './link/link.js';

/** Serf 0.9.4's delegate protocol range and the version its agent speaks: checked on every push/pull. */
const SERF_DELEGATE_PROTOCOL = { min: 2, max: 5, version: 5 } as const;
/** How often failed and left members past the reconnect/tombstone timeouts are forgotten (Serf's ReapInterval). */
const REAP_INTERVAL_MS = 15_000;
/** Seed names looked up at a time per join attempt (each lookup holds one of libuv's 4 threadpool threads). */
const SEED_LOOKUPS = 2;

export type ClusterProfile = 'lan' | 'local' | 'wan' | 'fast';

const PROFILES: Record<ClusterProfile, (name: string) => MembershipConfig> = { lan: lanConfig, local: localConfig, wan: wanConfig, fast: fastConfig };

export interface ClusterOptions {
  readonly name: string;
  readonly bind: Address;
  readonly advertise?: Address;
  /** memberlist's timing profile; `timings` override single values. @default lan */
  readonly profile?: ClusterProfile;
  readonly timings?: Partial<
    Pick<
      MembershipConfig,
      | 'gossipIntervalMs'
      | 'gossipNodes'
      | 'probeIntervalMs'
      | 'probeTimeoutMs'
      | 'suspicionMult'
      | 'suspicionMaxTimeoutMult'
      | 'retransmitMult'
      | 'indirectChecks'
      | 'awarenessMaxMultiplier'
      | 'tcpTimeoutMs'
      | 'pushPullIntervalMs'
      | 'gossipToTheDeadMs'
      | 'deadNodeReclaimTimeMs'
      | 'reconnectIntervalMs'
      | 'reconnectTimeoutMs'
    > & {
      /** How long the Serf layer remembers a member that left (Serf TombstoneTimeout). @default 24 h */
      tombstoneTimeoutMs: number;
    }
  >;
  /** Gossip encryption keys (16, 24 or 32 bytes); the first is the primary. None: plaintext. */
  readonly keys?: readonly Uint8Array[];
  /** Serf tags carried in node meta (≤ 512 bytes encoded). */
  readonly tags?: Readonly<Record<string, string>>;
  /** Packet loss and partitions for tests. */
  readonly dropHook?: DropHook;
  /**
   * mTLS for the node-to-node link (routing, replication, module transfer): the node's CA,
   * certificate and key (loadNodeTls). None: the link runs over plain TCP. Gossip is not affected.
   */
  readonly linkTls?: LinkTlsMaterial;
  /** Tuning of the node-to-node link (limits, heartbeat, circuit). */
  readonly link?: Omit<LinkOptions, 'self' | 'transport' | 'addressOf' | 'keys' | 'logger' | 'requirePeerCert' | 'namesAt'>;
  /** Every layer logs through it (a pino logger fits). */
  readonly logger?: ClusterLogger & MembershipLogger;
}

/** A member as the cluster reports it: membership's view plus its Serf tags. */
export interface ClusterMember extends Member {
  readonly tags: Readonly<Record<string, string>>;
}

export class Cluster {
  readonly #reapTimer: NodeJS.Timeout;
  /** Gossip key rotation across the cluster (the queries `serf keys` sends). */
  readonly keys: KeyManager;

  readonly #log: ClusterLogger;

  private constructor(
    readonly transport: NetTransport,
    readonly membership: Membership,
    readonly serf: SerfDelegate,
    readonly keyring: Keyring | undefined,
    /** The node-to-node link: posts and calls to other members (src/cluster/peers.ts). */
    readonly peers: Link,
    log: ClusterLogger,
  ) {
    this.#log = log;
    this.#reapTimer = setInterval(() => serf.reap(), REAP_INTERVAL_MS);
    this.#reapTimer.unref();
    this.keys = new KeyManager(serf, () => membership.numMembers());
  }

  static async start(o: ClusterOptions): Promise<Cluster> {
    const keyring = o.keys === undefined || o.keys.length === 0 ? undefined : new Keyring([...o.keys], o.keys[0]);
    const transport = await NetTransport.create({
      bind: o.bind,
      ...(o.advertise === undefined ? {} : { advertise: o.advertise }),
      ...(o.dropHook === undefined ? {} : { dropHook: o.dropHook }),
      ...(o.logger === undefined ? {} : { logger: o.logger }),
      ...(o.linkTls === undefined ? {} : { linkTls: o.linkTls }),
    });
    // The delegate needs the membership to answer queries, and the membership needs the delegate:
    // the closure reads `membership` when a query arrives, after both exist.
    let membership: Membership | undefined;
    const base = PROFILES[o.profile ?? 'lan'](o.name);
    const { tombstoneTimeoutMs, ...timings } = o.timings ?? {};
    const config: MembershipConfig = {
      ...base,
      ...timings,
      delegateProtocolMin: SERF_DELEGATE_PROTOCOL.min,
      delegateProtocolMax: SERF_DELEGATE_PROTOCOL.max,
      delegateProtocolVersion: SERF_DELEGATE_PROTOCOL.version,
      ...(keyring === undefined ? {} : { keyring }),
    };
    const serf = new SerfDelegate({
      nodeName: o.name,
      ...(o.tags === undefined ? {} : { tags: o.tags }),
      ...(keyring === undefined ? {} : { keyring }),
      sendTo: (to, bytes) => membership?.sendBestEffort(to, bytes),
      numNodes: () => membership?.numMembers() ?? 1,
      localAddress: () => {
        const me = (membership as Membership).localMember();
        return { host: me.host, port: me.port };
      },
      gossipIntervalMs: config.gossipIntervalMs,
      retransmitMult: config.retransmitMult,
      // Serf forgets failed members when memberlist stops reconnecting to them.
      reconnectTimeoutMs: config.reconnectTimeoutMs,
      ...(tombstoneTimeoutMs === undefined ? {} : { tombstoneTimeoutMs }),
      ...(o.logger === undefined ? {} : { logger: o.logger }),
    });
    try {
      membership = await Membership.create(config, transport, serf, o.logger === undefined ? {} : { logger: o.logger });
    } catch (e) {
      await transport.close();
      throw e;
    }
    membership.onEvent((ev) => serf.memberEvent(ev));
    // A failed member an operator removed (here or anywhere: the intent is gossiped) is left for
    // good: stop trying to reconnect to it.
    const m = membership;
    serf.onStatusChange((c) => {
      if (c.member.status === 'left' && c.previous === 'failed') m.stopReconnecting(c.member.name);
    });
    const peers = new Link({
      ...o.link,
      self: o.name,
      transport: { dial: (to, timeoutMs, node) => transport.dialLink(to, timeoutMs, node), onStream: (fn) => transport.onLinkStream(fn) },
      requirePeerCert: o.linkTls !== undefined,
      namesAt: (host) => m.members().filter((mb) => mb.host === host && (mb.status === 'alive' || mb.status === 'suspect')).map((mb) => mb.name),
      addressOf: (name) => {
        const mb = m.member(name);
        return mb !== undefined && (mb.status === 'alive' || mb.status === 'suspect') ? { host: mb.host, port: mb.port } : undefined;
      },
      keys: () => keyring?.keysView() ?? [],
      ...(o.logger === undefined ? {} : { logger: o.logger }),
    });
    membership.onEvent((ev) => {
      if (ev.type === 'failed' || ev.type === 'left') peers.memberGone(ev.member.name);
    });
    return new Cluster(transport, membership, serf, keyring, peers, o.logger ?? silentLogger);
  }

  /** True when the node-to-node link runs over mTLS (security.cluster.mtls). */
  get mtls(): boolean {
    return this.transport.mtls;
  }

  /** New link connections use `material`; open ones keep theirs (a certificate reload). */
  setTlsMaterial(material: LinkTlsMaterial): void {
    this.transport.setTlsMaterial(material);
  }

  get name(): string {
    return this.membership.localMember().name;
  }

  /**
   * Joins through any of `seeds`; resolves with how many answered (0: none, the node is alone).
   * Host names are resolved now, at each attempt, by the resolver every address goes through
   * (src/config/address.ts); a name that does not resolve is logged and skipped.
   */
  async join(seeds: readonly Address[]): Promise<number> {
    // A few lookups at a time (each holds a libuv threadpool thread), each bounded in time.
    const { resolved, failed } = await resolveAll(seeds.map((a, i) => ({ address: a, where: `coordination.cluster.seeds[${i}]` })), SEED_LOOKUPS);
    for (const f of failed) {
      this.#log.warn({ seed: formatAddress(seeds[f.index] as Address), code: f.error.code, err: f.error.message }, 'cannot join through a seed whose name does not resolve (retried at the next attempt)');
    }
    const n = await this.membership.join(resolved.filter((a): a is Address => a !== undefined));
    if (n > 0) this.serf.join();
    return n;
  }

  /** Leaves gracefully: peers see this node as `left`, not failed. */
  async leave(timeoutMs: number): Promise<void> {
    this.serf.leave();
    await this.membership.leave(timeoutMs);
    this.serf.markLeft();
    this.peers.close();
  }

  /**
   * Every member, failed and left ones included until they are reaped. The status is membership's,
   * except that a member Serf knows has left (gracefully, or removed by an operator) is `left`; a
   * member removed with prune is gone.
   */
  members(): ClusterMember[] {
    const out: ClusterMember[] = [];
    for (const m of this.membership.members()) {
      const s = this.serf.member(m.name);
      if (s === undefined && (m.status === 'failed' || m.status === 'left')) continue;
      out.push(withTags(s?.status === 'left' && m.status === 'failed' ? { ...m, status: 'left' } : m));
    }
    return out;
  }

  /**
   * Removes a failed member for good (serf force-leave): every member marks it left and stops trying
   * to reconnect; with `prune` every member forgets it at once. Resolves once the removal has been
   * gossiped. A member that is in fact alive refutes it and stays.
   */
  removeNode(name: string, prune = false): Promise<void> {
    if (name === this.name) throw new RangeError('a node cannot remove itself: use leave()');
    return this.serf.forceLeave(name, prune);
  }

  /** Replaces this node's tags and tells the cluster. */
  async setTags(tags: Readonly<Record<string, string>>, timeoutMs = 5000): Promise<void> {
    this.serf.setTags(tags);
    await this.membership.updateMeta(timeoutMs);
  }

  onEvent(fn: (e: MemberEvent) => void): () => void {
    const sub = this.membership.onEvent(fn);
    return () => sub.dispose();
  }

  /** Stops without leaving (peers will detect a failure): what a crash looks like, minus the crash. */
  async shutdown(): Promise<void> {
    clearInterval(this.#reapTimer);
    this.peers.close();
    this.serf.closeQueries();
    await this.membership.shutdown();
    await this.transport.close();
  }
}

function withTags(m: Member): ClusterMember {
  let tags: Record<string, string> = {};
  try {
    tags = Object.fromEntries(decodeSerfTags(m.meta));
  } catch {
    // Meta that is not Serf tags (a plain memberlist node): no tags.
  }
  return { ...m, tags };
}
