import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CONFIG, loadConfig, parseConfigText, type LoadedConfig } from '../../../src/config/index.js';
import { CaxtonError, isCaxtonError } from '../../../src/errors.js';
import { tempDir } from '../../helpers/tmp.js';

const EXAMPLE = new URL('../../../examples/config/caxton.yaml', import.meta.url).pathname;

/** The error's lines, asserting it is the one config error. */
function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(isCaxtonError(e, 'CAXTON_ERR_CONFIG_INVALID'), `expected CAXTON_ERR_CONFIG_INVALID, got ${String(e)}`);
    return e.message.split('\n');
  }
  assert.fail('expected the config to be refused');
}

const text = (yaml: string, env: NodeJS.ProcessEnv = {}) => () => parseConfigText(yaml, 'config.yaml', env);

test('load - no file and no --set gives the defaults', () => {
  const c = loadConfig({ env: {} });
  assert.deepEqual(c.config, DEFAULT_CONFIG);
  assert.deepEqual(c.source, { file: undefined, sets: [] });
  assert.equal(c.resolved.server.bodyLimitBytes, 64 * 1024 * 1024);
  assert.deepEqual(c.resolved.server.apiAddr, { host: '127.0.0.1', port: 8080 });
});

test('load - the example file loads and, apart from the node id, equals the defaults', () => {
  const c = loadConfig({ file: EXAMPLE, env: {} });
  assert.equal(c.config.node.id, 'node-1');
  assert.deepEqual({ ...c.config, node: DEFAULT_CONFIG.node }, DEFAULT_CONFIG);
  const withEnv = loadConfig({ file: EXAMPLE, env: { CAXTON_NODE_ID: 'n7', CAXTON_API_PORT: '18080', CAXTON_LOG_LEVEL: 'debug' } });
  assert.equal(withEnv.config.node.id, 'n7');
  assert.equal(withEnv.config.server.api_addr, '127.0.0.1:18080');
  assert.equal(withEnv.resolved.observability.logging.level, 'debug');
});

test('load - the runbook\'s bootstrap config loads', () => {
  const c = parseConfigText(
    'coordination:\n  cluster:\n    bind_addr: 0.0.0.0:7946\n    bootstrap_expect: 3\nsecurity:\n  cluster:\n    mtls:\n      enabled: true\n      ca_cert: /etc/caxton/certs/ca.crt\n',
    'config.yaml',
    {},
  );
  assert.equal(c.resolved.coordination.cluster.bootstrapExpect, 3);
  assert.deepEqual(c.resolved.coordination.cluster.bindAddr, { host: '0.0.0.0', port: 7946 });
  assert.equal(c.resolved.security.clusterMtls.caCert, '/etc/caxton/certs/ca.crt');
});

test('load - the result is deep-frozen', () => {
  const c: LoadedConfig = loadConfig({ env: {} });
  assert.ok(Object.isFrozen(c.config.messaging));
  assert.ok(Object.isFrozen(c.resolved.runtime.policy.features));
  assert.throws(() => {
    (c.config.messaging as { queue_size: number }).queue_size = 1;
  }, TypeError);
});

test('load - partial files merge over the defaults; an empty section keeps its defaults', () => {
  const c = parseConfigText('messaging:\n  queue_size: 5\nserver:\nruntime:\n  restart:\n    max_restarts: 0\n', 'config.yaml', {});
  assert.equal(c.config.messaging.queue_size, 5);
  assert.equal(c.config.messaging.max_message_size, '100KiB');
  assert.deepEqual(c.config.server, DEFAULT_CONFIG.server);
  assert.equal(c.resolved.runtime.restartPolicy.maxRestarts, 0);
  assert.equal(c.resolved.runtime.restartPolicy.maxDelayMs, 30_000);
  assert.deepEqual(parseConfigText('# only a comment\n', 'c.yaml', {}).config, DEFAULT_CONFIG);
  assert.deepEqual(parseConfigText('', 'c.yaml', {}).config, DEFAULT_CONFIG);
});

