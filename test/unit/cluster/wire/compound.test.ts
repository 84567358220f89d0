/** Compound messages (util.go makeCompoundMessage / decodeCompoundMessage). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WireError, decodeCompoundMessage, makeCompoundMessage } from '../../../../src/cluster/wire/index.js';
import { fromHex, toHex } from './helpers.js';

test('compound - layout: [7][count][u16 BE lengths][bodies]', () => {
  const out = makeCompoundMessage([fromHex('0801'), fromHex('080203'), fromHex('08')]);
  assert.equal(toHex(out), toHex(fromHex('07 03 0002 0003 0001 0801 080203 08')));
  assert.deepEqual(decodeCompoundMessage(out.subarray(1)), { parts: [fromHex('0801'), fromHex('080203'), fromHex('08')], truncated: 0 });
});

test('compound - a truncated body yields the whole parts and counts the rest, like memberlist', () => {
  // 3 parts announced (2, 3, 1 bytes) but the second body is cut short: part 1 is whole, 2 are lost.
  const r = decodeCompoundMessage(fromHex('03 0002 0003 0001 0801 0802'));
  assert.deepEqual(r.parts, [fromHex('0801')]);
  assert.equal(r.truncated, 2);
  // Trailing bytes after the last part are ignored.
  assert.deepEqual(decodeCompoundMessage(fromHex('01 0001 08 ffff')).parts, [fromHex('08')]);
});

test('compound - a missing count or a short length table is an error', () => {
  assert.throws(() => decodeCompoundMessage(new Uint8Array(0)), (e: unknown) => e instanceof WireError && e.reason === 'compound-malformed');
  assert.throws(() => decodeCompoundMessage(fromHex('02 0001')), (e: unknown) => e instanceof WireError && e.reason === 'compound-malformed');
});

test('compound - at most 255 non-empty parts of at most 65535 bytes', () => {
  const parts = Array.from({ length: 255 }, (_, i) => Uint8Array.of(8, i));
  const out = makeCompoundMessage(parts);
  assert.equal(out[1], 255);
  // Our decoder uses the real table size (Go's uint8(count*2) would mis-split 128+ parts).
  assert.deepEqual(decodeCompoundMessage(out.subarray(1)).parts, parts);
  assert.throws(() => makeCompoundMessage([...parts, Uint8Array.of(8)]), (e: unknown) => e instanceof WireError && e.reason === 'too-many-parts');
  assert.throws(() => makeCompoundMessage([]), (e: unknown) => e instanceof WireError && e.reason === 'too-many-parts');
  assert.throws(() => makeCompoundMessage([new Uint8Array(0)]), (e: unknown) => e instanceof WireError && e.reason === 'invalid-value');
  assert.throws(() => makeCompoundMessage([new Uint8Array(65536)]), (e: unknown) => e instanceof WireError && e.reason === 'too-large');
});
