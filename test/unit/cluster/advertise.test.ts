import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseAdvertiseAddress, firstExternalIPv4, type InterfaceList } from '../../../src/cluster/advertise.js';

const lo = [
  { address: '127.0.0.1', family: 'IPv4', internal: true },
  { address: '::1', family: 'IPv6', internal: true },
] as const;
const host: InterfaceList = {
  lo: [...lo],
  docker0: [{ address: 'fe80::42:acff:fe11:2', family: 'IPv6', internal: false }],
  eth0: [
    { address: 'fe80::1', family: 'IPv6', internal: false },
    { address: '10.0.0.7', family: 'IPv4', internal: false },
  ],
  eth1: [{ address: '192.168.1.7', family: 'IPv4', internal: false }],
};

test('advertise - a wildcard bind advertises the first non-internal IPv4, with the bind port', () => {
  assert.deepEqual(chooseAdvertiseAddress({ host: '0.0.0.0', port: 7946 }, 'auto', host), { address: { host: '10.0.0.7', port: 7946 } });
  assert.deepEqual(chooseAdvertiseAddress({ host: '::', port: 0 }, undefined, host), { address: { host: '10.0.0.7', port: 0 } }, 'port 0: the transport puts in the bound port');
});

test('advertise - link-local IPv4 only when there is nothing better; none at all: 127.0.0.1 with a warning', () => {
  const linkLocal: InterfaceList = { lo: [...lo], eth0: [{ address: '169.254.3.4', family: 'IPv4', internal: false }] };
  assert.equal(firstExternalIPv4({ ...linkLocal, eth1: [{ address: '172.16.0.2', family: 'IPv4', internal: false }] }), '172.16.0.2');
  assert.deepEqual(chooseAdvertiseAddress({ host: '0.0.0.0', port: 7946 }, 'auto', linkLocal), { address: { host: '169.254.3.4', port: 7946 } });
  const none = chooseAdvertiseAddress({ host: '0.0.0.0', port: 7946 }, 'auto', { lo: [...lo], eth0: [{ address: '2001:db8::1', family: 'IPv6', internal: false }], tun0: undefined });
  assert.deepEqual(none.address, { host: '127.0.0.1', port: 7946 });
  assert.match(none.warning ?? '', /advertising 127\.0\.0\.1.*set coordination\.cluster\.advertise_addr/);
  assert.equal(firstExternalIPv4({}), undefined);
});

test('advertise - a bind to a specific IP advertises that IP; an explicit advertise address is used as given', () => {
  assert.deepEqual(chooseAdvertiseAddress({ host: '127.0.0.20', port: 7946 }, 'auto', host), { address: { host: '127.0.0.20', port: 7946 } });
  assert.deepEqual(chooseAdvertiseAddress({ host: '10.0.0.7', port: 7000 }, undefined, {}), { address: { host: '10.0.0.7', port: 7000 } }, 'no interface lookup needed');
  assert.deepEqual(chooseAdvertiseAddress({ host: '0.0.0.0', port: 7946 }, { host: '203.0.113.9', port: 17946 }, host), { address: { host: '203.0.113.9', port: 17946 } });
  assert.deepEqual(chooseAdvertiseAddress({ host: '0.0.0.0', port: 7946 }, { host: '203.0.113.9', port: 0 }, {}), { address: { host: '203.0.113.9', port: 0 } });
});

test('advertise - Node 18.0-18.3 numeric families are understood', () => {
  assert.equal(firstExternalIPv4({ eth0: [{ address: '10.1.2.3', family: 4 as unknown as 'IPv4', internal: false }] }), '10.1.2.3');
});

test('advertise - the real host gives an IPv4 literal', () => {
  const r = chooseAdvertiseAddress({ host: '0.0.0.0', port: 7946 }, 'auto');
  assert.match(r.address.host, /^\d+\.\d+\.\d+\.\d+$/);
});
