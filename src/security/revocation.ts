/**
 * Certificate revocation (issue 13; docs/security.md, "Revocation"). The list is the same on every node:
 * a row per revoked serial, kept in the database (migration 12) and in memory for the checks, which run
 * at every link handshake and every API request with a client certificate.
 *
 * Two kinds of row (the check is ./revoked-certs.ts):
 * - a serial (`caxton security revoke --serial N`): that certificate is refused, whoever it names;
 * - a node (`--node X`): the serial X presents now is refused, and so is every certificate naming X
 *   (CN or DNS SAN) that was issued before the revocation.
 *
 * Rows only ever get added (a revocation is not undone through the cluster): merging two lists is their
 * union, whatever the order of arrival. A row met twice keeps the later revocation time.
 */
import type { X509Certificate } from 'node:crypto';
import { CaxtonError } from '../errors.js';
import type { SqliteDatabase } from '../storage/index.js';
import { RevokedCerts, type RevokedEntry } from './revoked-certs.js';

export type { RevokedEntry } from './revoked-certs.js';

const SERIAL = /^[0-9A-F]{1,64}$/;
const NODE_SERIAL = /^node:.{1,255}$/;
/** A reason longer than this is refused (it is for people, and it is copied to every node). */
export const REVOCATION_REASON_MAX = 300;
/** A post with more rows than this is refused: far more revocations than any cluster has. */
export const MAX_REVOKED_PER_BODY = 10_000;

/** Upper hex without colons or a leading "0x"; undefined when `s` is no serial number. */
export function normalizeSerial(s: string): string | undefined {
  const t = s.trim().replace(/^0x/i, '').replace(/:/g, '').toUpperCase();
  return SERIAL.test(t) ? t : undefined;
}

export class RevocationList {
  readonly #db: SqliteDatabase;
  readonly #index = new RevokedCerts();

  constructor(db: SqliteDatabase) {
    this.#db = db;
    const rows = db.prepare('SELECT serial, node, reason, revoked_at, revoked_by FROM revoked_certs').all() as { serial: string; node: string; reason: string; revoked_at: number; revoked_by: string }[];
    this.#index.add(rows.map((r) => ({ serial: r.serial, node: r.node, reason: r.reason, revokedAt: r.revoked_at, revokedBy: r.revoked_by })));
  }

  get size(): number {
    return this.#index.size;
  }

  entries(): RevokedEntry[] {
    return this.#index.entries();
  }

  /**
   * Adds rows (a local revocation, or a peer's list) and returns those that were new or moved later:
   * what changed here, to enforce and to pass on. Rows that do not parse are refused whole.
   */
  merge(rows: readonly RevokedEntry[]): RevokedEntry[] {
    const changed: RevokedEntry[] = [];
    const upsert = this.#db.prepare(
      `INSERT INTO revoked_certs (serial, node, reason, revoked_at, revoked_by) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (serial) DO UPDATE SET node = excluded.node, reason = excluded.reason, revoked_at = excluded.revoked_at, revoked_by = excluded.revoked_by
       WHERE excluded.revoked_at > revoked_certs.revoked_at`,
    );
    this.#db.transaction(() => {
      for (const r of rows) {
        if (!this.#index.isNews(r)) continue;
        upsert.run(r.serial, r.node, r.reason, r.revokedAt, r.revokedBy);
        changed.push(r);
      }
    })();
    this.#index.add(changed);
    return changed;
  }

  /** Why `cert` is refused ("its certificate (serial S) is revoked: reason"), or undefined when it is not revoked. */
  check(cert: X509Certificate): string | undefined {
    return this.#index.check(cert);
  }
}

/** The rows of a peer's `security.revoked` post, checked field by field. Throws a coded error naming the first bad one. */
export function parseRevokedRows(body: unknown): RevokedEntry[] {
  const list = (body as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(list) || list.length > MAX_REVOKED_PER_BODY) {
    throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', `a revocation list must be { entries: [...] } with at most ${MAX_REVOKED_PER_BODY} rows`);
  }
  return list.map((e: unknown, i) => {
    const r = e as Partial<Record<keyof RevokedEntry, unknown>> | null;
    const ok =
      r !== null &&
      typeof r === 'object' &&
      typeof r.serial === 'string' &&
      (SERIAL.test(r.serial) || NODE_SERIAL.test(r.serial)) &&
      typeof r.node === 'string' &&
      r.node.length <= 255 &&
      typeof r.reason === 'string' &&
      r.reason.length <= REVOCATION_REASON_MAX &&
      typeof r.revokedAt === 'number' &&
      Number.isSafeInteger(r.revokedAt) &&
      r.revokedAt > 0 &&
      typeof r.revokedBy === 'string' &&
      r.revokedBy.length <= 512;
    if (!ok) throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', `revocation row ${i} is malformed (serial, node, reason, revokedAt, revokedBy)`);
    return { serial: r.serial as string, node: r.node as string, reason: r.reason as string, revokedAt: r.revokedAt as number, revokedBy: r.revokedBy as string };
  });
}

/** A row's JSON in the API (GET /security/revoked). */
export function revokedJson(r: RevokedEntry): { serial: string; node: string | null; reason: string; revoked_at: string; revoked_by: string } {
  return { serial: r.serial, node: r.node === '' ? null : r.node, reason: r.reason, revoked_at: new Date(r.revokedAt).toISOString(), revoked_by: r.revokedBy };
}