test('load - sizes and durations are resolved to bytes and ms, memory to whole pages', () => {
  const c = parseConfigText(
    'runtime:\n  max_memory_per_agent: 100MB\n  max_call_duration: 1500\n  workers: 3\nmessaging:\n  max_message_size: 1MB\n  redeliver_after: 1m\n',
    'config.yaml',
    {},
  );
  assert.equal(c.resolved.runtime.policy.maxMemoryPages, Math.floor(100_000_000 / 65536));
  assert.equal(c.resolved.runtime.policy.maxCallMs, 1500);
  assert.equal(c.resolved.runtime.workers, 3);
  assert.equal(c.resolved.messaging.maxMessageBytes, 1_000_000);
  assert.equal(c.resolved.messaging.redeliverAfterMs, 60_000);
  assert.equal(c.resolved.messaging.relay.baseDelayMs, 60_000);
});

test('load - a wrong type names file:line:col, the key, the expectation and the value', () => {
  const yaml = [
    'server:', //                          1
    '  api_addr: 127.0.0.1:8080', //       2
    'messaging:', //                       3
    '  queue_size: lots', //               4
  ].join('\n');
  assert.deepEqual(problems(text(yaml)), ['config.yaml:4:15: messaging.queue_size must be an integer from 1 to 10000000, got "lots"']);
});

test('load - unknown keys point at the key, with a suggestion', () => {
  const yaml = [
    'server:', //                          1
    '  api_adr: 0.0.0.0:8080', //          2
    '  port: 8080', //                     3
    'runtime:', //                         4
    '  max_agnets: 5', //                  5
    'messaging:', //                       6
    '  max_agents: 5', //                  7
    '  frobnicate: true', //               8
    'extras: 1', //                        9
  ].join('\n');
  assert.deepEqual(problems(text(yaml)), [
    'config.yaml:2:3: unknown key server.api_adr (did you mean server.api_addr?)',
    'config.yaml:3:3: unknown key server.port (did you mean server.api_addr? host and port are one key there, "host:port")',
    'config.yaml:5:3: unknown key runtime.max_agnets (did you mean runtime.max_agents?)',
    'config.yaml:7:3: unknown key messaging.max_agents (did you mean runtime.max_agents?)',
    'config.yaml:8:3: unknown key messaging.frobnicate (allowed here: max_message_size, queue_size, queue_bytes, capability_strategy, redeliver_after, max_deliveries, outbox_scan_interval, outbox_batch, drain_timeout)',
    'config.yaml:9:1: unknown key extras (allowed here: node, server, runtime, messaging, coordination, observability, security, deployment, backup, integrations)',
  ]);
});

test('load - every problem is reported, one per line, in file order', () => {
  const yaml = [
    'deployment:', //                                   1
    '  canary:', //                                     2
    '    stages: "5:5m,3:1m"', //                       3
    'runtime:', //                                      4
    '  max_memory_per_agent: 64XB', //                  5
    '  max_call_duration: 5 sec', //                    6
    '  features: [simd, threads]', //                   7
    'coordination:', //                                 8
    '  cluster:', //                                    9
    '    seeds: [a:1, 5, "x"]', //                      10
    '    profile: metro', //                            11
    '  local_state: {synchronous: sometimes}', //       12
    'observability:', //                                13
    '  metrics: yes', //                                14
  ].join('\n');
  assert.deepEqual(problems(text(yaml)), [
    'config.yaml:3:13: deployment.canary.stages must be canary stages such as "5:5m,25:10m,50:10m,100:0" (percentages strictly increasing within 1-100), got "5:5m,3:1m": stage 2: percent 3 is not above the previous stage\'s 5',
    'config.yaml:5:25: runtime.max_memory_per_agent must be a size (bytes, or a number with a unit such as "64MiB") from 64KiB to 4GiB, got "64XB": unknown size unit "XB"; use B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)',
    'config.yaml:6:22: runtime.max_call_duration must be a duration (milliseconds, or a number with a unit such as "5s") of at least 1ms, got "5 sec": unknown duration unit "sec"; use ms, s, m, h, d',
    'config.yaml:7:20: runtime.features[1] must be one of "mutable-global", "sign-ext", "nontrapping-fptoint", "bulk-memory", "multi-value", "reference-types" or "simd", got "threads"',
    'config.yaml:10:18: coordination.cluster.seeds[1] must be host:port, where host is a name or an IP address (IPv6 in brackets), e.g. node-1.example.com:7946, 10.0.0.5:7946 or [::1]:7946, got 5',
    'config.yaml:10:21: coordination.cluster.seeds[2] must be host:port, where host is a name or an IP address (IPv6 in brackets), e.g. node-1.example.com:7946, 10.0.0.5:7946 or [::1]:7946, got "x": the port is missing',
    'config.yaml:11:14: coordination.cluster.profile must be one of "lan", "local", "wan" or "fast", got "metro"',
    'config.yaml:12:30: coordination.local_state.synchronous must be one of "normal", "full" or "off", got "sometimes"',
    'config.yaml:14:12: observability.metrics must be a mapping of keys, got "yes"',
  ]);
});

