/**
 * Module blobs between nodes, addressed by sha256: a node that must run an agent whose module it does
 * not hold (a forwarded deploy, a failover, a replica) fetches the bytes from a peer that has them and
 * checks their hash before anything else sees them. Admission (validate, rewrite, compile) happens
 * afterwards, as for an upload: fetched bytes are no more trusted than uploaded ones.
 *
 * Two calls, so that a module of any size crosses in bounded frames:
 * - `module.stat` {hash} → {size} (null: not held here);
 * - `module.chunk` {hash, offset} → the raw bytes [offset, offset + MODULE_CHUNK_BYTES) (fewer at the end).
 * The bytes a node serves are the ones it stores for its deployments (the `modules` table), plus those
 * offered for the time of one operation (a deploy being forwarded: `ModuleServer.offer`).
 */
import { webcrypto } from 'node:crypto';
import { CaxtonError, isCaxtonError } from '../errors.js';
import type { NodeName, PeerBody, Peers } from '../cluster/peers.js';

export const MODULE_STAT = 'module.stat';
export const MODULE_CHUNK = 'module.chunk';

/** 1 MiB per chunk: a large module (50 MiB) is 50 calls, each a frame the link carries without stalling others. */
export const MODULE_CHUNK_BYTES = 1024 * 1024;
/** Modules larger than this are refused before a byte is fetched (as an upload is: sandbox.max_module_bytes). */
export const DEFAULT_MAX_FETCH_BYTES = 50 * 1024 * 1024;

const HASH = /^[0-9a-f]{64}$/;

/** Where a node finds the bytes of a module it holds (the DeploymentStore is one). */
export interface ModuleSource {
  module(hash: string): Uint8Array | undefined;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes)).toString('hex');
}

/** Serves this node's modules to peers. */
export class ModuleServer {
  /** hash → bytes offered for a while (count of offers, so that nested offers of one module work). */
  readonly #offered = new Map<string, { bytes: Uint8Array; count: number }>();

  constructor(
    peers: Peers,
    readonly source: ModuleSource,
  ) {
    peers.onCall(MODULE_STAT, (_from, body) => {
      const hash = requestedHash(body, MODULE_STAT);
      const bytes = this.#bytes(hash);
      return { size: bytes === undefined ? null : bytes.length };
    });
    peers.onCall(MODULE_CHUNK, (_from, body) => {
      const hash = requestedHash(body, MODULE_CHUNK);
      const offset = (body as { offset?: unknown }).offset;
      const bytes = this.#bytes(hash);
      if (bytes === undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', `this node does not hold module ${hash}`, { hash });
      if (!Number.isSafeInteger(offset) || (offset as number) < 0 || (offset as number) >= bytes.length) {
        throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', `${MODULE_CHUNK}: offset must be a whole number from 0 to ${bytes.length - 1}`, { hash });
      }
      const o = offset as number;
      // A copy: the answer may be queued while the caller's buffer is reused.
      return new Uint8Array(bytes.subarray(o, Math.min(bytes.length, o + MODULE_CHUNK_BYTES)));
    });
  }

  /** Serves `bytes` under `hash` until the returned function is called (a deploy being forwarded). */
  offer(hash: string, bytes: Uint8Array): () => void {
    const o = this.#offered.get(hash);
    if (o === undefined) this.#offered.set(hash, { bytes, count: 1 });
    else o.count++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const cur = this.#offered.get(hash);
      if (cur !== undefined && --cur.count === 0) this.#offered.delete(hash);
    };
  }

  #bytes(hash: string): Uint8Array | undefined {
    return this.#offered.get(hash)?.bytes ?? this.source.module(hash);
  }
}

function requestedHash(body: PeerBody, method: string): string {
  const hash = typeof body === 'object' && body !== null ? (body as { hash?: unknown }).hash : undefined;
  if (typeof hash !== 'string' || !HASH.test(hash)) throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', `${method}: hash must be 64 lowercase hex digits (a sha256)`);
  return hash;
}

