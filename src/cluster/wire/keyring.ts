/**
 * The gossip keyring (memberlist keyring.go): an ordered set of AES keys where index 0 is the primary
 * key, used to encrypt everything we send and tried first when decrypting; the others are tried in
 * order, which is what makes rotation possible (install a key everywhere, then use it, then remove the
 * old one — serf's `keys -install / -use / -remove`).
 *
 * Keys are 16, 24 or 32 bytes (AES-128/192/256). The ring copies keys in and out, so callers cannot
 * change it behind its back.
 */
import { WireError } from './errors.js';

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** keyring.go ValidateKey: throws WireError('key-size') unless the key is 16, 24 or 32 bytes. */
export function validateKey(key: Uint8Array): void {
  const l = key.length;
  if (l !== 16 && l !== 24 && l !== 32) {
    throw new WireError('key-size', `key size must be 16, 24 or 32 bytes, not ${l}`);
  }
}

export class Keyring {
  #keys: Uint8Array[] = [];

  /**
   * keyring.go NewKeyring: no keys and no primary gives an empty ring (encryption off); otherwise the
   * primary is required and goes first, followed by the other keys (duplicates dropped).
   */
  constructor(keys: readonly Uint8Array[] = [], primaryKey?: Uint8Array) {
    if (keys.length > 0 || (primaryKey !== undefined && primaryKey.length > 0)) {
      if (primaryKey === undefined || primaryKey.length === 0) {
        throw new WireError('no-keys', 'empty primary key not allowed');
      }
      this.addKey(primaryKey);
      for (const k of keys) this.addKey(k);
    }
  }

  /** True when the ring holds a key, i.e. memberlist's Config.EncryptionEnabled(). */
  get enabled(): boolean {
    return this.#keys.length > 0;
  }

  get size(): number {
    return this.#keys.length;
  }

  /** Installs a key for decryption. A no-op if it is already there; the first key becomes primary. */
  addKey(key: Uint8Array): void {
    validateKey(key);
    if (this.#keys.some((k) => equal(k, key))) return;
    const copy = Uint8Array.from(key);
    this.#install([...this.#keys, copy], this.#keys[0] ?? copy);
  }

  /** Makes an installed key the primary (encryption) key. */
  useKey(key: Uint8Array): void {
    const found = this.#keys.find((k) => equal(k, key));
    if (found === undefined) throw new WireError('key-not-found', 'requested key is not in the keyring');
    this.#install(this.#keys, found);
  }

  /** Drops a key; the primary cannot be removed. Removing an absent key is a no-op, as in Go. */
  removeKey(key: Uint8Array): void {
    const primary = this.#keys[0];
    if (primary === undefined) return; // Go indexes keys[0] and panics; an empty ring has nothing to drop
    if (equal(key, primary)) throw new WireError('remove-primary', 'removing the primary key is not allowed');
    this.#install(
      this.#keys.filter((k) => !equal(k, key)),
      primary,
    );
  }

  /** Copies of the keys, primary first (the order decryption tries them in). */
  getKeys(): Uint8Array[] {
    return this.#keys.map((k) => Uint8Array.from(k));
  }

  /** The keys without copying, for the hot decrypt path. Do not modify them. */
  keysView(): readonly Uint8Array[] {
    return this.#keys;
  }

  /** A copy of the primary key, or undefined when the ring is empty. */
  getPrimaryKey(): Uint8Array | undefined {
    const k = this.#keys[0];
    return k === undefined ? undefined : Uint8Array.from(k);
  }

  /** The primary key without copying. Do not modify it. */
  primaryView(): Uint8Array | undefined {
    return this.#keys[0];
  }

  #install(keys: readonly Uint8Array[], primary: Uint8Array): void {
    this.#keys = [primary, ...keys.filter((k) => !equal(k, primary))];
  }
}
