/**
 * AES-GCM message encryption as memberlist v0.2.2 does it (security.go):
 *
 *     [vsn u8][nonce 12][ciphertext || tag 16]
 *
 * - Version 1 (memberlist speaking protocol >= 2, i.e. always in practice): the message as is.
 * - Version 0 (protocol 1): the message PKCS#7-padded to a 16-byte multiple (always 1..16 bytes of
 *   padding) before sealing. Go does not check the padding on the way out; we refuse bad padding.
 *
 * The key length selects AES-128/192/256. Packets are sealed with no additional data; streams use the
 * 5-byte frame header `[10][u32 BE length]` as additional data (net.go encryptLocalState). Receivers try
 * every key on the ring, primary first; senders use the primary.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { WireError } from './errors.js';
import { validateKey } from './keyring.js';

export type EncryptionVersion = 0 | 1;

export const MAX_ENCRYPTION_VERSION = 1;
const VERSION_SIZE = 1;
export const NONCE_SIZE = 12;
export const TAG_SIZE = 16;
const BLOCK_SIZE = 16;

/** memberlist.encryptionVersion: 0 when speaking protocol 1, else 1. */
export function encryptionVersionFor(protocolVersion: number): EncryptionVersion {
  return protocolVersion === 1 ? 0 : 1;
}

/** security.go encryptOverhead: the most encryption can add (45 for v0, 29 for v1). */
export function encryptOverhead(vsn: EncryptionVersion): number {
  return vsn === 0 ? 45 : 29;
}

/** security.go encryptedLength: the sealed size of an `n`-byte message. */
export function encryptedLength(vsn: EncryptionVersion, n: number): number {
  if (vsn >= 1) return VERSION_SIZE + NONCE_SIZE + n + TAG_SIZE;
  return VERSION_SIZE + NONCE_SIZE + n + (BLOCK_SIZE - (n % BLOCK_SIZE)) + TAG_SIZE;
}

function cipherName(key: Uint8Array): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' {
  validateKey(key);
  return key.length === 16 ? 'aes-128-gcm' : key.length === 24 ? 'aes-192-gcm' : 'aes-256-gcm';
}

function pkcs7Pad(msg: Uint8Array): Uint8Array {
  const more = BLOCK_SIZE - (msg.length % BLOCK_SIZE);
  const out = new Uint8Array(msg.length + more);
  out.set(msg);
  out.fill(more, msg.length);
  return out;
}

/**
 * Seals `msg` with `key`. `aad` is the additional authenticated data (none for packets). `nonce` is
 * for tests only: leave it out and a random one is drawn, as Go does.
 */
export function encryptPayload(
  vsn: EncryptionVersion,
  key: Uint8Array,
  msg: Uint8Array,
  aad?: Uint8Array,
  nonce: Uint8Array = randomBytes(NONCE_SIZE),
): Uint8Array {
  if (vsn !== 0 && vsn !== 1) throw new WireError('encrypt-version', `unsupported encryption version ${String(vsn)}`);
  if (nonce.length !== NONCE_SIZE) throw new WireError('invalid-value', `nonce must be ${NONCE_SIZE} bytes`);
  const cipher = createCipheriv(cipherName(key), key, nonce, { authTagLength: TAG_SIZE });
  if (aad !== undefined && aad.length > 0) cipher.setAAD(aad);
  const src = vsn === 0 ? pkcs7Pad(msg) : msg;
  const ct = cipher.update(src);
  const fin = cipher.final();
  const tag = cipher.getAuthTag();
  const out = new Uint8Array(VERSION_SIZE + NONCE_SIZE + ct.length + fin.length + TAG_SIZE);
  out[0] = vsn;
  out.set(nonce, VERSION_SIZE);
  out.set(ct, VERSION_SIZE + NONCE_SIZE);
  out.set(fin, VERSION_SIZE + NONCE_SIZE + ct.length);
  out.set(tag, VERSION_SIZE + NONCE_SIZE + ct.length + fin.length);
  return out;
}

function tryOpen(key: Uint8Array, msg: Uint8Array, aad: Uint8Array | undefined): Uint8Array | undefined {
  try {
    const nonce = msg.subarray(VERSION_SIZE, VERSION_SIZE + NONCE_SIZE);
    const body = msg.subarray(VERSION_SIZE + NONCE_SIZE, msg.length - TAG_SIZE);
    const tag = msg.subarray(msg.length - TAG_SIZE);
    const decipher = createDecipheriv(cipherName(key), key, nonce, { authTagLength: TAG_SIZE });
    decipher.setAuthTag(tag);
    if (aad !== undefined && aad.length > 0) decipher.setAAD(aad);
    const a = decipher.update(body);
    const b = decipher.final();
    if (b.length === 0) return new Uint8Array(a.buffer, a.byteOffset, a.length);
    const out = new Uint8Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  } catch {
    return undefined; // authentication failed (or a key of a bad size): try the next key
  }
}

/**
 * Opens a sealed message with the first key that authenticates it. Throws WireError: `empty`,
 * `encrypt-version` (version byte > 1), `truncated` (shorter than an empty sealed message),
 * `no-keys`, or `decrypt-failed` ("No installed keys could decrypt the message").
 */
export function decryptPayload(keys: readonly Uint8Array[], msg: Uint8Array, aad?: Uint8Array): Uint8Array {
  if (msg.length === 0) throw new WireError('empty', 'cannot decrypt empty payload');
  const vsn = msg[0] ?? 0;
  if (vsn > MAX_ENCRYPTION_VERSION) throw new WireError('encrypt-version', `unsupported encryption version ${vsn}`, { offset: 0 });
  const min = encryptedLength(vsn === 0 ? 0 : 1, 0);
  if (msg.length < min) {
    throw new WireError('truncated', `payload is too small to decrypt: ${msg.length}`, { offset: 0, needed: min });
  }
  if (keys.length === 0) throw new WireError('no-keys', 'no keys to decrypt with');
  for (const key of keys) {
    const plain = tryOpen(key, msg, aad);
    if (plain === undefined) continue;
    if (vsn === 1) return plain;
    const pad = plain[plain.length - 1] ?? 0;
    if (pad < 1 || pad > BLOCK_SIZE || pad > plain.length) {
      throw new WireError('decrypt-failed', `bad PKCS#7 padding ${pad} in a version 0 message`);
    }
    return plain.subarray(0, plain.length - pad);
  }
  throw new WireError('decrypt-failed', 'no installed keys could decrypt the message');
}
