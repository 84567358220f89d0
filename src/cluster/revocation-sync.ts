/**
 * Revocation across the cluster (docs/security.md, "Revocation"): a revocation made on one node is
 * posted at once to every alive Caxton member (`security.revoked`), and a member that joins or comes
 * back gets the whole list (anti-entropy, as the API keys' KeySync does on memberJoined), so a node that
 * was down or cut off when the revocation was made catches up at its return. Each node enforces what
 * arrives: the link refuses revoked peers at the next handshake and closes open connections to them.
 *
 * Rows only get added, and merging is a union (RevocationList.merge), so posts may arrive in any order
 * or twice. A body that does not parse is refused whole, with a logged reason.
 */
import type { X509Certificate } from 'node:crypto';
import { CaxtonError } from '../errors.js';
import { normalizeSerial, parseRevokedRows, type RevocationList, type RevokedEntry } from '../security/revocation.js';
import { namesNode } from '../security/cert-names.js';
import type { NodeName, Peers } from './peers.js';

/** Post: rows of the revocation list (new ones, or the whole list to a joining member). Body: { entries }. */
export const SECURITY_REVOKED = 'security.revoked';

export interface RevocationsLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** What revocation needs of the link's transport (NetTransport): its check, its open peers' certificates. */
export interface RevocationTransport {
  setRevocationCheck(check: (cert: X509Certificate) => string | undefined): void;
  closeRevoked(): number;
  linkPeerCerts(): X509Certificate[];
}

export interface RevokeRequest {
  readonly serial?: string;
  readonly node?: string;
  readonly reason?: string;
  /** The API actor that asked. */
  readonly by: string;
}

export class Revocations {
  readonly list: RevocationList;
  readonly #self: NodeName;
  readonly #log: RevocationsLogger;
  readonly #transport: RevocationTransport | undefined;
  #peers: Peers | undefined;
  #members: () => readonly NodeName[] = () => [];
  readonly #listeners: ((rows: readonly RevokedEntry[]) => void)[] = [];

  constructor(o: { list: RevocationList; self: NodeName; logger: RevocationsLogger; transport?: RevocationTransport }) {
    this.list = o.list;
    this.#self = o.self;
    this.#log = o.logger;
    this.#transport = o.transport;
    this.#transport?.setRevocationCheck((cert) => this.list.check(cert));
    // The link may have accepted a peer before the check was set (the cluster starts first).
    this.#transport?.closeRevoked();
  }

  /** Spreads revocations through `peers` to `members` (alive Caxton members other than this node), and takes theirs. */
  attach(peers: Peers, members: () => readonly NodeName[]): void {
    this.#peers = peers;
    this.#members = members;
    peers.onPost(SECURITY_REVOKED, (from, body) => {
      let rows: RevokedEntry[];
      try {
        rows = parseRevokedRows(body);
      } catch (e) {
        this.#log.warn({ peer: from, err: (e as Error).message }, `revocation list from ${from} refused: ${(e as Error).message}`);
        return;
      }
      const changed = this.list.merge(rows);
      if (changed.length === 0) return;
      this.#log.info({ peer: from, rows: changed.map(describe) }, `revocation list: ${changed.length} new revocation(s) from ${from}: ${changed.map(describe).join('; ')}`);
      this.#enforce(changed);
    });
  }

  /**
   * Revokes a serial, or a node: the serials of the certificates that node presents now on this node's
   * link, and (by its name) every certificate of it issued before now. Applied here, enforced, and
   * posted to every alive member. Returns the rows added. Throws a coded error on bad input.
   */
  revoke(req: RevokeRequest): RevokedEntry[] {
    const reason = req.reason ?? '';
    const by = `${req.by}@${this.#self}`;
    const now = Date.now();
    let rows: RevokedEntry[];
    if ((req.serial === undefined) === (req.node === undefined)) {
      throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', 'give exactly one of node (a node name) or serial (a certificate serial number in hex)', { field: 'body' });
    }
    if (req.serial !== undefined) {
      const serial = normalizeSerial(req.serial);
      if (serial === undefined) {
        throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', `body.serial must be a certificate serial number in hex (as \`caxton security cert-status\` and \`openssl x509 -serial\` show it), got "${req.serial}"`, { field: 'body.serial' });
      }
      rows = [{ serial, node: '', reason, revokedAt: now, revokedBy: by }];
    } else {
      const node = req.node as string;
      if (node === this.#self) {
        throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', `node ${node} is the node asked: it cannot revoke itself; ask another node`, { field: 'body.node' });
      }
      const serials = new Set((this.#transport?.linkPeerCerts() ?? []).filter((c) => namesNode(c, node)).map((c) => c.serialNumber.toUpperCase()));
      rows = serials.size === 0 ? [{ serial: `node:${node}`, node, reason, revokedAt: now, revokedBy: by }] : [...serials].map((serial) => ({ serial, node, reason, revokedAt: now, revokedBy: by }));
    }
    const changed = this.list.merge(rows);
    this.#log.warn({ rows: rows.map(describe), by }, `revoked ${rows.map(describe).join('; ')}${reason === '' ? '' : ` (${reason})`}`);
    this.#enforce(changed);
    // Rows already known here (a repeated revocation) were spread when they were made.
    if (changed.length > 0) for (const m of this.#targets()) this.#peers?.post(m, SECURITY_REVOKED, { entries: changed });
    return rows;
  }

  /** Sends the whole list to `member` (it joined or came back): what it missed while away. */
  pushTo(member: NodeName): void {
    if (this.#peers === undefined || member === this.#self || this.list.size === 0 || !this.#targets().includes(member)) return;
    this.#peers.post(member, SECURITY_REVOKED, { entries: this.list.entries() });
  }

  /**
   * Alive Caxton members. A revoked node is among them (gossip does not use certificates): a post to it
   * fails at the link's handshake, which is harmless, and once it is back with a re-issued certificate
   * it must hear of later revocations like any node.
   */
  #targets(): NodeName[] {
    return this.#members().filter((m) => m !== this.#self);
  }

  /** `listener` hears the rows each change added (the direct path closes its own connections by them). */
  onRevoked(listener: (rows: readonly RevokedEntry[]) => void): void {
    this.#listeners.push(listener);
  }

  #enforce(changed: readonly RevokedEntry[]): void {
    this.#transport?.closeRevoked();
    if (changed.length > 0) for (const l of this.#listeners) l(changed);
  }
}

function describe(r: RevokedEntry): string {
  return r.node === '' ? `serial ${r.serial}` : `node ${r.node} (serial ${r.serial})`;
}
