/**
 * mTLS for the node-to-node link (issue 13; docs/security.md, "mTLS between nodes"). The dialer
 * starts TLS on the gossip port at once: its first byte is a TLS record's (0x16, a handshake), which
 * no memberlist stream starts with (message types 0-13, label 244) and which is not LINK_MAGIC, so the
 * acceptor's sniffer can tell the three apart. Inside TLS the link goes on exactly as over plain TCP
 * (LINK_MAGIC, Hello, ...).
 *
 * TLS 1.3 only, both ways authenticated: each side presents its node certificate and accepts only a
 * certificate that chains to the cluster CA. The names are checked here on the dialer's side (the
 * acceptor's certificate must name the node that was dialed) and by the link's handshake on the
 * acceptor's side (the dialer's certificate must name the node its Hello claims), where the name is
 * first known.
 *
 * A revoked certificate (src/security/revocation.ts) chains to the CA like any other: it is refused
 * after verification, in checkServerIdentity on the dialer's side and by the transport as soon as the
 * acceptor's handshake completes, before the link reads a byte.
 *
 * The material sits in one object that is read for each new connection, so a reload (rotate-certs,
 * SIGHUP) swaps it with `set`: connections already open keep the context they were made with.
 */
import { X509Certificate } from 'node:crypto';
import type net from 'node:net';
import tls from 'node:tls';
import { certNames, namesNode } from '../../security/cert-names.js';

/** A node's PEM texts, as loadNodeTls (src/security/tls-material.ts) returns them. */
export interface LinkTlsMaterial {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** Why a certificate that chains to the CA is refused all the same (it is revoked), or undefined. */
export type RevocationCheck = (cert: X509Certificate) => string | undefined;

/** The first byte of a TLS record carrying a handshake (a ClientHello, from a dialer). */
export const TLS_HANDSHAKE_RECORD = 0x16;

/** Why the acceptor refused a dialer's certificate, from OpenSSL's verify code, for the log line. */
const VERIFY_REASONS: Readonly<Record<string, string>> = {
  CERT_HAS_EXPIRED: 'its certificate has expired',
  CERT_NOT_YET_VALID: 'its certificate is not valid yet (check the clocks)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "its certificate was not issued by this cluster's CA",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "its certificate was not issued by this cluster's CA",
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its certificate is self-signed, not issued by the cluster CA',
  CERT_SIGNATURE_FAILURE: "its certificate's signature does not verify against the cluster CA",
  CERT_REVOKED: 'its certificate is revoked',
};

export function verifyReason(code: string | undefined): string {
  if (code === undefined) return 'it presented no valid certificate';
  return `${VERIFY_REASONS[code] ?? 'its certificate did not verify'} (${code})`;
}

/** Bounds an acceptor's TLS handshake: a stranger cannot hold a half-open handshake for long. */
const TLS_HANDSHAKE_TIMEOUT_MS = 5000;

export class LinkTls {
  /** Never listens: accepted sockets are handed to it (`emit('connection')`), as tls.Server allows. */
  readonly #server: tls.Server;
  #clientContext: tls.SecureContext;
  /** Why a verified peer certificate is refused all the same (revoked), or undefined; none: nothing is. */
  #revoked: RevocationCheck | undefined;

  constructor(material: LinkTlsMaterial, handlers: { secure(socket: tls.TLSSocket): void; refused(err: Error, socket: tls.TLSSocket): void }) {
    this.#server = tls.createServer({
      ...LinkTls.#options(material),
      requestCert: true,
      rejectUnauthorized: true,
      handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
    });
    this.#server.on('secureConnection', (s: tls.TLSSocket) => handlers.secure(s));
    this.#server.on('tlsClientError', (err: Error, s: tls.TLSSocket) => handlers.refused(err, s));
    this.#clientContext = tls.createSecureContext(LinkTls.#options(material));
  }

  /**
   * New connections use `material` from now on; open ones keep the context they were made with.
   * Throws (and changes nothing) when the PEM texts cannot make a context.
   */
  set(material: LinkTlsMaterial): void {
    const client = tls.createSecureContext(LinkTls.#options(material));
    this.#server.setSecureContext(LinkTls.#options(material));
    this.#clientContext = client;
  }

  /** From now on a peer certificate `check` names a reason for is refused (src/security/revocation.ts). */
  setRevocationCheck(check: RevocationCheck): void {
    this.#revoked = check;
  }

  /** Why `cert` is refused as revoked, or undefined. */
  revoked(cert: X509Certificate): string | undefined {
    return this.#revoked?.(cert);
  }

  static #options(m: LinkTlsMaterial): tls.SecureContextOptions {
    return { ca: m.ca, cert: m.cert, key: m.key, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' };
  }

  /** Runs the server side over an accepted socket whose first bytes (the ClientHello) are still unread. */
  accept(socket: net.Socket): void {
    this.#server.emit('connection', socket);
  }

  /** The client side over a connected socket to the node `node`. */
  connect(socket: net.Socket, node: string): tls.TLSSocket {
    return tls.connect({
      socket,
      secureContext: this.#clientContext,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      rejectUnauthorized: true,
      // Called once the chain verified: the host is an address, the identity is the node name.
      checkServerIdentity: (_host, cert) => {
        const x = new X509Certificate(cert.raw);
        if (!namesNode(x, node)) return new Error(`its certificate is for ${certNames(x)}, not for node ${node}, which was dialed`);
        const revoked = this.#revoked?.(x);
        return revoked === undefined ? undefined : new Error(revoked);
      },
    });
  }
}
