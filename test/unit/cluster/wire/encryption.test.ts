/**
 * AES-GCM framing (security.go) and the keyring (keyring.go). The ciphertexts come from the GCM
 * specification's test cases (McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 3,
 * 4, 9 and 15), framed as memberlist does: [version][12-byte nonce][ciphertext][16-byte tag].
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Keyring,
  WireError,
  decryptPayload,
  encryptPayload,
  encryptOverhead,
  encryptedLength,
  encryptionVersionFor,
  validateKey,
} from '../../../../src/cluster/wire/index.js';
import { fromHex, toHex, utf8 } from './helpers.js';

const P64 =
  'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255';
const IV = 'cafebabefacedbaddecaf888';
const K128 = 'feffe9928665731c6d6a8f9467308308';

const vectors = [
  {
    name: 'test case 3, AES-128',
    key: K128,
    plain: P64,
    aad: '',
    sealed:
      '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985' +
      '4d5c2af327cd64a62cf35abd2ba6fab4',
  },
  {
    name: 'test case 4, AES-128 with additional data (as on streams)',
    key: K128,
    plain: P64.slice(0, 120),
    aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
    sealed:
      '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091' +
      '5bc94fbc3221a5db94fae95ae7121a47',
  },
  {
    name: 'test case 9, AES-192',
    key: K128 + 'feffe9928665731c',
    plain: P64,
    aad: '',
    sealed:
      '3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710acade256' +
      '9924a7c8587336bfb118024db8674a14',
  },
  {
    name: 'test case 15, AES-256',
    key: K128 + K128,
    plain: P64,
    aad: '',
    sealed:
      '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad' +
      'b094dac5d93471bdec1a502270e3cc6c',
  },
];

test('encryption - version 1 is [0x01][nonce][GCM ciphertext||tag] (GCM spec vectors, 16/24/32-byte keys)', () => {
  for (const v of vectors) {
    const aad = v.aad === '' ? undefined : fromHex(v.aad);
    const out = encryptPayload(1, fromHex(v.key), fromHex(v.plain), aad, fromHex(IV));
    assert.equal(toHex(out), '01' + IV + v.sealed, v.name);
    assert.equal(out.length, encryptedLength(1, v.plain.length / 2));
    assert.deepEqual(decryptPayload([fromHex(v.key)], out, aad), fromHex(v.plain), v.name);
  }
});

test('encryption - round trip with each key size, random nonces', () => {
  for (const size of [16, 24, 32]) {
    const key = new Uint8Array(size).map((_, i) => i * 7 + size);
    const msg = utf8('this is a plain text message');
    const a = encryptPayload(1, key, msg);
    const b = encryptPayload(1, key, msg);
    assert.notEqual(toHex(a), toHex(b), 'a fresh nonce each time');
    assert.deepEqual(decryptPayload([key], a), msg);
  }
});

test('encryption - a wrong key, a tampered byte or wrong AAD is rejected', () => {
  const key = new Uint8Array(16).fill(1);
  const other = new Uint8Array(16).fill(2);
  const sealed = encryptPayload(1, key, utf8('hello'), utf8('aad'));
  const reject = (f: () => unknown): void =>
    assert.throws(f, (e: unknown) => e instanceof WireError && e.reason === 'decrypt-failed');
  reject(() => decryptPayload([other], sealed, utf8('aad')));
  reject(() => decryptPayload([key], sealed, utf8('aae')));
  reject(() => decryptPayload([key], sealed));
  const tampered = sealed.slice();
  tampered[20] = (tampered[20] ?? 0) ^ 1;
  reject(() => decryptPayload([key], tampered, utf8('aad')));
});

test('encryption - framing errors: empty, unknown version, too short', () => {
  const key = new Uint8Array(32);
  assert.throws(() => decryptPayload([key], new Uint8Array(0)), (e: unknown) => e instanceof WireError && e.reason === 'empty');
  assert.throws(() => decryptPayload([key], new Uint8Array(40).fill(2)), (e: unknown) => e instanceof WireError && e.reason === 'encrypt-version');
  assert.throws(() => decryptPayload([key], new Uint8Array(28).fill(1)), (e: unknown) => e instanceof WireError && e.reason === 'truncated');
  assert.throws(() => decryptPayload([key], Uint8Array.of(0, ...new Uint8Array(40))), (e: unknown) => e instanceof WireError && e.reason === 'truncated');
});

test('encryption - version 0 pads with PKCS#7 before sealing (protocol 1)', () => {
  const key = new Uint8Array(16).fill(9);
  for (const n of [0, 1, 15, 16, 17]) {
    const msg = new Uint8Array(n).fill(n);
    const out = encryptPayload(0, key, msg);
    assert.equal(out[0], 0);
    assert.equal(out.length, encryptedLength(0, n), `n=${n}`);
    assert.deepEqual(decryptPayload([key], out), msg);
  }
  assert.equal(encryptionVersionFor(1), 0);
  assert.equal(encryptionVersionFor(2), 1);
  assert.equal(encryptOverhead(0), 45);
  assert.equal(encryptOverhead(1), 29);
});

test('keyring - key sizes', () => {
  for (const n of [16, 24, 32]) validateKey(new Uint8Array(n));
  for (const n of [0, 8, 15, 33]) {
    assert.throws(() => validateKey(new Uint8Array(n)), (e: unknown) => e instanceof WireError && e.reason === 'key-size');
  }
  assert.throws(() => new Keyring([new Uint8Array(16)]), (e: unknown) => e instanceof WireError && e.reason === 'no-keys');
  assert.equal(new Keyring().enabled, false);
});

test('keyring - install, use, remove (rotation), as keyring.go', () => {
  const k1 = new Uint8Array(16).fill(1);
  const k2 = new Uint8Array(24).fill(2);
  const k3 = new Uint8Array(32).fill(3);
  const ring = new Keyring([k2], k1);
  assert.deepEqual(ring.getKeys(), [k1, k2], 'primary first');
  ring.addKey(k3);
  ring.addKey(k2); // already there: no-op
  assert.deepEqual(ring.getKeys(), [k1, k2, k3]);
  // A message sealed with k1 (old primary) opens after k3 becomes primary: decryption tries every key.
  const old = encryptPayload(1, ring.primaryView() ?? k1, utf8('before rotation'));
  ring.useKey(k3);
  assert.deepEqual(ring.getPrimaryKey(), k3);
  assert.deepEqual(ring.getKeys(), [k3, k1, k2]);
  assert.deepEqual(decryptPayload(ring.keysView(), old), utf8('before rotation'));
  assert.throws(() => ring.useKey(new Uint8Array(16).fill(9)), (e: unknown) => e instanceof WireError && e.reason === 'key-not-found');
  assert.throws(() => ring.removeKey(k3), (e: unknown) => e instanceof WireError && e.reason === 'remove-primary');
  ring.removeKey(k1);
  ring.removeKey(new Uint8Array(16).fill(9)); // absent: no-op
  assert.deepEqual(ring.getKeys(), [k3, k2]);
  assert.throws(() => decryptPayload(ring.keysView(), old), (e: unknown) => e instanceof WireError && e.reason === 'decrypt-failed');
  // The ring keeps its own copies.
  k3.fill(0);
  assert.deepEqual(ring.getPrimaryKey(), new Uint8Array(32).fill(3));
});