export interface FetchOptions {
  /** Refuse modules larger than this, bytes. @default DEFAULT_MAX_FETCH_BYTES */
  readonly maxBytes?: number;
  /** Deadline of each call, ms. @default 10000 */
  readonly timeoutMs?: number;
  /** Told why each peer was passed over (missing, unreachable, corrupt). */
  readonly onPeerFailed?: (node: NodeName, error: CaxtonError) => void;
}

/**
 * Fetches module `hash` from the first of `from` that has it and sends bytes that hash to it. A peer
 * that does not hold it, cannot be reached, or sends other bytes is passed over for the next one. When
 * none succeeds: CAXTON_ERR_MODULE_HASH_MISMATCH if one sent wrong bytes (the one that matters most),
 * else CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE naming each peer's reason.
 */
export async function fetchModule(peers: Peers, hash: string, from: readonly NodeName[], opts: FetchOptions = {}): Promise<Uint8Array> {
  if (!HASH.test(hash)) throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', `module hash must be 64 lowercase hex digits (a sha256), got ${JSON.stringify(hash.slice(0, 80))}`);
  const failures: { node: NodeName; error: CaxtonError }[] = [];
  for (const node of from) {
    try {
      return await fetchFrom(peers, hash, node, opts);
    } catch (e) {
      const error = isCaxtonError(e) ? e : new CaxtonError('CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', `node ${node}: ${(e as Error).message}`, { node });
      failures.push({ node, error });
      opts.onPeerFailed?.(node, error);
    }
  }
  const mismatch = failures.find((f) => f.error.code === 'CAXTON_ERR_MODULE_HASH_MISMATCH');
  if (mismatch !== undefined) throw mismatch.error;
  const tooLarge = failures.find((f) => f.error.code === 'CAXTON_ERR_MODULE_TOO_LARGE');
  if (tooLarge !== undefined) throw tooLarge.error;
  const why = failures.map((f) => `${f.node}: ${f.error.message}`).join('; ');
  throw new CaxtonError('CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', from.length === 0 ? `no node to fetch module ${hash} from` : `no node could send module ${hash} (${why})`, {
    hash,
    tried: from.length,
  });
}

async function fetchFrom(peers: Peers, hash: string, node: NodeName, opts: FetchOptions): Promise<Uint8Array> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_FETCH_BYTES;
  const stat = await peers.call<unknown>(node, MODULE_STAT, { hash }, { timeoutMs });
  const size = typeof stat === 'object' && stat !== null ? (stat as { size?: unknown }).size : undefined;
  if (size === null) throw new CaxtonError('CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', `node ${node} does not hold module ${hash}`, { node, hash });
  if (!Number.isSafeInteger(size) || (size as number) < 1) throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', `node ${node} answered ${MODULE_STAT} without a valid size`, { node, hash });
  const total = size as number;
  if (total > maxBytes) throw new CaxtonError('CAXTON_ERR_MODULE_TOO_LARGE', `module ${hash} on node ${node} is ${total} bytes, over the ${maxBytes} this node accepts`, { node, hash, size: total });
  const out = new Uint8Array(total);
  for (let offset = 0; offset < total; ) {
    const chunk = await peers.call<unknown>(node, MODULE_CHUNK, { hash, offset }, { timeoutMs });
    const want = Math.min(MODULE_CHUNK_BYTES, total - offset);
    if (!(chunk instanceof Uint8Array) || chunk.length !== want) {
      throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', `node ${node} answered ${MODULE_CHUNK} at offset ${offset} with ${chunk instanceof Uint8Array ? `${chunk.length} bytes` : 'no bytes'}, expected ${want}`, { node, hash });
    }
    out.set(chunk, offset);
    offset += want;
  }
  const got = await sha256Hex(out);
  if (got !== hash) {
    throw new CaxtonError('CAXTON_ERR_MODULE_HASH_MISMATCH', `module bytes from node ${node} hash to ${got}, not ${hash}: refused before admission`, { node, expected: hash, actual: got });
  }
  return out;
}
