/**
 * Test harness for talking to a real `serf` agent on loopback: start/stop an agent, run its CLI, and a
 * minimal Caxton-side node (NetTransport + wire codec + SerfDelegate, no membership core) that joins
 * it by push/pull, answers its pings, feeds gossip to the delegate, and answers its streams.
 */
import type { TestContext } from 'node:test';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import {
  Keyring,
  MessageType,
  StreamReader,
  USER_MSG_OVERHEAD,
  UDP_BUFFER_SIZE,
  decodePacket,
  encodeAckStream,
  encodeMessage,
  encodePacket,
  encodePushPullStream,
  type PushNodeState,
  type StreamFrame,
} from '../../../../src/cluster/wire/index.js';
import { NetTransport } from '../../../../src/cluster/transport/net-transport.js';
import type { Address, Stream } from '../../../../src/cluster/transport/transport.js';
import { SerfDelegate, type SerfDelegateOptions, ipFromBytes } from '../../../../src/cluster/serf/index.js';
import type { Member } from '../../../../src/cluster/membership/delegate.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, host, r));
  const addr = srv.address() as net.AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return addr.port;
}

/**
 * How long after a Caxton node stops answering a `serf agent -profile=local` with no other member
 * serf declares it failed, at most (memberlist v0.2.2 with DefaultLocalConfig: probe interval 1 s,
 * probe timeout 200 ms, suspicion multiplier 3; serf's health score is 0, all its probes were acked):
 *   2 × probeInterval             until serf's next probe of it: one probe per tick, but with the node
 *                                 list [it, self] every other tick skips self, wraps around and gives
 *                                 up (memberlist probe(): numCheck reaches len(nodes)), so the last
 *                                 acked probe may have started just before the stop and the next
 *                                 starts two ticks later
 * + probeInterval                 the probe: the ack timeout, then the TCP fallback ping, until the
 *                                 ack handler expires at the interval (no peers for indirect pings)
 * + 3 × max(1, log10(2)) × 1 s   the suspicion timeout; with 2 nodes memberlist expects no
 *                                 confirmation (k = suspicionMult − 2 > n − 2, so k = 0): the minimum
 * + 500 ms                        timer and scheduling slack
 * = 6.5 s, measured to the moment serf logs "EventMemberFailed" (Agent.logLineAt), not to a
 * `serf members` poll, whose own latency is not serf's (nor to an event handler, which serf runs
 * only after its 1 s member-event coalescing).
 */
export const SERF_LOCAL_FAILURE_BOUND_MS = 2 * 1000 + 1000 + 3 * Math.max(1, Math.log10(2)) * 1000 + 500;

/** A gossip key for a test: `serf agent` arguments and the Caxton side's `keys`. */
export interface Encryption {
  readonly label: 'plaintext' | 'encrypted';
  readonly key: Buffer | undefined;
  /** `-encrypt=<base64>`, or nothing. */
  readonly serfArgs: readonly string[];
  /** The key for Cluster.start ({ keys }) or the server (`--set security.cluster.gossip.keys=[...]`). */
  readonly keys: readonly Buffer[] | undefined;
}

/** Both ways to run an interop test: plaintext, and with a fresh 32-byte key on both sides. */
export function encryptionVariants(): readonly Encryption[] {
  const key = randomBytes(32);
  return [
    { label: 'plaintext', key: undefined, serfArgs: [], keys: undefined },
    { label: 'encrypted', key, serfArgs: [`-encrypt=${key.toString('base64')}`], keys: [key] },
  ];
}

export interface Agent {
  readonly addr: Address;
  readonly rpc: string;
  readonly log: () => string;
  /** When (Date.now()) the first log line matching `re` arrived from the agent; undefined: none yet. */
  readonly logLineAt: (re: RegExp) => number | undefined;
  readonly bin: string;
}

