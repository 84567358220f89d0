import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaxtonError } from '../../../src/errors.js';
import { checkAddress, formatAddress, LOOKUP_TIMEOUT_MS, requireAddress, resolveAddress, resolveAll } from '../../../src/config/address.js';

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

const notFound = (host: string) => Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });

test('address - names resolve through the lookup; IP literals stay; a name that does not exist is the same error', async () => {
  let asked = 0;
  const lookup = async (host: string) => {
    asked++;
    if (host === 'new-node') return { address: '10.1.2.3' };
    if (host === 'localhost') return { address: '127.0.0.1' };
    throw notFound(host);
  };
  assert.deepEqual(await resolveAddress({ host: 'localhost', port: 7946 }, 'x', lookup), { host: '127.0.0.1', port: 7946 });
  assert.deepEqual(await resolveAddress({ host: 'new-node', port: 7946 }, 'x', lookup), { host: '10.1.2.3', port: 7946 });
  assert.deepEqual(await resolveAddress({ host: '10.0.0.5', port: 1 }, 'x', lookup), { host: '10.0.0.5', port: 1 });
  assert.deepEqual(await resolveAddress({ host: '::1', port: 7946 }, 'x', lookup), { host: '::1', port: 7946 });
  assert.equal(asked, 2, 'a literal is not looked up');
  await assert.rejects(resolveAddress({ host: 'no-such-host.invalid', port: 7946 }, 'body.addresses[0]', lookup), (e: unknown) => {
    assert.ok(e instanceof CaxtonError);
    assert.equal(e.code, 'CAXTON_ERR_ADDRESS_INVALID');
    assert.equal(e.message, 'body.addresses[0]: "no-such-host.invalid:7946" is not a usable address: the name "no-such-host.invalid" does not resolve (no such host); expected host:port, where host is a name or an IP address (IPv6 in brackets), e.g. node-1.example.com:7946, 10.0.0.5:7946 or [::1]:7946');
    return true;
  });
});

test('address - a resolver that does not answer (a timeout, EAI_AGAIN) is a retryable 503 naming the input and the host, not a bad address', async () => {
  const never = () => new Promise<{ address: string }>(() => {});
  await assert.rejects(resolveAddress({ host: 'slow.example', port: 7946 }, 'coordination.cluster.advertise_addr', never, 30), (e: unknown) => {
    assert.ok(e instanceof CaxtonError);
    assert.equal(e.code, 'CAXTON_ERR_DNS_UNAVAILABLE');
    assert.equal(e.status, 503);
    assert.equal(e.message, 'coordination.cluster.advertise_addr: could not look up the name "slow.example" of slow.example:7946: no answer within 30 ms');
    assert.deepEqual(e.details, { field: 'coordination.cluster.advertise_addr', value: 'slow.example:7946', host: 'slow.example', timeout_ms: 30 });
    return true;
  });
  const again = async () => {
    throw Object.assign(new Error('getaddrinfo EAI_AGAIN x'), { code: 'EAI_AGAIN' });
  };
  await assert.rejects(resolveAddress({ host: 'x', port: 1 }, '--join', again), (e: unknown) => e instanceof CaxtonError && e.code === 'CAXTON_ERR_DNS_UNAVAILABLE' && /^--join: could not look up the name "x" of x:1: the DNS server did not answer \(EAI_AGAIN/.test(e.message));
  assert.equal(LOOKUP_TIMEOUT_MS, 5_000);
});

test('address - resolveAll: a few lookups at a time, and failures reported in input order whatever finished first', async () => {
  let inFlight = 0;
  let most = 0;
  const lookup = async (host: string) => {
    inFlight++;
    most = Math.max(most, inFlight);
    // The first name fails last: slower than every other lookup.
    await new Promise((r) => setTimeout(r, host === 'bad-0' ? 60 : 5));
    inFlight--;
    if (host.startsWith('bad')) throw notFound(host);
    return { address: '10.0.0.1' };
  };
  const names = ['bad-0', 'ok-1', 'bad-2', 'ok-3', 'ok-4', 'ok-5', 'ok-6'];
  const r = await resolveAll(names.map((host, i) => ({ address: { host, port: 7946 }, where: `body.addresses[${i}]` })), 2, lookup);
  assert.ok(most <= 2, `at most 2 lookups at a time, saw ${most}`);
  assert.deepEqual(r.failed.map((f) => [f.index, f.error.details?.['field']]), [[0, 'body.addresses[0]'], [2, 'body.addresses[2]']]);
  assert.deepEqual(r.resolved.map((a) => a?.host ?? null), [null, '10.0.0.1', null, '10.0.0.1', '10.0.0.1', '10.0.0.1', '10.0.0.1']);
});

test('address - an advertise address may not carry an IPv6 zone (it names an interface of this host)', () => {
  const r = checkAddress('[fe80::1%eth0]:7946', 'advertise');
  assert.ok('problem' in r);
  assert.equal(r.problem, 'the IPv6 zone %eth0 names an interface of this host, which other nodes cannot use; advertise the address without it, e.g. [fe80::1]:7946');
  assert.deepEqual(checkAddress('[fe80::1]:0', 'advertise'), { host: 'fe80::1', port: 0 }, 'port 0: the bound port');
  assert.deepEqual(checkAddress('[fe80::1%eth0]:7946', 'listen'), { host: 'fe80::1%eth0', port: 7946 }, 'where this node listens, a zone is fine');
});
