/**
 * Serf's internal queries, answered for the delegate (serf/internal_query.go): `_serf_ping`,
 * `_serf_conflict`, and the key queries `serf keys` sends (`_serf_install-key`, `_serf_use-key`,
 * `_serf_remove-key`, `_serf_list-keys`), applied to the keyring the codec uses. Also the answerer's
 * side of any query: QueryResponder (one answer, before the deadline).
 */
import type { Member } from '../membership/delegate.js';
import { type ClusterLogger } from '../transport/logger.js';
import { WireError, decodeSerfTags, decodeStruct, isWireError, type Keyring } from '../wire/index.js';
import { ipToBytes } from './addr.js';
import type { SerfKeyChange, SerfMemberStatus } from './delegate.js';
import {
  INTERNAL_QUERY_PREFIX,
  SerfMessageType,
  SerfStatusCode,
  encodeSerfMessage,
  keyRequestSchema,
  type MessageQuery,
  type MessageQueryResponse,
  type NodeKeyResponse,
  type SerfMemberWire,
} from './messages.js';

/** internal_query.go minEncodedKeyLength: bounds the keys a list-keys response may carry. */
const MIN_ENCODED_KEY_LENGTH = 25;

const EMPTY = new Uint8Array(0);

const STATUS_CODE: Record<SerfMemberStatus, number> = {
  alive: SerfStatusCode.Alive,
  leaving: SerfStatusCode.Leaving,
  left: SerfStatusCode.Left,
  failed: SerfStatusCode.Failed,
};

/** What answering needs from the delegate. */
export interface InternalQueryEnv {
  readonly nodeName: string;
  /** The ring key queries change; undefined when encryption is off. */
  readonly keyring: Keyring | undefined;
  readonly responseSizeLimit: number;
  readonly logger: ClusterLogger;
  member(name: string): { readonly name: string; readonly status: SerfMemberStatus; readonly member: Member | undefined } | undefined;
  keyChanged(change: SerfKeyChange): void;
}

function base64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

/** memberlist keyring errors, as Serf reports them in key responses. */
function keyringMessage(err: unknown): string {
  if (isWireError(err, 'key-size')) return 'key size must be 16, 24 or 32 bytes';
  if (isWireError(err, 'key-not-found')) return 'Requested key is not in the keyring';
  if (isWireError(err, 'remove-primary')) return 'Removing the primary key is not allowed';
  return err instanceof Error ? err.message : String(err);
}

export function answerInternalQuery(q: MessageQuery, responder: QueryResponder, env: InternalQueryEnv): void {
  const name = q.Name.slice(INTERNAL_QUERY_PREFIX.length);
  switch (name) {
    case 'ping':
      return; // the ack (if asked for) is the answer
    case 'conflict':
      answerConflict(q, responder, env);
      return;
    case 'install-key':
    case 'use-key':
    case 'remove-key':
      answerKeyChange(name, q, responder, env);
      return;
    case 'list-keys':
      answerListKeys(responder, env);
      return;
    default:
      env.logger.warn({ query: name }, 'serf: unhandled internal query');
  }
}

function answerConflict(q: MessageQuery, responder: QueryResponder, env: InternalQueryEnv): void {
  const node = new TextDecoder().decode(q.Payload ?? EMPTY);
  if (node === env.nodeName) return; // not about someone else: no answer
  const r = env.member(node);
  const m = r?.member;
  let out: SerfMemberWire | null = null;
  if (r !== undefined && m !== undefined) {
    let tags = new Map<string, string>();
    try {
      tags = decodeSerfTags(m.meta);
    } catch {
      // tags we cannot read: answer without them
    }
    out = {
      Name: r.name,
      Addr: ipToBytes(m.host) ?? null,
      Port: m.port,
      Tags: tags,
      Status: STATUS_CODE[r.status],
      ProtocolMin: m.vsn[0] ?? 0,
      ProtocolMax: m.vsn[1] ?? 0,
      ProtocolCur: m.vsn[2] ?? 0,
      DelegateMin: m.vsn[3] ?? 0,
      DelegateMax: m.vsn[4] ?? 0,
      DelegateCur: m.vsn[5] ?? 0,
    };
  }
  tryRespond(() => responder.respond(encodeSerfMessage(SerfMessageType.ConflictResponse, out)), env);
}

