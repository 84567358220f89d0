import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONFIG, REDACTED, diffConfig, parseConfigText, redactConfig } from '../../../src/config/index.js';

const cfg = (yaml: string) => parseConfigText(yaml, 'c.yaml', {}).config;

test('diff - identical configs have no differences', () => {
  assert.deepEqual(diffConfig(DEFAULT_CONFIG, DEFAULT_CONFIG), []);
  assert.deepEqual(diffConfig(cfg(''), DEFAULT_CONFIG), []);
});

test('diff - changed keys, flat and dotted, in schema order, values as written', () => {
  const running = cfg('messaging:\n  queue_size: 5\nserver:\n  request_timeout: 10s\ncoordination:\n  cluster:\n    seeds: [a:1]\n');
  assert.deepEqual(diffConfig(running, DEFAULT_CONFIG), [
    { key: 'server.request_timeout', running: '10s', baseline: '30s' },
    { key: 'messaging.queue_size', running: 5, baseline: 10_000 },
    { key: 'coordination.cluster.seeds', running: ['a:1'], baseline: [] },
  ]);
});

test('diff - sizes and durations compare by meaning, unique lists regardless of order', () => {
  const a = cfg('server:\n  body_limit: 67108864\n  request_timeout: 30000\nruntime:\n  restart:\n    window: 1m\n  features: [reference-types, multi-value, bulk-memory, nontrapping-fptoint, sign-ext, mutable-global]\n');
  assert.deepEqual(diffConfig(a, DEFAULT_CONFIG), []);
  const b = cfg('server:\n  body_limit: 64MB\n');
  assert.deepEqual(diffConfig(b, DEFAULT_CONFIG), [{ key: 'server.body_limit', running: '64MB', baseline: '64MiB' }]);
});

test('diff - secret keys are masked unless asked not to', () => {
  const a = cfg('security:\n  cluster:\n    mtls:\n      node_key: /etc/a.key\n');
  const b = cfg('security:\n  cluster:\n    mtls:\n      node_key: /etc/b.key\n');
  assert.deepEqual(diffConfig(a, b), [{ key: 'security.cluster.mtls.node_key', running: REDACTED, baseline: REDACTED }]);
  assert.deepEqual(diffConfig(a, DEFAULT_CONFIG), [{ key: 'security.cluster.mtls.node_key', running: REDACTED, baseline: '' }]);
  assert.deepEqual(diffConfig(a, b, { redact: false }), [{ key: 'security.cluster.mtls.node_key', running: '/etc/a.key', baseline: '/etc/b.key' }]);
});

test('redact - values of keys named like key, secret, password or token, and all below them, become ***', () => {
  const input = {
    api_key: 'abc',
    nested: { client_secret: 's', password: '', Token: 42, plain: 'visible' },
    tokens: { admin: 'x', list: ['a', 'b'] },
    keyring: null,
    list: [{ auth_token: 't', name: 'n' }],
  };
  assert.deepEqual(redactConfig(input), {
    api_key: REDACTED,
    nested: { client_secret: REDACTED, password: '', Token: REDACTED, plain: 'visible' },
    tokens: { admin: REDACTED, list: [REDACTED, REDACTED] },
    keyring: null,
    list: [{ auth_token: REDACTED, name: 'n' }],
  });
  assert.equal(input.api_key, 'abc', 'the input is not changed');
  const shown = redactConfig(cfg('security:\n  cluster:\n    mtls:\n      node_key: /etc/a.key\n'));
  assert.equal(shown.security.cluster.mtls.node_key, REDACTED);
  assert.equal(shown.security.cluster.mtls.ca_cert, '');
  assert.equal(shown.messaging.queue_size, 10_000);
});
