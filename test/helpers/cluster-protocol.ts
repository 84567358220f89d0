/**
 * The IPC protocol between a test (cluster-process.ts) and one cluster node in a child process
 * (cluster-node-entry.ts): requests with an id, one response each. Both sides validate what they
 * receive, so a malformed message is a clear error rather than a silent hang.
 */
import type { ClusterOptions, ClusterProfile } from '../../src/cluster/cluster.js';
import type { MemberEvent, MemberStatus } from '../../src/cluster/membership/delegate.js';

export interface NodeSpec {
  readonly name: string;
  /** 127.0.0.x. */
  readonly host: string;
  /** 0 (the default): any port free for both UDP and TCP. */
  readonly port?: number;
  readonly profile?: ClusterProfile;
  readonly timings?: ClusterOptions['timings'];
  /** Gossip keys, base64, primary first. */
  readonly keys?: readonly string[];
  readonly tags?: Readonly<Record<string, string>>;
  /** The child exits by itself after this long, whatever happens to the test. @default 120_000 */
  readonly maxLifetimeMs?: number;
}

/** Faults the child's drop hook applies from now on (each call replaces the previous faults). */
export interface Faults {
  /**
   * Chance (0..100) that a packet is dropped, applied by this node to every packet it sends and
   * every packet it receives; with the same loss on every node a packet crosses two hooks, so
   * per-hop loss is 1 − (1 − p)².
   */
  readonly lossPct?: number;
  /** Seed of the loss PRNG (mulberry32). @default 1 */
  readonly seed?: number;
  /** Hosts cut off: packets and streams to and from them are dropped (a partition). */
  readonly blockedHosts?: readonly string[];
}

export interface BoundAddress {
  readonly host: string;
  readonly port: number;
}

/** A membership event as the child recorded it; `at` is the child's Date.now() (one machine, one clock). */
export interface RecordedEvent {
  readonly at: number;
  readonly type: MemberEvent['type'];
  readonly node: string;
  readonly status: MemberStatus;
  readonly incarnation: number;
  /** Who accused the node (suspect events). */
  readonly from?: string;
}

export interface MemberView {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly status: MemberStatus;
  readonly incarnation: number;
  readonly tags: Readonly<Record<string, string>>;
}

export interface NodeStats {
  readonly incarnation: number;
  readonly healthScore: number;
  readonly refutations: number;
  /** Our alive sent straight to a node holding an accusation about us. */
  readonly reassertions: number;
  /** Suspicions this node started and sent straight to the suspect. */
  readonly accusationsSent: number;
  readonly suspicionTimeouts: number;
  /** Probes sent, acked directly, saved by an indirect or a TCP ping, failed (→ suspect). */
  readonly probesSent: number;
  readonly probesAcked: number;
  readonly probesIndirectAcked: number;
  readonly probesTcpAcked: number;
  readonly probesFailed: number;
  readonly packetsDroppedIn: number;
  readonly packetsDroppedOut: number;
  readonly dialFailures: number;
  readonly streamsRefused: number;
}

/** op → [argument, result]. */
export interface Ops {
  start: [NodeSpec, BoundAddress];
  join: [{ readonly seeds: readonly BoundAddress[] }, number];
  members: [null, MemberView[]];
  events: [null, RecordedEvent[]];
  stats: [null, NodeStats];
  setFaults: [Faults, null];
  leave: [{ readonly timeoutMs: number }, null];
  shutdown: [null, null];
}
export type Op = keyof Ops;
export const OPS: readonly Op[] = ['start', 'join', 'members', 'events', 'stats', 'setFaults', 'leave', 'shutdown'];

export interface Request {
  readonly id: number;
  readonly op: Op;
  readonly arg: unknown;
}

export type Response = { readonly id: number; readonly ok: true; readonly result: unknown } | { readonly id: number; readonly ok: false; readonly error: string };

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isId = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x > 0;

export function parseRequest(x: unknown): Request {
  if (!isObject(x) || !isId(x['id']) || typeof x['op'] !== 'string' || !(OPS as readonly string[]).includes(x['op'])) {
    throw new Error(`malformed request: ${JSON.stringify(x)}`);
  }
  return { id: x['id'], op: x['op'] as Op, arg: x['arg'] ?? null };
}

export function parseResponse(x: unknown): Response {
  if (isObject(x) && isId(x['id']) && x['ok'] === true && 'result' in x) return { id: x['id'], ok: true, result: x['result'] };
  if (isObject(x) && isId(x['id']) && x['ok'] === false && typeof x['error'] === 'string') return { id: x['id'], ok: false, error: x['error'] };
  throw new Error(`malformed response: ${JSON.stringify(x)?.slice(0, 200)}`);
}