/** Starts `serf agent` on 127.0.0.1 (killed when the test ends) and waits for its TCP port. */
export async function startSerf(t: TestContext, bin: string, extra: readonly string[]): Promise<Agent> {
  const port = await freePort();
  const rpcPort = await freePort();
  const proc: ChildProcess = spawn(
    bin,
    ['agent', '-node=s1', `-bind=127.0.0.1:${port}`, `-rpc-addr=127.0.0.1:${rpcPort}`, '-log-level=debug', '-tag', 'role=anchor', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  let partial = '';
  // Each complete line with the time it arrived: serf writes its log unbuffered, so that is when it logged it.
  const lines: { readonly at: number; readonly line: string }[] = [];
  const onData = (d: Buffer): void => {
    const at = Date.now();
    log += d.toString();
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) lines.push({ at, line });
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  t.after(async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGKILL');
    await exited;
  });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((r) => {
      const s = net.connect({ host: '127.0.0.1', port: rpcPort }, () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (up) return { addr: { host: '127.0.0.1', port }, rpc: `127.0.0.1:${rpcPort}`, log: () => log, logLineAt: (re) => lines.find((l) => re.test(l.line))?.at, bin };
    await sleep(100);
  }
  throw new Error(`serf did not start:\n${log}`);
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the serf CLI against the agent's RPC address. */
export function serfCli(agent: Agent, args: readonly string[], timeoutMs = 15_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(agent.bin, [args[0] ?? '', `-rpc-addr=${agent.rpc}`, ...args.slice(1)], { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

export interface SerfMemberJson {
  readonly name: string;
  readonly addr: string;
  readonly status: string;
  readonly tags: Record<string, string>;
}

export async function serfMembers(agent: Agent): Promise<SerfMemberJson[]> {
  const r = await serfCli(agent, ['members', '-format=json']);
  if (r.code !== 0) throw new Error(`serf members failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { members: SerfMemberJson[] }).members;
}

/** Polls `serf members` until `node` has `status`; returns the last view. */
export async function waitForMember(agent: Agent, node: string, status: string, ms = 6000): Promise<SerfMemberJson | undefined> {
  const end = Date.now() + ms;
  let seen: SerfMemberJson | undefined;
  while (Date.now() < end) {
    seen = (await serfMembers(agent)).find((m) => m.name === node);
    if (seen?.status === status) return seen;
    await sleep(150);
  }
  return seen;
}

/** A user message body we received from serf, raw, with where it came from. */
export interface Received {
  readonly bytes: Uint8Array;
  readonly from: Address;
}

export interface TestNodeOptions {
  readonly name: string;
  readonly host: string;
  readonly tags: Record<string, string>;
  readonly keyring?: Keyring;
  readonly delegate?: Partial<SerfDelegateOptions>;
}

/** The Caxton side: one NetTransport, the wire codec, a SerfDelegate. */
export class TestNode {
  readonly name: string;
  readonly keyring: Keyring | undefined;
  readonly transport: NetTransport;
  readonly delegate: SerfDelegate;
  /** Serf user messages that arrived by gossip. */
  readonly userMessages: Received[] = [];
  /** Push/pull user states serf sent us (its replies and its own anti-entropy). */
  readonly remoteStates: Uint8Array[] = [];
  pings = 0;
  undecodable = 0;
  readonly #vsn = Uint8Array.of(1, 5, 2, 2, 5, 4);

  private constructor(options: TestNodeOptions, transport: NetTransport) {
    this.name = options.name;
    this.keyring = options.keyring;
    this.transport = transport;
    this.delegate = new SerfDelegate({
      nodeName: options.name,
      tags: options.tags,
      keyring: options.keyring,
      sendTo: (to, userMsg) => this.sendUser(to, userMsg),
      ...options.delegate,
    });
    transport.onPacket((bytes, from) => this.#onPacket(bytes, from));
    transport.onStream((s) => this.#onStream(s));
  }

  static async start(t: TestContext, options: TestNodeOptions): Promise<TestNode> {
    const transport = await NetTransport.create({ bind: { host: options.host, port: 0 } });
    t.after(() => transport.close());
    return new TestNode(options, transport);
  }

  get address(): Address {
    return this.transport.local;
  }

  #state(): PushNodeState {
    return {
      Name: this.name,
      Addr: Uint8Array.from(this.address.host.split('.').map(Number)),
      Port: this.address.port,
      Meta: this.delegate.nodeMeta(512),
      Incarnation: 1,
      State: 0,
      Vsn: this.#vsn,
    };
  }

  /** memberlist SendToAddress: `[8] + userMsg`, compressed if smaller, encrypted, no CRC. */
  sendUser(to: Address, userMsg: Uint8Array): void {
    this.transport.sendPacket(to, encodePacket(encodeMessage(MessageType.User, userMsg), { keyring: this.keyring }));
  }

  /** Gossips whatever the delegate has queued to `to`, one user message per packet. */
  flushBroadcasts(to: Address): number {
    const msgs = this.delegate.getBroadcasts(USER_MSG_OVERHEAD, UDP_BUFFER_SIZE);
    for (const m of msgs) this.sendUser(to, m);
    return msgs.length;
  }

  #onPacket(bytes: Uint8Array, from: Address): void {
    let p;
    try {
      p = decodePacket(bytes, { keyring: this.keyring });
    } catch {
      this.undecodable++;
      return;
    }
    for (const m of p.messages) {
      if (m.type === MessageType.Ping && (m.body.Node === '' || m.body.Node === this.name)) {
        this.pings++;
        const ack = encodeMessage(MessageType.AckResp, { SeqNo: m.body.SeqNo, Payload: this.delegate.ackPayload() });
        const src = ipFromBytes(m.body.SourceAddr ?? null);
        const to = src !== undefined && (m.body.SourcePort ?? 0) > 0 ? { host: src, port: m.body.SourcePort ?? 0 } : from;
        this.transport.sendPacket(to, encodePacket(ack, { keyring: this.keyring, peerProtocolMax: 5 }));
      } else if (m.type === MessageType.User) {
        this.userMessages.push({ bytes: m.body, from });
        this.delegate.notifyMessage(m.body);
      }
    }
  }

  #onStream(s: Stream): void {
    const reader = new StreamReader({ keyring: this.keyring });
    s.setDeadline(10_000);
    s.onData((chunk) => {
      let frame: StreamFrame | undefined;
      try {
        frame = reader.push(chunk);
      } catch {
        s.close();
        return;
      }
      if (frame === undefined) return;
      const msg = frame.message;
      if (msg.type === MessageType.PushPull) {
        const reply = encodePushPullStream(
          { Join: msg.body.Join, Nodes: [this.#state()], UserState: this.delegate.localState(msg.body.Join) },
          { keyring: this.keyring },
        );
        if (msg.body.UserState !== null) {
          this.remoteStates.push(msg.body.UserState);
          this.delegate.mergeRemoteState(msg.body.UserState, msg.body.Join);
        }
        void s.write(reply).finally(() => s.close());
      } else if (msg.type === MessageType.Ping) {
        void s.write(encodeAckStream({ SeqNo: msg.body.SeqNo, Payload: null }, { keyring: this.keyring })).finally(() => s.close());
      } else {
        if (msg.type === MessageType.User) this.delegate.notifyMessage(msg.body);
        s.close();
      }
    });
    s.onEnd(() => s.close());
  }

  /** Joins serf at `to` with a push/pull (Join true); returns serf's reply. */
  async join(to: Address): Promise<StreamFrame> {
    const s = await this.transport.dial(to, 2000);
    s.setDeadline(5000);
    const reader = new StreamReader({ keyring: this.keyring });
    const done = new Promise<StreamFrame>((resolve, reject) => {
      s.onData((chunk) => {
        try {
          const f = reader.push(chunk);
          if (f !== undefined) resolve(f);
        } catch (err) {
          reject(err);
        }
      });
      s.onEnd((err) => {
        if (err !== undefined) reject(err);
        try {
          resolve(reader.finish());
        } catch (e) {
          reject(e);
        }
      });
    });
    await s.write(encodePushPullStream({ Join: true, Nodes: [this.#state()], UserState: this.delegate.localState(true) }, { keyring: this.keyring }));
    try {
      const frame = await done;
      if (frame.message.type === MessageType.PushPull) {
        const body = frame.message.body;
        // what memberlist does with the reply: merge the nodes (→ member events), then the user state
        for (const n of body.Nodes) {
          if (n.Name === this.name) continue;
          const member: Member = {
            name: n.Name,
            host: ipFromBytes(n.Addr) ?? '',
            port: n.Port,
            meta: n.Meta ?? new Uint8Array(0),
            incarnation: n.Incarnation,
            status: 'alive',
            since: Date.now(),
            vsn: [...(n.Vsn ?? [])],
          };
          this.delegate.memberEvent({ type: 'join', member });
        }
        if (body.UserState !== null) {
          this.remoteStates.push(body.UserState);
          this.delegate.mergeRemoteState(body.UserState, true);
        }
      }
      return frame;
    } finally {
      s.close();
    }
  }
}
