/**
 * OPTIONAL: talks to a real Debian serf 0.9.4 agent (memberlist v0.2.2) on loopback with this codec.
 * Skipped when `serf` is not on PATH (`apt-get install serf`). Everything stays on 127.0.0.0/8: serf
 * binds 127.0.0.1:<free port>, our probe node "ts1" uses 127.0.0.11. Each agent is killed at the end.
 *
 * Checks: a UDP ping gets serf's ack (and our compressor reproduces serf's compressed bytes); a TCP
 * push/pull join gets serf's compressed state and makes serf list ts1 as alive with our tags; the same
 * with `-encrypt` (AES-256-GCM packets, AAD-sealed streams), where plaintext is ignored.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import {
  Keyring,
  MessageType,
  MsgpackWriter,
  StreamReader,
  compressPayload,
  decodeMessage,
  decodePacket,
  decodeSerfTags,
  encodeMessage,
  encodePacket,
  encodePushPullStream,
  encodeSerfTags,
  lzwDecompress,
  type DecodedPacket,
  type StreamFrame,
} from '../../../../src/cluster/wire/index.js';
import { toHex } from './helpers.js';
import { outsideTool } from '../../../helpers/outside-tools.js';

const { path: SERF, skip: SKIP } = outsideTool('serf');

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const addr = srv.address();
  await new Promise<void>((r) => srv.close(() => r()));
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Agent {
  readonly port: number;
  readonly rpc: number;
  readonly log: () => string;
}

async function startSerf(t: TestContext, bin: string, extra: string[]): Promise<Agent> {
  const port = await freePort();
  const rpc = await freePort();
  const proc: ChildProcess = spawn(bin, ['agent', '-node=s1', `-bind=127.0.0.1:${port}`, `-rpc-addr=127.0.0.1:${rpc}`, '-tag', 'role=anchor', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  proc.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  t.after(async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((r) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (up) return { port, rpc, log: () => log };
    await sleep(100);
  }
  throw new Error(`serf did not start:\n${log}`);
}

/** Our probe's UDP side: answers serf's pings, and lets a test wait for a packet. */
class Probe {
  readonly sock = dgram.createSocket('udp4');
  port = 0;
  #waiters: ((p: DecodedPacket, raw: Buffer) => boolean)[] = [];

  constructor(private readonly keyring?: Keyring) {}

  async start(t: TestContext): Promise<void> {
    await new Promise<void>((r) => this.sock.bind(0, '127.0.0.11', () => r()));
    this.port = this.sock.address().port;
    t.after(() => this.sock.close());
    this.sock.on('message', (raw, rinfo) => {
      let p: DecodedPacket;
      try {
        p = decodePacket(raw, { keyring: this.keyring });
      } catch {
        return;
      }
      for (const m of p.messages) {
        if (m.type === MessageType.Ping) {
          const ack = encodeMessage(MessageType.AckResp, { SeqNo: m.body.SeqNo, Payload: null });
          this.sock.send(encodePacket(ack, { keyring: this.keyring, peerProtocolMax: 5 }), rinfo.port, rinfo.address);
        }
      }
      this.#waiters = this.#waiters.filter((w) => !w(p, raw));
    });
  }

  /** Sends `packet` to serf and resolves with the first packet `match` accepts, or undefined on timeout. */
  request(agent: Agent, packet: Uint8Array, match: (p: DecodedPacket) => boolean, ms = 3000): Promise<{ p: DecodedPacket; raw: Buffer } | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), ms);
      this.#waiters.push((p, raw) => {
        if (!match(p)) return false;
        clearTimeout(timer);
        resolve({ p, raw });
        return true;
      });
      this.sock.send(packet, agent.port, '127.0.0.1');
    });
  }
}

/** Serf's push/pull user state: [2] + messagePushPull (keys sorted, as go-msgpack writes them). */
function serfUserState(node: string): Uint8Array {
  const w = new MsgpackWriter();
  w.byte(2).mapHeader(6);
  w.str('EventLTime').uint(1);
  w.str('Events').arrayHeader(0);
  w.str('LTime').uint(1);
  w.str('LeftMembers').arrayHeader(0);
  w.str('QueryLTime').uint(1);
  w.str('StatusLTimes').mapHeader(1).str(node).uint(1);
  return w.finish();
}

