import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToIp, ipToBytes, sameBytes } from '../../../../src/cluster/membership/address.js';

test('ipToBytes / bytesToIp - IPv4, IPv6 and Go net.IP.String() forms', () => {
  const cases: [host: string, bytes: number[] | undefined, back: string | undefined][] = [
    ['127.0.0.1', [127, 0, 0, 1], '127.0.0.1'],
    ['10.0.0.25', [10, 0, 0, 25], '10.0.0.25'],
    ['::1', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], '::1'],
    ['[::1]', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], '::1'],
    ['::', new Array<number>(16).fill(0), '::'],
    ['fe80::1', [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 'fe80::1'],
    ['::ffff:1.2.3.4', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4], '1.2.3.4'],
    ['2001:db8:0:0:1:0:0:1', [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1], '2001:db8::1:0:0:1'],
    ['localhost', undefined, undefined],
    ['fe80::1%eth0', undefined, undefined],
    ['1.2.3', undefined, undefined],
  ];
  for (const [host, bytes, back] of cases) {
    const b = ipToBytes(host);
    assert.deepEqual(b === undefined ? undefined : Array.from(b), bytes, host);
    if (b !== undefined) assert.equal(bytesToIp(b), back, host);
  }
  assert.equal(bytesToIp(null), undefined);
  assert.equal(bytesToIp(Uint8Array.of(1, 2, 3)), undefined);
});

test('sameBytes - null equals empty, as Go treats nil and empty slices', () => {
  assert.ok(sameBytes(null, new Uint8Array(0)));
  assert.ok(sameBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2)));
  assert.ok(!sameBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 3)));
  assert.ok(!sameBytes(Uint8Array.of(1), null));
});
