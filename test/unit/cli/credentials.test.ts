import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConnection } from '../../../src/cli/credentials.js';
import { CliError, EXIT_USAGE } from '../../../src/cli/errors.js';
import { tlsFetch } from '../../../src/cli/tls-fetch.js';

test('cli credentials - no TLS option leaves the connection as it was (fetch with the system CAs)', () => {
  const c = resolveConnection({ apiKey: 'k' }, {});
  assert.equal(c.tls, undefined);
  assert.equal(c.apiUrl, 'http://127.0.0.1:8080');
  assert.equal(resolveConnection({ caCert: ' ', apiKey: 'k' }, { CAXTON_CLIENT_CERT: '' }).tls, undefined, 'blank values count as not given');
});

test('cli credentials - the TLS files come from the flags, else CAXTON_CA_CERT, CAXTON_CLIENT_CERT, CAXTON_CLIENT_KEY', () => {
  const env = { CAXTON_CA_CERT: '/env/ca.crt', CAXTON_CLIENT_CERT: '/env/a.crt', CAXTON_CLIENT_KEY: '/env/a.key' };
  assert.deepEqual(resolveConnection({ apiKey: 'k' }, env).tls, { caCert: '/env/ca.crt', clientCert: '/env/a.crt', clientKey: '/env/a.key' });
  assert.deepEqual(resolveConnection({ apiKey: 'k', caCert: '/flag/ca.crt' }, env).tls, { caCert: '/flag/ca.crt', clientCert: '/env/a.crt', clientKey: '/env/a.key' });
});

test('cli credentials - TLS files with an http URL, or a client certificate without its key, are usage errors', () => {
  const usage = (re: RegExp) => (e: unknown) => e instanceof CliError && e.exitCode === EXIT_USAGE && re.test(e.message);
  assert.throws(() => tlsFetch({ apiUrl: 'http://127.0.0.1:8080', tls: { caCert: '/x' } }), usage(/are for an https:\/\/ API, and the API URL is http:\/\/127\.0\.0\.1:8080/));
  assert.throws(() => tlsFetch({ apiUrl: 'https://h:1', tls: { clientCert: '/a.crt' } }), usage(/--client-cert needs --client-key/));
  assert.throws(() => tlsFetch({ apiUrl: 'https://h:1', tls: { clientKey: '/a.key' } }), usage(/--client-key needs --client-cert/));
  // A missing file is named, with the flag it came from.
  assert.throws(() => tlsFetch({ apiUrl: 'https://h:1', tls: { caCert: '/nonexistent/ca.crt' } }), /\/nonexistent\/ca\.crt: \(CA certificate, --ca-cert or CAXTON_CA_CERT\) does not exist/);
});
