import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, parseConfigText } from '../../../src/config/index.js';
import { isCaxtonError } from '../../../src/errors.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers/tmp.js';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(isCaxtonError(e, 'CAXTON_ERR_CONFIG_INVALID'), String(e));
    return e.message.split('\n');
  }
  assert.fail('expected the config to be refused');
}

test('--set - values are read as YAML scalars and flow collections', () => {
  const c = loadConfig({
    env: {},
    sets: [
      'runtime.workers=4',
      'observability.metrics.enabled=false',
      'coordination.cluster.seeds=[10.0.0.1:7946, 10.0.0.2:7946]',
      'node.id=edge-7',
      'deployment.canary.stages=10:1m,100:0',
      'server.body_limit = 32MiB',
      'runtime.features=[simd]',
    ],
  });
  assert.equal(c.config.runtime.workers, 4);
  assert.equal(c.config.observability.metrics.enabled, false);
  assert.deepEqual(c.config.coordination.cluster.seeds, ['10.0.0.1:7946', '10.0.0.2:7946']);
  assert.equal(c.config.node.id, 'edge-7');
  assert.deepEqual(c.resolved.deployment.canary.stages, [{ percent: 10, durationMs: 60_000 }, { percent: 100, durationMs: 0 }]);
  assert.equal(c.resolved.server.bodyLimitBytes, 32 * 1024 * 1024);
  assert.deepEqual(c.resolved.runtime.policy.features, ['simd']);
  assert.deepEqual(c.source.sets.length, 7);
});

test('--set - wins over the file, and later --set over earlier; a whole section can be set', () => {
  const dir = tempDir();
  try {
    const file = join(dir.path, 'c.yaml');
    writeFileSync(file, 'messaging:\n  queue_size: 10\n  max_deliveries: 3\n');
    const c = loadConfig({ file, env: {}, sets: ['messaging.queue_size=20', 'messaging.queue_size=30'] });
    assert.equal(c.config.messaging.queue_size, 30);
    assert.equal(c.config.messaging.max_deliveries, 3);
    const s = loadConfig({ file, env: {}, sets: ['security.api.rate_limit={enabled: false}'] });
    assert.equal(s.config.security.api.rate_limit.enabled, false);
    assert.equal(s.config.security.api.rate_limit.burst, 200);
  } finally {
    dir.cleanup();
  }
});

test('--set - a bad value names the --set argument and the key', () => {
  assert.deepEqual(problems(() => loadConfig({ env: {}, sets: ['messaging.queue_size=lots', 'server.api_addr=nowhere'] })), [
    '--set messaging.queue_size=lots: messaging.queue_size must be an integer from 1 to 10000000, got "lots"',
    '--set server.api_addr=nowhere: server.api_addr must be host:port, where host is a name or an IP address (IPv6 in brackets), e.g. 127.0.0.1:8080, got "nowhere": the port is missing',
  ]);
});

test('--set - malformed arguments, unknown keys and keys below values are reported as such', () => {
  assert.deepEqual(problems(() => loadConfig({ env: {}, sets: ['queue_size', '=5', 'a..b=1', 'runtime.max_agents=[1', 'server.prot=1', 'node.x.y=1', 'node.id.z=1'] })), [
    '--set queue_size: write key=value with a dotted key, for example --set messaging.queue_size=5000',
    '--set =5: write key=value with a dotted key, for example --set messaging.queue_size=5000',
    '--set a..b=1: write key=value with a dotted key, for example --set messaging.queue_size=5000',
    '--set runtime.max_agents=[1: runtime.max_agents: the value is not valid YAML: Flow sequence must end with a ]',
    '--set server.prot=1: unknown key server.prot (allowed here: api_addr, metrics_addr, body_limit, request_timeout, releases_dir)',
    '--set node.x.y=1: unknown key node.x (allowed here: id, data_dir)',
    '--set node.id.z=1: node.id must be 1 to 128 characters from A-Z a-z 0-9 _ . -, starting with a letter or digit, got a mapping',
  ]);
});

test('--set - file problems come first, by line, then the --set problems in order', () => {
  const lines = problems(() => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'c.yaml');
      writeFileSync(file, 'messaging:\n  queue_size: 0\n');
      return loadConfig({ file, env: {}, sets: ['runtime.max_agents=0'] });
    } finally {
      dir.cleanup();
    }
  });
  assert.equal(lines.length, 2);
  assert.match(lines[0] ?? '', /c\.yaml:2:15: messaging\.queue_size must be an integer from 1 to 10000000, got 0$/);
  assert.equal(lines[1], '--set runtime.max_agents=0: runtime.max_agents must be an integer of at least 1, got 0');
});

test('--set - cannot write below a value the file gave', () => {
  assert.throws(() => parseConfigText('server: 5\n', 'c.yaml', {}), /c\.yaml:1:9: server must be a mapping of keys, got 5/);
  assert.deepEqual(problems(() => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'c.yaml');
      writeFileSync(file, 'server: 5\n');
      return loadConfig({ file, env: {}, sets: ['server.api_addr=0.0.0.0:1'] });
    } finally {
      dir.cleanup();
    }
  }).slice(-1), ['--set server.api_addr=0.0.0.0:1: cannot set server.api_addr: server is a value, not a mapping of keys']);
});
