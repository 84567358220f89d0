/**
 * API keys, cluster-wide: every node holds every key (they are few and small), so that one admin key
 * works on every node and a revocation takes effect everywhere.
 *
 * - A change made on this node (create, role change, revocation) is posted at once to every alive
 *   member (`keys.update`): one hop, a few milliseconds on a healthy cluster.
 * - Anti-entropy repairs what a post missed (a partition, a node that was down, a lost frame): every
 *   `intervalMs` this node exchanges digests with one random alive member (`keys.sync`): it sends
 *   (id, version) of everything it holds; the peer answers with its entries that are newer or unknown
 *   here, and names those it wants; this node posts those back. One round is one call and at most one
 *   post, and both sides are even afterwards. The integrator also calls `syncWith(node)` when a member
 *   joins, so a new node has the cluster's keys (and the cluster its admin key) within one exchange.
 *
 * Which copy wins is the store's rule (compareKeyVersions: Lamport version, then revocation, then
 * origin): the same on every node, whatever the order of arrival. A body that does not parse is
 * refused whole, with a logged reason; nothing of it is applied.
 */
import { CaxtonError } from '../errors.js';
import { isRole, KEY_NAME_PATTERN } from '../api/auth.js';
import { versionOf, compareKeyVersions, type ApiKeyEntry, type ApiKeyStore, type KeyVersion } from '../storage/index.js';
import type { NodeName, PeerBody, Peers } from './peers.js';

/** Post: entries changed (or wanted by an anti-entropy peer). Body: { entries: WireEntry[] }. */
export const KEYS_UPDATE = 'keys.update';
/** Call: anti-entropy. Body: { digest: DigestItem[] }; answer: { entries: WireEntry[], want: string[] }. */
export const KEYS_SYNC = 'keys.sync';

/** One round every 2 s: a revocation a post missed reaches a 5-node cluster in a few rounds (docs/operations.md). */
export const DEFAULT_KEY_SYNC_INTERVAL_MS = 2000;
/** A body with more entries than this is refused: far more keys than any cluster has. */
export const MAX_KEYS_PER_BODY = 10_000;

const KEY_NAME = new RegExp(KEY_NAME_PATTERN);
const HASH = /^[0-9a-f]{64}$/;
const FINGERPRINT = /^[0-9a-f]{16}$/;

/** [id, version, origin, revoked (0|1), fingerprint]: what decides between two copies of a key. */
type DigestItem = [string, number, string, 0 | 1, string];

export interface KeySyncLogger {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface KeySyncOptions {
  readonly peers: Peers;
  readonly store: ApiKeyStore;
  /** The alive Caxton members other than this node, asked at each push and each round. */
  readonly members: () => readonly NodeName[];
  readonly logger: KeySyncLogger;
  /** Anti-entropy period, ms. @default DEFAULT_KEY_SYNC_INTERVAL_MS */
  readonly intervalMs?: number;
  /** Deadline of a digest exchange, ms. @default 5000 */
  readonly callTimeoutMs?: number;
  /** Picks the anti-entropy peer (tests give a seeded one). @default Math.random */
  readonly random?: () => number;
}

export class KeySync {
  readonly #o: KeySyncOptions;
  readonly #random: () => number;
  readonly #off: () => void;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  /** Entries applied from peers, and bodies refused, since start (for tests and metrics). */
  applied = 0;
  refused = 0;

