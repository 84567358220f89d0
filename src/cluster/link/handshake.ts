/**
 * Authenticating a link's handshake with the gossip keys, until mTLS (issue 13) takes over: a stranger
 * who can reach the gossip port must not inject frames. Each side sends a fresh random nonce in its
 * hello; each then proves it holds a key of the ring by sending
 *
 *     HMAC-SHA256(key, "caxton-link-v1" | role | peer's nonce | own name | peer's name)
 *
 * keyed by its primary key. The receiver accepts a proof made with any key of its ring (so a key
 * rotation, which installs the new key everywhere before using it, never cuts a link). The role
 * ("D" dialer, "A" acceptor) keeps one side's proof from being replayed as the other's; the nonces
 * keep an old proof from being replayed on a new connection.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { NONCE_BYTES } from './frame.js';

export type Role = 'dialer' | 'acceptor';

const LABEL = Buffer.from('caxton-link-v1');

export function newNonce(): Uint8Array {
  return new Uint8Array(randomBytes(NONCE_BYTES));
}

export function makeProof(key: Uint8Array, role: Role, peerNonce: Uint8Array, self: string, peer: string): Uint8Array {
  const h = createHmac('sha256', key);
  h.update(LABEL);
  h.update(role === 'dialer' ? 'D' : 'A');
  h.update(peerNonce);
  h.update(Buffer.from(`${self}\n${peer}`, 'utf8'));
  return new Uint8Array(h.digest());
}

/** True when `proof` was made by `peer` (in `role`) over our nonce with one of `keys`. */
export function checkProof(keys: readonly Uint8Array[], proof: Uint8Array, role: Role, ourNonce: Uint8Array, peer: string, self: string): boolean {
  for (const k of keys) {
    const want = makeProof(k, role, ourNonce, peer, self);
    if (want.length === proof.length && timingSafeEqual(want, proof)) return true;
  }
  return false;
}
