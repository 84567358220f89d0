/** Serf tags in Meta (serf.go encodeTags / decodeTags): 0xFF + msgpack map[string]string. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { META_MAX_SIZE, WireError, decodeSerfTags, encodeSerfTags } from '../../../../src/cluster/wire/index.js';
import { fromHex, h, toHex, utf8 } from './helpers.js';

test('serf tags - 0xff then a map of raw strings, keys sorted for stable bytes', () => {
  // Go iterates the map randomly; we sort: "dc" < "role".
  const meta = encodeSerfTags({ role: 'web', dc: 'east' });
  assert.equal(toHex(meta), toHex(fromHex(`ff 82 a2 ${h('dc')} a4 ${h('east')} a4 ${h('role')} a3 ${h('web')}`)));
  assert.deepEqual(decodeSerfTags(meta), new Map([['dc', 'east'], ['role', 'web']]));
  assert.deepEqual(encodeSerfTags(new Map([['role', 'web'], ['dc', 'east']])), meta);
  assert.equal(toHex(encodeSerfTags({})), 'ff80');
});

test('serf tags - at most 512 bytes encoded', () => {
  // ff + 81 + a4 "role" + da 01f6 + 502 bytes of value = 1 + 1 + 5 + 3 + 502 = 512.
  const fits = encodeSerfTags({ role: 'x'.repeat(502) });
  assert.equal(fits.length, META_MAX_SIZE);
  assert.throws(() => encodeSerfTags({ role: 'x'.repeat(503) }), (e: unknown) => e instanceof WireError && e.reason === 'meta-too-large');
});

test('serf tags - Meta without the magic byte is the protocol < 3 role string', () => {
  assert.deepEqual(decodeSerfTags(utf8('lb')), new Map([['role', 'lb']]));
  assert.deepEqual(decodeSerfTags(null), new Map([['role', '']]));
  // A nil map after the magic byte is no tags; nil values are "".
  assert.deepEqual(decodeSerfTags(fromHex('ffc0')), new Map());
  assert.deepEqual(decodeSerfTags(fromHex(`ff 81 a1 ${h('k')} c0`)), new Map([['k', '']]));
});

test('serf tags - malformed maps are refused', () => {
  for (const hex of ['ff', 'ff81', `ff81a1${h('k')}01`, 'ff91a0', 'ffdfffffffff']) {
    assert.throws(() => decodeSerfTags(fromHex(hex)), (e: unknown) => e instanceof WireError && e.reason === 'tags-invalid', hex);
  }
});
