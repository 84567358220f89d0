/**
 * Gossip key rotation started from this node (serf/keymanager.go): `_serf_install-key`,
 * `_serf_use-key`, `_serf_remove-key` and `_serf_list-keys` queries sent to every member, answers
 * tallied per node. The same queries `serf keys` sends, so a mixed Caxton/serf cluster rotates as one.
 *
 * A rotation that loses no member: install the new key everywhere, make it the primary everywhere,
 * then remove the old one. Each step must be answered by every member before the next.
 */
import { createHash } from 'node:crypto';
import { decodeSerfMessage, encodeSerfMessage, isSerfMessageType, SerfMessageType } from './messages.js';
import type { SerfDelegate } from './delegate.js';
import type { QueryResponse } from './query-response.js';
import { isWireError } from '../wire/index.js';

export type KeyOperation = 'install' | 'use' | 'remove' | 'list';

export interface KeyResponse {
  /** Members alive or suspect when the query was sent (serf NumNodes). */
  readonly numNodes: number;
  readonly numResponses: number;
  readonly numErrors: number;
  /** Per node: its error (or warning) message. */
  readonly messages: Readonly<Record<string, string>>;
  /** list only: base64 key → how many nodes hold it. */
  readonly keys: Readonly<Record<string, number>>;
  /** list only: base64 primary key → how many nodes use it. */
  readonly primaryKeys: Readonly<Record<string, number>>;
  /** Names of the nodes that answered. */
  readonly responded: readonly string[];
}

export interface KeyRequestOptions {
  /** Answers also relayed through this many other members (0–5), for lossy networks. @default 0 */
  readonly relayFactor?: number;
  /**
   * How long to wait for every member. The operation ends as soon as all answered.
   * @default the query default: gossip interval × 16 × ceil(log10(N + 1))
   */
  readonly timeoutMs?: number;
}

const QUERY_NAME: Record<KeyOperation, string> = {
  install: '_serf_install-key',
  use: '_serf_use-key',
  remove: '_serf_remove-key',
  list: '_serf_list-keys',
};

/** A gossip key: 16, 24 or 32 bytes (AES-128/192/256), given as base64. */
export function decodeGossipKey(base64: string): Uint8Array {
  const key = Buffer.from(base64, 'base64');
  if (key.toString('base64') !== base64.trim() || ![16, 24, 32].includes(key.length)) {
    throw new RangeError(`not a gossip key: expected base64 of 16, 24 or 32 bytes (try \`openssl rand -base64 32\`), got ${key.length} bytes`);
  }
  return new Uint8Array(key);
}

/** A short, safe name for a key (base64): the first 16 hex digits of its SHA-256. */
export function keyFingerprint(base64: string): string {
  return createHash('sha256').update(Buffer.from(base64, 'base64')).digest('hex').slice(0, 16);
}

export class KeyManager {
  #busy: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly serf: SerfDelegate,
    private readonly numMembers: () => number,
  ) {}

  install(key: Uint8Array, opts: KeyRequestOptions = {}): Promise<KeyResponse> {
    return this.#request('install', key, opts);
  }

  use(key: Uint8Array, opts: KeyRequestOptions = {}): Promise<KeyResponse> {
    return this.#request('use', key, opts);
  }

  remove(key: Uint8Array, opts: KeyRequestOptions = {}): Promise<KeyResponse> {
    return this.#request('remove', key, opts);
  }

  list(opts: KeyRequestOptions = {}): Promise<KeyResponse> {
    return this.#request('list', new Uint8Array(0), opts);
  }

  /** One operation at a time, as serf's KeyManager lock: a use-key must not overtake its install. */
  #request(op: KeyOperation, key: Uint8Array, opts: KeyRequestOptions): Promise<KeyResponse> {
    const run = this.#busy.then(() => this.#send(op, key, opts));
    this.#busy = run.catch(() => undefined);
    return run;
  }

  async #send(op: KeyOperation, key: Uint8Array, opts: KeyRequestOptions): Promise<KeyResponse> {
    const payload = encodeSerfMessage(SerfMessageType.KeyRequest, { Key: key });
    const numNodes = this.numMembers();
    const query: QueryResponse = this.serf.query(QUERY_NAME[op], payload, {
      ...(opts.relayFactor === undefined ? {} : { relayFactor: opts.relayFactor }),
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    });
    // Close as soon as every member answered, rather than waiting out the timeout.
    query.onResponse(() => {
      if (query.responseCount >= numNodes) query.close();
    });
    const { responses } = await query.done;
    const messages: Record<string, string> = {};
    const keys: Record<string, number> = {};
    const primaryKeys: Record<string, number> = {};
    let numErrors = 0;
    for (const r of responses) {
      const fail = (message: string): void => {
        messages[r.from] = message;
        numErrors++;
      };
      const type = r.payload[0];
      if (type === undefined || !isSerfMessageType(type) || type !== SerfMessageType.KeyResponse) {
        fail('invalid key query response type');
        continue;
      }
      let body;
      try {
        const m = decodeSerfMessage(r.payload);
        if (m.type !== SerfMessageType.KeyResponse) throw new Error('unreachable');
        body = m.body;
      } catch (err) {
        if (!isWireError(err)) throw err;
        fail(`failed to decode key query response: ${err.message}`);
        continue;
      }
      if (!body.Result) fail(body.Message);
      else if (body.Message !== '') messages[r.from] = body.Message;
      for (const k of body.Keys ?? []) keys[k] = (keys[k] ?? 0) + 1;
      if (op === 'list' && body.Result) primaryKeys[body.PrimaryKey] = (primaryKeys[body.PrimaryKey] ?? 0) + 1;
    }
    return { numNodes, numResponses: responses.length, numErrors, messages, keys, primaryKeys, responded: responses.map((r) => r.from) };
  }
}

/** Whether a key operation reached every member without error (serf's error conditions). */
export function keyResponseProblem(r: KeyResponse): string | undefined {
  if (r.numErrors !== 0) return `${r.numErrors}/${r.numNodes} nodes reported failure`;
  if (r.numResponses !== r.numNodes) return `${r.numResponses}/${r.numNodes} nodes reported success`;
  return undefined;
}