  constructor(o: KeySyncOptions) {
    this.#o = o;
    this.#random = o.random ?? Math.random;
    o.peers.onPost(KEYS_UPDATE, (from, body) => this.#onUpdate(from, body));
    o.peers.onCall(KEYS_SYNC, (from, body) => this.#onSync(from, body));
    this.#off = o.store.onChange((changed) => this.push(changed));
  }

  /** Starts the anti-entropy rounds. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.round(), this.#o.intervalMs ?? DEFAULT_KEY_SYNC_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Stops the rounds and the pushes. Idempotent. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#off();
  }

  /** Posts entries to every alive member; returns to how many it was queued. */
  push(entries: readonly ApiKeyEntry[]): number {
    const body = { entries: entries.map(toWire) };
    let sent = 0;
    for (const m of this.#o.members()) if (m !== this.#o.peers.self && this.#o.peers.post(m, KEYS_UPDATE, body)) sent++;
    return sent;
  }

  /** One anti-entropy round with one random alive member. False when there was none or it failed. */
  async round(): Promise<boolean> {
    if (this.#running) return false; // a slow peer: never two exchanges at once
    const members = this.#o.members().filter((m) => m !== this.#o.peers.self);
    if (members.length === 0) return false;
    const peer = members[Math.floor(this.#random() * members.length)] as NodeName;
    this.#running = true;
    try {
      await this.syncWith(peer);
      return true;
    } catch (e) {
      this.#o.logger.debug({ peer, err: (e as Error).message }, 'API key anti-entropy round failed; the next round picks another peer');
      return false;
    } finally {
      this.#running = false;
    }
  }

  /** Exchanges digests with `node`: afterwards both hold the winner of every key either had. */
  async syncWith(node: NodeName): Promise<{ received: number; sent: number }> {
    const digest: DigestItem[] = this.#o.store.entries().map(digestItem);
    const answer = await this.#o.peers.call(node, KEYS_SYNC, { digest }, { timeoutMs: this.#o.callTimeoutMs ?? 5000 });
    const parsed = parseSyncAnswer(answer);
    if (typeof parsed === 'string') {
      this.refused++;
      this.#o.logger.warn({ from: node, reason: parsed }, 'refused an API key sync answer from a peer');
      throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', `node ${node} answered ${KEYS_SYNC} with a malformed body: ${parsed}`, { node });
    }
    const received = this.#merge(node, parsed.entries);
    const wanted = parsed.want.map((id) => this.#o.store.entry(id)).filter((e): e is ApiKeyEntry => e !== undefined);
    if (wanted.length > 0) this.#o.peers.post(node, KEYS_UPDATE, { entries: wanted.map(toWire) });
    return { received, sent: wanted.length };
  }

  #onUpdate(from: NodeName, body: PeerBody): void {
    const entries = parseEntriesBody(body);
    if (typeof entries === 'string') {
      this.refused++;
      this.#o.logger.warn({ from, reason: entries }, 'refused an API key update from a peer');
      return;
    }
    this.#merge(from, entries);
  }

  #onSync(from: NodeName, body: PeerBody): { entries: WireEntry[]; want: string[] } {
    const digest = parseDigestBody(body);
    if (typeof digest === 'string') {
      this.refused++;
      this.#o.logger.warn({ from, reason: digest }, 'refused an API key sync request from a peer');
      throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', `${KEYS_SYNC}: ${digest}`, { node: from });
    }
    const theirs = new Map(digest.map((d) => [d[0], { version: d[1], origin: d[2], revoked: d[3] === 1, fingerprint: d[4] } satisfies KeyVersion]));
    const entries: WireEntry[] = [];
    for (const e of this.#o.store.entries()) {
      const t = theirs.get(e.id);
      if (t === undefined || compareKeyVersions(versionOf(e), t) > 0) entries.push(toWire(e));
    }
    const want: string[] = [];
    for (const [id, t] of theirs) {
      const mine = this.#o.store.entry(id);
      if (mine === undefined || compareKeyVersions(t, versionOf(mine)) > 0) want.push(id);
    }
    return { entries, want };
  }

  #merge(from: NodeName, entries: readonly ApiKeyEntry[]): number {
    const { applied, conflicts } = this.#o.store.merge(entries);
    this.applied += applied.length;
    for (const c of conflicts) this.#o.logger.warn({ from, id: c.id, name: c.name }, 'refused an API key from a peer: another key here has the same hash');
    return applied.length;
  }
}

/** An entry on the wire: the store's entry with `revoked` as 0/1. */
export interface WireEntry {
  id: string;
  name: string;
  role: string;
  hash: string;
  created_at: number;
  version: number;
  origin: string;
  revoked: 0 | 1;
}

function toWire(e: ApiKeyEntry): WireEntry {
  return { id: e.id, name: e.name, role: e.role, hash: e.hash, created_at: e.createdAt, version: e.version, origin: e.origin, revoked: e.revoked ? 1 : 0 };
}

function digestItem(e: ApiKeyEntry): DigestItem {
  const v = versionOf(e);
  return [e.id, v.version, v.origin, v.revoked ? 1 : 0, v.fingerprint];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const isId = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= 64;
const isOrigin = (v: unknown): v is string => typeof v === 'string' && v.length <= 255;
const isVersion = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1;

/** An entry from a peer, or why it is refused. */
export function parseWireEntry(v: unknown, where: string): ApiKeyEntry | string {
  if (!isObject(v)) return `${where} is not an object`;
  if (!isId(v['id'])) return `${where}.id must be a string of 1 to 64 characters`;
  if (typeof v['name'] !== 'string' || v['name'].length < 1 || v['name'].length > 100 || !KEY_NAME.test(v['name'])) return `${where}.name is not a key name`;
  if (!isRole(v['role'])) return `${where}.role is not a role (viewer, developer, operator, admin)`;
  if (typeof v['hash'] !== 'string' || !HASH.test(v['hash'])) return `${where}.hash must be 64 lowercase hex digits`;
  if (!Number.isSafeInteger(v['created_at']) || (v['created_at'] as number) < 0) return `${where}.created_at must be a whole number of ms`;
  if (!isVersion(v['version'])) return `${where}.version must be a whole number of 1 or more`;
  if (!isOrigin(v['origin'])) return `${where}.origin must be a node name`;
  if (v['revoked'] !== 0 && v['revoked'] !== 1) return `${where}.revoked must be 0 or 1`;
  return { id: v['id'], name: v['name'], role: v['role'], hash: v['hash'], createdAt: v['created_at'] as number, version: v['version'], origin: v['origin'], revoked: v['revoked'] === 1 };
}

function parseEntryList(v: unknown, where: string): ApiKeyEntry[] | string {
  if (!Array.isArray(v)) return `${where} must be an array`;
  if (v.length > MAX_KEYS_PER_BODY) return `${where} has ${v.length} entries, more than ${MAX_KEYS_PER_BODY}`;
  const out: ApiKeyEntry[] = [];
  for (let i = 0; i < v.length; i++) {
    const e = parseWireEntry(v[i], `${where}[${i}]`);
    if (typeof e === 'string') return e;
    out.push(e);
  }
  return out;
}

function parseEntriesBody(body: unknown): ApiKeyEntry[] | string {
  if (!isObject(body)) return 'body is not an object';
  return parseEntryList(body['entries'], 'entries');
}

function parseDigestBody(body: unknown): DigestItem[] | string {
  if (!isObject(body)) return 'body is not an object';
  const d = body['digest'];
  if (!Array.isArray(d)) return 'digest must be an array';
  if (d.length > MAX_KEYS_PER_BODY) return `digest has ${d.length} items, more than ${MAX_KEYS_PER_BODY}`;
  for (let i = 0; i < d.length; i++) {
    const it: unknown = d[i];
    if (!Array.isArray(it) || it.length !== 5) return `digest[${i}] must be [id, version, origin, revoked, fingerprint]`;
    const [id, version, origin, revoked, fp] = it as unknown[];
    if (!isId(id)) return `digest[${i}][0] (id) must be a string of 1 to 64 characters`;
    if (!isVersion(version)) return `digest[${i}][1] (version) must be a whole number of 1 or more`;
    if (!isOrigin(origin)) return `digest[${i}][2] (origin) must be a node name`;
    if (revoked !== 0 && revoked !== 1) return `digest[${i}][3] (revoked) must be 0 or 1`;
    if (typeof fp !== 'string' || !FINGERPRINT.test(fp)) return `digest[${i}][4] (fingerprint) must be 16 hex digits`;
  }
  return d as DigestItem[];
}

function parseSyncAnswer(v: unknown): { entries: ApiKeyEntry[]; want: string[] } | string {
  if (!isObject(v)) return 'answer is not an object';
  const entries = parseEntryList(v['entries'], 'entries');
  if (typeof entries === 'string') return entries;
  const want = v['want'];
  if (!Array.isArray(want) || want.length > MAX_KEYS_PER_BODY || !want.every(isId)) return 'want must be an array of key ids';
  return { entries, want: want as string[] };
}
