/** Where `caxton server start` looks when neither --config nor --data-dir is given (src/config/service-paths.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPaths, SERVICE_CONFIG_FILE, SERVICE_DATA_DIR } from '../../../src/config/service-paths.js';

const installed = { inCheckout: false, exists: (p: string) => p === SERVICE_CONFIG_FILE || p === '/etc/caxton/config.yaml' };

test('service paths - systemd\'s directories of the unit win: $CONFIGURATION_DIRECTORY/config.yaml and $STATE_DIRECTORY', () => {
  const env = { CONFIGURATION_DIRECTORY: '/etc/caxton', STATE_DIRECTORY: '/var/lib/caxton', INVOCATION_ID: 'abc' };
  assert.deepEqual(defaultPaths(env, installed), { configFile: '/etc/caxton/config.yaml', dataDir: '/var/lib/caxton', source: 'systemd-directories' });
  // Several directories (StateDirectory=caxton other): the first is Caxton's. A checkout does not matter here.
  assert.deepEqual(defaultPaths({ STATE_DIRECTORY: '/srv/a:/srv/b' }, { inCheckout: true, exists: () => false }), { configFile: undefined, dataDir: '/srv/a', source: 'systemd-directories' });
});

test('service paths - a fresh install with the configuration directory but no config.yaml starts on the defaults', () => {
  assert.deepEqual(defaultPaths({ CONFIGURATION_DIRECTORY: '/etc/caxton', STATE_DIRECTORY: '/var/lib/caxton' }, { inCheckout: false, exists: () => false }).configFile, undefined);
});

test('service paths - under systemd without the directories, an installed copy uses /etc/caxton (when there) and /var/lib/caxton', () => {
  assert.deepEqual(defaultPaths({ INVOCATION_ID: 'abc' }, installed), { configFile: SERVICE_CONFIG_FILE, dataDir: SERVICE_DATA_DIR, source: 'systemd' });
  assert.deepEqual(defaultPaths({ INVOCATION_ID: 'abc' }, { inCheckout: false, exists: () => false }), { configFile: undefined, dataDir: SERVICE_DATA_DIR, source: 'systemd' });
});

test('service paths - a checkout, or no systemd, never picks the system\'s configuration up: ./.caxton and no file', () => {
  const none = { configFile: undefined, dataDir: undefined, source: 'checkout' };
  assert.deepEqual(defaultPaths({ INVOCATION_ID: 'abc' }, { inCheckout: true, exists: () => true }), none, 'a test run under a systemd-run CI job');
  assert.deepEqual(defaultPaths({}, { inCheckout: false, exists: () => true }), none, 'an installed copy run from a shell, /etc/caxton present');
  assert.deepEqual(defaultPaths({ INVOCATION_ID: '' }, installed), none);
});