const STATUSES: readonly string[] = ['alive', 'suspect', 'failed', 'left'];
const EVENT_TYPES: readonly string[] = ['join', 'update', 'suspect', 'failed', 'left', 'alive', 'reaped', 'conflict'];
const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x);
const isStringRecord = (x: unknown): boolean => isObject(x) && Object.values(x).every((v) => typeof v === 'string');
const isAddress = (x: unknown): x is BoundAddress => isObject(x) && typeof x['host'] === 'string' && isInt(x['port']) && x['port'] >= 0 && x['port'] < 65_536;

function fail(what: string, x: unknown): never {
  throw new Error(`malformed ${what}: ${JSON.stringify(x)?.slice(0, 200)}`);
}

/** Validates the argument of a request (child side). */
export function checkArg<O extends Op>(op: O, x: unknown): Ops[O][0] {
  switch (op) {
    case 'start': {
      const ok =
        isObject(x) &&
        typeof x['name'] === 'string' &&
        x['name'].length > 0 &&
        typeof x['host'] === 'string' &&
        (x['port'] === undefined || (isInt(x['port']) && x['port'] >= 0 && x['port'] < 65_536)) &&
        (x['profile'] === undefined || x['profile'] === 'lan' || x['profile'] === 'local' || x['profile'] === 'wan') &&
        (x['timings'] === undefined || (isObject(x['timings']) && Object.values(x['timings']).every((v) => typeof v === 'number' && Number.isFinite(v)))) &&
        (x['keys'] === undefined || (Array.isArray(x['keys']) && x['keys'].every((k) => typeof k === 'string'))) &&
        (x['tags'] === undefined || isStringRecord(x['tags'])) &&
        (x['maxLifetimeMs'] === undefined || (isInt(x['maxLifetimeMs']) && x['maxLifetimeMs'] > 0));
      return ok ? (x as unknown as NodeSpec) : fail('start argument', x);
    }
    case 'join':
      return isObject(x) && Array.isArray(x['seeds']) && x['seeds'].every(isAddress) ? (x as unknown as Ops[O][0]) : fail('join argument', x);
    case 'setFaults': {
      const ok =
        isObject(x) &&
        (x['lossPct'] === undefined || (typeof x['lossPct'] === 'number' && x['lossPct'] >= 0 && x['lossPct'] <= 100)) &&
        (x['seed'] === undefined || isInt(x['seed'])) &&
        (x['blockedHosts'] === undefined || (Array.isArray(x['blockedHosts']) && x['blockedHosts'].every((h) => typeof h === 'string')));
      return ok ? (x as unknown as Ops[O][0]) : fail('setFaults argument', x);
    }
    case 'leave':
      return isObject(x) && isInt(x['timeoutMs']) && x['timeoutMs'] > 0 ? (x as unknown as Ops[O][0]) : fail('leave argument', x);
    default:
      return x === null ? (null as Ops[O][0]) : fail(`${op} argument (expected none)`, x);
  }
}

/** Validates the result of a request (parent side). */
export function checkResult<O extends Op>(op: O, x: unknown): Ops[O][1] {
  const member = (m: unknown): boolean =>
    isObject(m) && typeof m['name'] === 'string' && typeof m['host'] === 'string' && isInt(m['port']) && STATUSES.includes(m['status'] as string) && isInt(m['incarnation']) && isStringRecord(m['tags']);
  const event = (e: unknown): boolean =>
    isObject(e) && isInt(e['at']) && EVENT_TYPES.includes(e['type'] as string) && typeof e['node'] === 'string' && STATUSES.includes(e['status'] as string) && isInt(e['incarnation']) && (e['from'] === undefined || typeof e['from'] === 'string');
  let ok: boolean;
  switch (op) {
    case 'start':
      ok = isAddress(x);
      break;
    case 'join':
      ok = isInt(x) && x >= 0;
      break;
    case 'members':
      ok = Array.isArray(x) && x.every(member);
      break;
    case 'events':
      ok = Array.isArray(x) && x.every(event);
      break;
    case 'stats':
      ok = isObject(x) && ['incarnation', 'healthScore', 'refutations', 'reassertions', 'accusationsSent', 'suspicionTimeouts', 'probesSent', 'probesAcked', 'probesIndirectAcked', 'probesTcpAcked', 'probesFailed', 'packetsDroppedIn', 'packetsDroppedOut', 'dialFailures', 'streamsRefused'].every((k) => typeof x[k] === 'number');
      break;
    default:
      ok = x === null;
  }
  return ok ? (x as Ops[O][1]) : fail(`${op} result`, x);
}
