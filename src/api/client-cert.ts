/**
 * Who a client certificate says the caller is (`security.api.tls.client_auth`): its CN is the name,
 * its OU the role (as `caxton security gen-client-cert` writes them, docs/security.md). Only a
 * certificate the TLS layer verified against `security.api.tls.ca_cert` counts; with client_auth
 * optional an unverified one connects but is worth nothing here.
 */
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { isRole, type Role } from './auth.js';

export interface CertActor {
  /** The certificate's CN. */
  readonly name: string;
  /** Its OU, when that is exactly one known role; undefined: the certificate carries no role. */
  readonly role: Role | undefined;
  /** SHA-256 fingerprint: the rate limiter's bucket for this certificate. */
  readonly fingerprint: string;
  /** The certificate itself, for the revocation check (src/security/revocation.ts). */
  readonly cert: X509Certificate;
}

// One lookup per connection, not per request: getPeerCertificate() builds a new object each call.
const bySocket = new WeakMap<Socket, CertActor | null>();

/** The verified client certificate of the connection `socket`, or undefined (none, unverified, no CN). */
export function certActor(socket: Socket): CertActor | undefined {
  const cached = bySocket.get(socket);
  if (cached !== undefined) return cached ?? undefined;
  const actor = readActor(socket as Partial<TLSSocket>);
  bySocket.set(socket, actor ?? null);
  return actor;
}

function readActor(socket: Partial<TLSSocket>): CertActor | undefined {
  if (socket.authorized !== true || typeof socket.getPeerCertificate !== 'function') return undefined;
  const peer = socket.getPeerCertificate();
  const cn = peer.subject?.CN;
  if (typeof cn !== 'string' || cn.length === 0) return undefined;
  // Several OUs (an array) name no single role: such a certificate is not one of ours.
  const ou: unknown = peer.subject.OU;
  const cert = socket.getPeerX509Certificate?.();
  if (cert === undefined) return undefined;
  return { name: cn, role: isRole(ou) ? ou : undefined, fingerprint: peer.fingerprint256, cert };
}
