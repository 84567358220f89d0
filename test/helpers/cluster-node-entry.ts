/**
 * Child side of cluster-process.ts: one real Cluster (NetTransport over real UDP/TCP sockets,
 * Membership, SerfDelegate) in its own process, driven over the IPC channel of child_process.fork.
 * Its drop hook applies the faults the parent sets (packet loss, cut-off hosts). It records every
 * membership event with a timestamp, and logs the cluster's info/warn/error lines to stderr (the
 * parent keeps the tail for failure messages).
 *
 * It exits when the parent disconnects, on `shutdown`, and in any case after maxLifetimeMs.
 */
import { Buffer } from 'node:buffer';
import { Cluster } from '../../src/cluster/cluster.js';
import type { DropHook } from '../../src/cluster/transport/transport.js';
import { prng } from './prng.js';
import { checkArg, parseRequest, type Faults, type NodeStats, type Op, type Ops, type RecordedEvent, type Request, type Response } from './cluster-protocol.js';

if (process.send === undefined) {
  process.stderr.write('cluster-node-entry: start me with child_process.fork (an IPC channel is needed)\n');
  process.exit(2);
}
/** Set by `shutdown`: exit once its answer is on its way. */
let exiting = false;
const send = (r: Response): void => {
  process.send?.(r, undefined, {}, () => {
    if (exiting) process.exit(0);
  });
};

let cluster: Cluster | undefined;
const events: RecordedEvent[] = [];
let lossRate = 0;
let rand = prng(1);
let blocked = new Set<string>();

const dropHook: DropHook = {
  dropPacket: (_dir, peer) => blocked.has(peer.host) || (lossRate > 0 && rand() < lossRate),
  dropStream: (_dir, peer) => blocked.has(peer.host),
};

const line = (level: string) => (obj: object, msg?: string): void => {
  process.stderr.write(`${JSON.stringify({ t: Date.now(), level, msg, ...obj })}\n`);
};
const logger = { debug: () => undefined, info: line('info'), warn: line('warn'), error: line('error') };

function running(): Cluster {
  if (cluster === undefined) throw new Error('not started');
  return cluster;
}

async function handle<O extends Op>(op: O, arg: Ops[O][0]): Promise<Ops[O][1]>;
async function handle(op: Op, arg: unknown): Promise<unknown> {
  switch (op) {
    case 'start': {
      if (cluster !== undefined) throw new Error('already started');
      const spec = arg as Ops['start'][0];
      setTimeout(() => {
        process.stderr.write(`cluster-node-entry: ${spec.name} lived ${spec.maxLifetimeMs ?? 120_000} ms, exiting\n`);
        process.exit(3);
      }, spec.maxLifetimeMs ?? 120_000).unref();
      cluster = await Cluster.start({
        name: spec.name,
        bind: { host: spec.host, port: spec.port ?? 0 },
        profile: spec.profile ?? 'local',
        ...(spec.timings === undefined ? {} : { timings: spec.timings }),
        ...(spec.keys === undefined ? {} : { keys: spec.keys.map((k) => new Uint8Array(Buffer.from(k, 'base64'))) }),
        ...(spec.tags === undefined ? {} : { tags: spec.tags }),
        dropHook,
        logger,
      });
      cluster.onEvent((e) => {
        const m = e.type === 'conflict' ? e.other : e.member;
        events.push({ at: Date.now(), type: e.type, node: m.name, status: m.status, incarnation: m.incarnation, ...(e.type === 'suspect' ? { from: e.from } : {}) });
      });
      const local = cluster.transport.local;
      return { host: local.host, port: local.port };
    }
    case 'join':
      return running().join((arg as Ops['join'][0]).seeds);
    case 'members':
      return running()
        .members()
        .map((m) => ({ name: m.name, host: m.host, port: m.port, status: m.status, incarnation: m.incarnation, tags: m.tags }));
    case 'events':
      return events;
    case 'stats': {
      const c = running();
      const s = c.membership.stats();
      const t = c.transport.stats();
      const stats: NodeStats = {
        incarnation: s.incarnation,
        healthScore: s.healthScore,
        refutations: s.transitions.refutations,
        reassertions: s.transitions.reassertions,
        accusationsSent: s.transitions.accusationsSent,
        suspicionTimeouts: s.transitions.suspicionTimeouts,
        probesSent: s.probes.sent,
        probesAcked: s.probes.acked,
        probesIndirectAcked: s.probes.indirectAcked,
        probesTcpAcked: s.probes.tcpAcked,
        probesFailed: s.probes.failed,
        packetsDroppedIn: t.packetsDroppedIn,
        packetsDroppedOut: t.packetsDroppedOut,
        dialFailures: t.dialFailures,
        streamsRefused: t.streamsRefused,
      };
      return stats;
    }
    case 'setFaults': {
      const f = arg as Faults;
      lossRate = (f.lossPct ?? 0) / 100;
      rand = prng(f.seed ?? 1);
      blocked = new Set(f.blockedHosts ?? []);
      return null;
    }
    case 'leave':
      await running().leave((arg as Ops['leave'][0]).timeoutMs);
      return null;
    case 'shutdown':
      await cluster?.shutdown();
      exiting = true;
      return null;
  }
}

process.on('message', (raw: unknown) => {
  let req: Request;
  try {
    req = parseRequest(raw);
  } catch (e) {
    // Without an id there is nobody to answer: say so where the parent keeps the tail.
    process.stderr.write(`cluster-node-entry: ${e instanceof Error ? e.message : String(e)}\n`);
    return;
  }
  void (async () => {
    try {
      const result = await handle(req.op, checkArg(req.op, req.arg));
      send({ id: req.id, ok: true, result });
    } catch (e) {
      send({ id: req.id, ok: false, error: e instanceof Error ? e.message : String(e) });
    }
  })();
});
// The parent is gone (even killed): do not linger holding ports.
process.on('disconnect', () => process.exit(0));