function answerKeyChange(name: 'install-key' | 'use-key' | 'remove-key', q: MessageQuery, responder: QueryResponder, env: InternalQueryEnv): void {
  const op = name === 'install-key' ? 'install' : name === 'use-key' ? 'use' : 'remove';
  let result = false;
  let message = '';
  let key: Uint8Array | undefined;
  const payload = q.Payload ?? EMPTY;
  try {
    if (payload.length < 1) throw new WireError('empty', 'empty key request');
    // Go decodes Payload[1:] without looking at the type byte (7).
    key = decodeStruct(keyRequestSchema, payload.subarray(1)).Key ?? EMPTY;
  } catch (err) {
    if (!isWireError(err)) throw err;
    env.logger.warn({ err: err.message }, 'serf: failed to decode key request');
  }
  if (key !== undefined) {
    const ring = env.keyring;
    if (ring === undefined || !ring.enabled) {
      message = 'No keyring to modify (encryption not enabled)';
    } else {
      try {
        if (op === 'install') ring.addKey(key);
        else if (op === 'use') ring.useKey(key);
        else ring.removeKey(key);
        result = true;
      } catch (err) {
        if (!isWireError(err)) throw err;
        message = keyringMessage(err);
      }
    }
    env.keyChanged({ op, key: Uint8Array.from(key), ok: result, message, sourceNode: q.SourceNode });
  }
  const resp: NodeKeyResponse = { Result: result, Message: message, Keys: null, PrimaryKey: '' };
  tryRespond(() => responder.respond(encodeSerfMessage(SerfMessageType.KeyResponse, resp)), env);
}

function answerListKeys(responder: QueryResponder, env: InternalQueryEnv): void {
  const ring = env.keyring;
  let resp: NodeKeyResponse;
  if (ring === undefined || !ring.enabled) {
    resp = { Result: false, Message: 'Keyring is empty (encryption not enabled)', Keys: null, PrimaryKey: '' };
  } else {
    const primary = ring.primaryView();
    resp = { Result: true, Message: '', Keys: ring.keysView().map(base64), PrimaryKey: primary === undefined ? '' : base64(primary) };
  }
  // keyListResponseWithCorrectSize: drop keys until the response fits.
  const limit = env.responseSizeLimit;
  const all = resp.Keys ?? [];
  for (let i = Math.floor(limit / MIN_ENCODED_KEY_LENGTH); i >= 0; i--) {
    const qresp = responder.response(encodeSerfMessage(SerfMessageType.KeyResponse, resp));
    const raw = encodeSerfMessage(SerfMessageType.QueryResponse, qresp);
    if (raw.length <= limit) {
      if (all.length > i) env.logger.warn({ message: resp.Message }, 'serf: truncated key list');
      tryRespond(() => responder.respondWith(raw, qresp), env);
      return;
    }
    resp = { ...resp, Keys: all.slice(0, i), Message: `truncated key list response, showing first ${i} of ${all.length} keys` };
  }
  env.logger.warn({}, 'serf: failed to truncate the key list so that it fits into a response');
}

function tryRespond(respond: () => void, env: InternalQueryEnv): void {
  try {
    respond();
  } catch (err) {
    env.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'serf: failed to respond to query');
  }
}

/** One query's answer: at most once, before the deadline (serf Query.respondWithMessageAndResponse). */
export class QueryResponder {
  #done = false;

  constructor(
    readonly query: MessageQuery,
    readonly from: string,
    readonly deadline: number,
    private readonly now: () => number,
    private readonly send: (raw: Uint8Array, resp: MessageQueryResponse) => void,
  ) {}

  response(payload: Uint8Array): MessageQueryResponse {
    return { LTime: this.query.LTime, ID: this.query.ID, From: this.from, Flags: 0, Payload: payload };
  }

  respond(payload: Uint8Array): void {
    const resp = this.response(payload);
    this.respondWith(encodeSerfMessage(SerfMessageType.QueryResponse, resp), resp);
  }

  /** Sends an already encoded response `raw` of `resp`. */
  respondWith(raw: Uint8Array, resp: MessageQueryResponse): void {
    if (this.#done) throw new Error('response already sent');
    if (this.now() >= this.deadline) throw new Error('response is past the deadline');
    this.send(raw, resp);
    this.#done = true;
  }
}