test('load - the error carries the problems as structured details', () => {
  try {
    parseConfigText('messaging:\n  queue_size: 0\n', 'c.yaml', {});
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof CaxtonError);
    assert.equal(e.status, 400);
    assert.deepEqual(e.details, {
      errors: [{ file: 'c.yaml', line: 2, col: 15, key: 'messaging.queue_size', message: 'messaging.queue_size must be an integer from 1 to 10000000, got 0' }],
    });
  }
});

test('load - YAML syntax errors give line and column, all of them', () => {
  assert.deepEqual(problems(text('server:\n  api_addr: [1, 2\nmessaging: {')), [
    'config.yaml:3:1: YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    'config.yaml:3:13: YAML: Flow map in block collection must be sufficiently indented and end with a }',
  ]);
  assert.deepEqual(problems(text('a: 1\nb:\n  c: 1\n  c: 2\n')), ['config.yaml:4:3: YAML: Map keys must be unique']);
  assert.deepEqual(problems(text('a: 1\n---\nb: 2\n')), ['config.yaml:2:1: YAML: Source contains multiple documents; please use YAML.parseAllDocuments()']);
  assert.deepEqual(problems(text('node:\n  id: !secret x\n')), ['config.yaml:2:7: YAML: Unresolved tag: !secret']);
});

test('load - a file that is not a mapping is refused at its first line', () => {
  assert.deepEqual(problems(text('just words')), ['config.yaml:1:1: the configuration must be a mapping of sections (node, server, runtime, ...), got "just words"']);
  assert.deepEqual(problems(text('- a\n- b\n')), ['config.yaml:1:1: the configuration must be a mapping of sections (node, server, runtime, ...), got a list']);
});

test('load - keys that contradict each other are reported at the one the operator wrote', () => {
  assert.deepEqual(problems(text('runtime:\n  restart:\n    initial_backoff: 1m\n')), [
    'config.yaml:3:22: runtime.restart.max_backoff (30s) must be at least runtime.restart.initial_backoff (1m)',
  ]);
  assert.deepEqual(problems(text('coordination:\n  cluster:\n    probe_interval: 1s\n    probe_timeout: 2s\n')), [
    'config.yaml:4:20: coordination.cluster.probe_timeout (2s) must be below coordination.cluster.probe_interval (1s): an ack cannot be awaited longer than the probe period',
  ]);
  assert.deepEqual(problems(text('server:\n  api_addr: 0.0.0.0:9090\n')), [
    'config.yaml:2:13: server.metrics_addr (127.0.0.1:9090) must differ from server.api_addr (0.0.0.0:9090): both would listen on the same port',
  ]);
  assert.deepEqual(problems(text('messaging:\n  max_message_size: 1MiB\n  queue_bytes: 1MiB\n')), [
    'config.yaml:3:16: messaging.queue_bytes (1MiB) must be at least 2 × messaging.max_message_size (1MiB): a mailbox counts 2 bytes per character, and the largest message must fit an empty one',
  ]);
  parseConfigText('messaging:\n  max_message_size: 1MiB\n  queue_bytes: 2MiB\n', 'c.yaml', {});
  // With metrics off, or on port 0, there is no clash.
  parseConfigText('server:\n  api_addr: 0.0.0.0:9090\nobservability:\n  metrics:\n    enabled: false\n', 'c.yaml', {});
  parseConfigText('server:\n  api_addr: 127.0.0.1:0\n  metrics_addr: 127.0.0.1:0\n', 'c.yaml', {});
});

test('load - cluster profiles set the timing defaults, and explicit keys still win', () => {
  const local = parseConfigText('coordination:\n  cluster:\n    profile: local\n', 'c.yaml', {}).resolved.coordination.cluster;
  assert.deepEqual([local.gossipIntervalMs, local.probeIntervalMs, local.probeTimeoutMs, local.suspicionMult, local.gossipFanout], [100, 1000, 200, 3, 3]);
  const wan = parseConfigText('coordination:\n  cluster:\n    profile: wan\n    probe_timeout: 4s\n', 'c.yaml', {}).resolved.coordination.cluster;
  assert.deepEqual([wan.gossipIntervalMs, wan.probeIntervalMs, wan.probeTimeoutMs, wan.suspicionMult, wan.gossipFanout], [500, 5000, 4000, 6, 4]);
});