async function pushPull(agent: Agent, probe: Probe, keyring?: Keyring): Promise<StreamFrame> {
  const sock = net.connect({ host: '127.0.0.1', port: agent.port, localAddress: '127.0.0.11' });
  try {
    await new Promise<void>((r, j) => {
      sock.once('connect', () => r());
      sock.once('error', j);
    });
    const reader = new StreamReader({ keyring });
    const done = new Promise<StreamFrame>((resolve, reject) => {
      sock.on('data', (chunk: Buffer) => {
        try {
          const f = reader.push(chunk);
          if (f !== undefined) resolve(f);
        } catch (err) {
          reject(err);
        }
      });
      sock.on('end', () => {
        try {
          resolve(reader.finish());
        } catch (err) {
          reject(err);
        }
      });
      sock.on('error', reject);
    });
    sock.write(
      encodePushPullStream(
        {
          Join: true,
          Nodes: [{ Name: 'ts1', Addr: Uint8Array.of(127, 0, 0, 11), Port: probe.port, Meta: encodeSerfTags({ role: 'ts-probe' }), Incarnation: 1, State: 0, Vsn: Uint8Array.of(1, 5, 2, 2, 5, 4) }],
          UserState: serfUserState('ts1'),
        },
        { keyring },
      ),
    );
    return await done;
  } finally {
    sock.destroy();
  }
}

function members(bin: string, agent: Agent): Promise<{ name: string; status: string; tags: Record<string, string> }[]> {
  return new Promise((resolve, reject) => {
    execFile(bin, ['members', `-rpc-addr=127.0.0.1:${agent.rpc}`, '-format=json'], (err, stdout) => {
      if (err) return reject(err);
      try {
        resolve((JSON.parse(stdout) as { members: { name: string; status: string; tags: Record<string, string> }[] }).members);
      } catch (e) {
        reject(e);
      }
    });
  });
}

const ackFor = (seq: number) => (p: DecodedPacket): boolean => p.messages.some((m) => m.type === MessageType.AckResp && m.body.SeqNo === seq);

test('serf interop - UDP ping, TCP join, membership (plaintext)', { skip: SKIP, timeout: 60_000 }, async (t) => {
  const agent = await startSerf(t, SERF as string, []);
  const probe = new Probe();
  await probe.start(t);

  const got = await probe.request(agent, encodePacket(encodeMessage(MessageType.Ping, { SeqNo: 42, Node: 's1' })), ackFor(42));
  assert.ok(got, `no ack from serf\n${agent.log()}`);
  const ack = got.p.messages.find((m) => m.type === MessageType.AckResp);
  assert.ok(ack?.type === MessageType.AckResp && ack.body.Payload !== null && ack.body.Payload[0] === 1, 'serf coordinate payload');
  // serf compresses the ack (+ piggybacked broadcasts) when smaller; our LZW re-creates its bytes.
  const outer = decodeMessage(got.raw);
  if (outer.type === MessageType.Compress) {
    assert.equal(toHex(compressPayload(lzwDecompress(outer.body.Buf ?? new Uint8Array(0)))), toHex(got.raw));
  }

  const frame = await pushPull(agent, probe);
  assert.equal(frame.compressed, true, 'serf compresses streams');
  assert.equal(frame.message.type, MessageType.PushPull);
  if (frame.message.type === MessageType.PushPull) {
    const s1 = frame.message.body.Nodes.find((n) => n.Name === 's1');
    assert.ok(s1, 'serf lists itself');
    assert.equal(decodeSerfTags(s1.Meta).get('role'), 'anchor');
    assert.equal(frame.message.body.UserState?.[0], 2, 'serf push/pull user state');
  }

  let seen: { name: string; status: string; tags: Record<string, string> } | undefined;
  for (let i = 0; i < 30 && seen?.status !== 'alive'; i++) {
    seen = (await members(SERF as string, agent)).find((m) => m.name === 'ts1');
    if (seen?.status !== 'alive') await sleep(200);
  }
  assert.equal(seen?.status, 'alive', `serf members:\n${agent.log()}`);
  assert.equal(seen?.tags['role'], 'ts-probe');
});

test('serf interop - with -encrypt (AES-256-GCM)', { skip: SKIP, timeout: 60_000 }, async (t) => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
  const keyring = new Keyring([], key);
  const agent = await startSerf(t, SERF as string, [`-encrypt=${Buffer.from(key).toString('base64')}`]);
  const probe = new Probe(keyring);
  await probe.start(t);

  const ping = encodeMessage(MessageType.Ping, { SeqNo: 7, Node: 's1' });
  const plain = await probe.request(agent, encodePacket(ping), ackFor(7), 700);
  assert.equal(plain, undefined, 'serf ignores plaintext when encryption is on');
  const got = await probe.request(agent, encodePacket(encodeMessage(MessageType.Ping, { SeqNo: 8, Node: 's1' }), { keyring }), ackFor(8));
  assert.ok(got, `no encrypted ack\n${agent.log()}`);
  assert.equal(got.p.encrypted, true);

  const frame = await pushPull(agent, probe, keyring);
  assert.equal(frame.encrypted, true);
  assert.equal(frame.compressed, true);
  assert.equal(frame.message.type, MessageType.PushPull);
});
