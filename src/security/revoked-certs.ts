/**
 * The revocation list in memory, and the check a peer's certificate must pass (docs/security.md,
 * "Revocation"). The node's RevocationList (./revocation.ts) keeps it in the database and spreads it;
 * worker threads keep a copy for the direct path's connections (src/sandbox/worker/direct-link.ts).
 * Only node:crypto, so that a worker does not load the PKI.
 *
 * Two kinds of row:
 * - a serial: that certificate is refused, whoever it names;
 * - a node: every certificate naming it (CN or DNS SAN) that was issued before the revocation. "Issued
 *   before" is read from notBefore, which the built-in CA backdates by BACKDATE_MS: a certificate is
 *   refused when notBefore + BACKDATE_MS is before the revocation time. One issued after it is a
 *   re-issue, and is accepted: that is how a revoked node comes back.
 */
import type { X509Certificate } from 'node:crypto';
import { namesNode } from './cert-names.js';

/**
 * notBefore is set this far before the moment of issue by the built-in CA (./pki.ts), so that a node
 * whose clock is a little behind the CA's accepts a certificate issued just now (the runbook issues
 * and starts in one go).
 */
export const BACKDATE_MS = 5 * 60_000;

export interface RevokedEntry {
  /** Upper-case hex as pki.ts prints it; "node:<name>" for a node revoked while none of its serials was known. */
  readonly serial: string;
  /** The node's name for a node revocation; '' for a serial revoked alone. */
  readonly node: string;
  readonly reason: string;
  /** ms since the epoch. */
  readonly revokedAt: number;
  /** Who revoked it: the API actor, and the node it was asked on. */
  readonly revokedBy: string;
}

export class RevokedCerts {
  readonly #serials = new Map<string, RevokedEntry>();
  /** node name -> the latest time it was revoked. */
  readonly #nodes = new Map<string, number>();

  get size(): number {
    return this.#serials.size;
  }

  /** The rows, oldest first. */
  entries(): RevokedEntry[] {
    return [...this.#serials.values()].sort((a, b) => a.revokedAt - b.revokedAt || a.serial.localeCompare(b.serial));
  }

  /** True when `r` is new here or revokes later than the row held (what a merge keeps). */
  isNews(r: RevokedEntry): boolean {
    const had = this.#serials.get(r.serial);
    return had === undefined || had.revokedAt < r.revokedAt;
  }

  /** Adds rows; a row met twice keeps the later revocation time. Returns those that changed something. */
  add(rows: readonly RevokedEntry[]): RevokedEntry[] {
    const changed: RevokedEntry[] = [];
    for (const r of rows) {
      if (!this.isNews(r)) continue;
      this.#serials.set(r.serial, r);
      if (r.node !== '' && (this.#nodes.get(r.node) ?? 0) < r.revokedAt) this.#nodes.set(r.node, r.revokedAt);
      changed.push(r);
    }
    return changed;
  }

  /** Why `cert` is refused ("its certificate (serial S) is revoked..."), or undefined when it is not revoked. */
  check(cert: X509Certificate): string | undefined {
    if (this.#serials.size === 0) return undefined;
    const serial = cert.serialNumber.toUpperCase();
    const bySerial = this.#serials.get(serial);
    if (bySerial !== undefined) return `its certificate (serial ${serial}) is revoked${bySerial.reason === '' ? '' : ` (${bySerial.reason})`}`;
    for (const [node, at] of this.#nodes) {
      if (namesNode(cert, node) && Date.parse(cert.validFrom) + BACKDATE_MS < at) {
        return `its certificate (serial ${serial}) for node ${node} is revoked: it was issued before node ${node} was revoked at ${new Date(at).toISOString()}`;
      }
    }
    return undefined;
  }
}