test('load - a missing or unreadable file names the file', () => {
  assert.deepEqual(problems(() => loadConfig({ file: '/nonexistent/caxton.yaml', env: {} })), ['/nonexistent/caxton.yaml: cannot read the configuration file: no such file']);
  const dir = tempDir();
  try {
    assert.match(problems(() => loadConfig({ file: dir.path, env: {} }))[0] ?? '', /^.*: cannot read the configuration file: EISDIR/);
  } finally {
    dir.cleanup();
  }
});

test('load - a file on disk reports its path as given', () => {
  const dir = tempDir();
  try {
    const file = join(dir.path, 'node.yaml');
    writeFileSync(file, 'node:\n  id: "-bad"\n');
    assert.deepEqual(problems(() => loadConfig({ file, env: {} })), [
      `${file}:2:7: node.id must be 1 to 128 characters from A-Z a-z 0-9 _ . -, starting with a letter or digit, got "-bad"`,
    ]);
  } finally {
    dir.cleanup();
  }
});

test('load - oversized text and alias bombs are refused', () => {
  assert.deepEqual(problems(text(`# ${'x'.repeat(1024 * 1024)}\n`)), ['config.yaml: the configuration is larger than 1048576 bytes']);
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]'].join('\n');
  assert.match(problems(text(bomb))[0] ?? '', /^config\.yaml: YAML: Excessive alias count/);
});

test('load - __proto__ and constructor keys are unknown keys, not prototype changes', () => {
  assert.deepEqual(problems(text('__proto__:\n  polluted: 1\nserver:\n  constructor: 1\n')), [
    'config.yaml:1:1: unknown key __proto__ (allowed here: node, server, runtime, messaging, coordination, observability, security, deployment, backup, integrations)',
    'config.yaml:4:3: unknown key server.constructor (allowed here: api_addr, metrics_addr, body_limit, request_timeout, releases_dir)',
  ]);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
});

test('load - an advertise address with an IPv6 zone is refused by the config check, naming the zone', () => {
  const yaml = 'coordination:\n  cluster:\n    advertise_addr: "[fe80::1%eth0]:7946"\n';
  assert.deepEqual(problems(text(yaml)), [
    'config.yaml:3:21: coordination.cluster.advertise_addr must be "auto" or host:port, where host is a name or an IP address (IPv6 in brackets), e.g. 10.0.0.1:7946, got "[fe80::1%eth0]:7946": the IPv6 zone %eth0 names an interface of this host, which other nodes cannot use; advertise the address without it, e.g. [fe80::1]:7946',
  ]);
  // A zone where the node listens is fine; the advertised address without it too.
  text('coordination:\n  cluster:\n    bind_addr: "[fe80::1%eth0]:7946"\n    advertise_addr: "[fe80::1]:7946"\n')();
});

test('load - security.api.tls needs its files when enabled, and ca_cert for client certificates', () => {
  assert.deepEqual(problems(text('security:\n  api:\n    tls:\n      enabled: true\n      key: /k\n')), [
    'config.yaml:4:16: security.api.tls.cert must name a file when security.api.tls.enabled is true: the API cannot serve HTTPS without its certificate',
  ]);
  assert.deepEqual(problems(text('security:\n  api:\n    tls:\n      enabled: true\n      cert: /c\n      key: /k\n      client_auth: required\n')), [
    'config.yaml:7:20: security.api.tls.ca_cert must name the CA certificate that client certificates chain to when security.api.tls.client_auth is required',
  ]);
  assert.match(problems(text('security:\n  api:\n    tls:\n      client_auth: maybe\n'))[0] ?? '', /security\.api\.tls\.client_auth must be one of "none", "optional" or "required", got "maybe"/);
  // Off, the files are not looked at; on, they resolve as written.
  assert.equal(parseConfigText('security:\n  api:\n    tls:\n      client_auth: required\n', 'c.yaml', {}).resolved.security.api.tls.enabled, false);
  const on = parseConfigText('security:\n  api:\n    tls:\n      enabled: true\n      cert: /c\n      key: /k\n      ca_cert: /ca\n      client_auth: optional\n', 'c.yaml', {}).resolved.security.api.tls;
  assert.deepEqual(on, { enabled: true, cert: '/c', key: '/k', caCert: '/ca', clientAuth: 'optional' });
});
