import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaxtonError } from '../../../src/errors.js';
import { checkAddress, formatAddress, requireAddress, resolveAddress } from '../../../src/config/address.js';

test('address - names, IPv4 and bracketed IPv6 (with a zone) are host:port', () => {
  assert.deepEqual(checkAddress('new-node:7946'), { host: 'new-node', port: 7946 });
  assert.deepEqual(checkAddress('node-1.example.com:7946'), { host: 'node-1.example.com', port: 7946 });
  assert.deepEqual(checkAddress('10.0.0.5:7946'), { host: '10.0.0.5', port: 7946 });
  assert.deepEqual(checkAddress('[::1]:7946'), { host: '::1', port: 7946 });
  assert.deepEqual(checkAddress('[fe80::1%eth0]:7946'), { host: 'fe80::1%eth0', port: 7946 });
  assert.deepEqual(checkAddress('0.0.0.0:0'), { host: '0.0.0.0', port: 0 }, 'port 0 where the node listens');
  assert.equal(formatAddress({ host: '::1', port: 7946 }), '[::1]:7946');
  assert.equal(formatAddress({ host: 'new-node', port: 7946 }), 'new-node:7946');
});

test('address - what is wrong with a bad one is said in words', () => {
  const problem = (text: string, use: 'listen' | 'peer' = 'listen') => {
    const r = checkAddress(text, use);
    assert.ok('problem' in r, text);
    return r.problem;
  };
  assert.equal(problem('new-node'), 'the port is missing');
  assert.equal(problem('new-node:'), 'the port is missing');
  assert.equal(problem('[::1]'), 'the port is missing');
  assert.equal(problem('::1:7946'), 'an IPv6 address goes in brackets, e.g. [::1]:7946');
  assert.equal(problem('node:http'), '"http" is not a port number');
  assert.equal(problem('node:99999'), 'port 99999 is out of range (1 to 65535)');
  assert.equal(problem('http://node:7946'), 'it is a URL; give host:port without a scheme');
  assert.equal(problem('two words:7946'), 'the host is not a name or an IP address (letters, digits, _ . - for a name; IPv6 in brackets)');
  assert.equal(problem('[not-ip]:7946'), 'the host is not a name or an IP address (letters, digits, _ . - for a name; IPv6 in brackets)');
  assert.equal(problem('[1.2.3.4]:7946'), '[1.2.3.4] is not an IPv6 address');
  assert.equal(problem(''), 'it is empty');
  assert.equal(problem(' node:1 '), 'it has spaces around it');
  assert.match(problem('node:0', 'peer'), /^port 0 cannot be reached/);
});

test('address - the one error names the input, the value, the problem, the form and examples', () => {
  assert.throws(() => requireAddress('new-node', '--join', 'peer'), (e: unknown) => {
    assert.ok(e instanceof CaxtonError);
    assert.equal(e.code, 'CAXTON_ERR_ADDRESS_INVALID');
    assert.equal(e.status, 400);
    assert.equal(e.message, '--join: "new-node" is not a usable address: the port is missing; expected host:port, where host is a name or an IP address (IPv6 in brackets), e.g. node-1.example.com:7946, 10.0.0.5:7946 or [::1]:7946');
    assert.equal(e.details?.['value'], 'new-node');
    assert.ok(!/\^|\\\[|\$\)/.test(e.message), 'no regular expression in the message');
    return true;
  });
});

test('address - names resolve through dns.lookup; IP literals stay; a name that does not resolve is the same error', async () => {
  assert.deepEqual(await resolveAddress({ host: 'localhost', port: 7946 }, 'x'), { host: '127.0.0.1', port: 7946 });
  assert.deepEqual(await resolveAddress({ host: '::1', port: 7946 }, 'x'), { host: '::1', port: 7946 });
  let asked = 0;
  const lookup = async (host: string) => {
    asked++;
    if (host === 'new-node') return { address: '10.1.2.3' };
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  };
  assert.deepEqual(await resolveAddress({ host: 'new-node', port: 7946 }, 'x', lookup), { host: '10.1.2.3', port: 7946 });
  assert.deepEqual(await resolveAddress({ host: '10.0.0.5', port: 1 }, 'x', lookup), { host: '10.0.0.5', port: 1 });
  assert.equal(asked, 1, 'a literal is not looked up');
  await assert.rejects(resolveAddress({ host: 'no-such-host.invalid', port: 7946 }, 'body.addresses[0]'), (e: unknown) => {
    assert.ok(e instanceof CaxtonError);
    assert.equal(e.code, 'CAXTON_ERR_ADDRESS_INVALID');
    assert.equal(e.message, 'body.addresses[0]: "no-such-host.invalid:7946" is not a usable address: the name "no-such-host.invalid" does not resolve (no such host); expected host:port, where host is a name or an IP address (IPv6 in brackets), e.g. node-1.example.com:7946, 10.0.0.5:7946 or [::1]:7946');
    return true;
  });
});
