import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../../src/config/index.js';
import { expand } from '../../../src/config/env.js';
import { isCaxtonError } from '../../../src/errors.js';

const load = (yaml: string, env: NodeJS.ProcessEnv) => parseConfigText(yaml, 'config.yaml', env).config;

function problems(yaml: string, env: NodeJS.ProcessEnv): string[] {
  try {
    parseConfigText(yaml, 'config.yaml', env);
  } catch (e) {
    assert.ok(isCaxtonError(e, 'CAXTON_ERR_CONFIG_INVALID'), String(e));
    return e.message.split('\n');
  }
  assert.fail('expected the config to be refused');
}

test('env - ${VAR} and ${VAR:-default} inside values', () => {
  const c = load('node:\n  id: ${NODE}\n  data_dir: /var/lib/${APP:-caxton}/data\nserver:\n  api_addr: ${HOST:-0.0.0.0}:${PORT:-8080}\n', { NODE: 'n1', HOST: '10.0.0.5' });
  assert.equal(c.node.id, 'n1');
  assert.equal(c.node.data_dir, '/var/lib/caxton/data');
  assert.equal(c.server.api_addr, '10.0.0.5:8080');
});

test('env - an unquoted value is re-read as YAML: numbers and booleans get their type', () => {
  const c = load('messaging:\n  queue_size: ${Q:-500}\nobservability:\n  metrics:\n    enabled: ${M}\nruntime:\n  workers: ${W}\n', { M: 'false', W: '4' });
  assert.equal(c.messaging.queue_size, 500);
  assert.equal(c.observability.metrics.enabled, false);
  assert.equal(c.runtime.workers, 4);
});

test('env - a key whose type is text keeps the text even when it looks like a number', () => {
  const c = load('node:\n  id: ${ID}\n  data_dir: ${D}\n', { ID: '1234', D: 'true' });
  assert.equal(c.node.id, '1234');
  assert.equal(c.node.data_dir, 'true');
});

test('env - a quoted value stays a string, so a number there is a type error at its line', () => {
  assert.deepEqual(problems('messaging:\n  queue_size: "${Q:-500}"\n', {}), ['config.yaml:2:15: messaging.queue_size must be an integer from 1 to 10000000, got "500"']);
});

test('env - a variable cannot inject YAML structure', () => {
  const c = load('node:\n  data_dir: ${EVIL}\n', { EVIL: 'x\nserver: {api_addr: "0.0.0.0:1"}' });
  assert.equal(c.node.data_dir, 'x\nserver: {api_addr: "0.0.0.0:1"}');
  assert.equal(c.server.api_addr, '127.0.0.1:8080');
  assert.deepEqual(problems('node:\n  data_dir: ${EVIL}\nserver:\n  body_limit: ${EVIL2}\n', { EVIL: '{a: 1}', EVIL2: '[1, 2]' }).length, 1);
  // data_dir takes any text, so "{a: 1}" is a (strange) directory name; body_limit "[1, 2]" is not a size.
  assert.equal(load('node:\n  data_dir: ${EVIL}\n', { EVIL: '{a: 1}' }).node.data_dir, '{a: 1}');
  // The substituted text is kept exactly, comments and all.
  assert.equal(load('node:\n  data_dir: ${D}\n', { D: 'dir # not a comment' }).node.data_dir, 'dir # not a comment');
});

test('env - :- takes the default when the variable is unset or empty; bare ${VAR} accepts empty', () => {
  assert.equal(load('node:\n  data_dir: ${D:-fallback}\n', { D: '' }).node.data_dir, 'fallback');
  assert.equal(load('node:\n  data_dir: x${D}y\n', { D: '' }).node.data_dir, 'xy');
});

test('env - $${ is a literal ${', () => {
  assert.equal(load('node:\n  data_dir: /tmp/$${HOME}\n', {}).node.data_dir, '/tmp/${HOME}');
  assert.equal(load('node:\n  data_dir: a$b$$c\n', {}).node.data_dir, 'a$b$$c');
});

test('env - an unset variable names the variable, the key and the position of the reference', () => {
  const yaml = [
    'server:', //                                      1
    '  api_addr: ${HOST}:${PORT}', //                  2
    'node:', //                                        3
    '  id: "${ID}"', //                                4
    'messaging:', //                                   5
    '  queue_size: lots', //                           6
  ].join('\n');
  assert.deepEqual(problems(yaml, {}), [
    'config.yaml:2:13: server.api_addr: environment variable HOST is not set (referenced as ${HOST}); set it, or give a default with ${HOST:-default}',
    'config.yaml:2:21: server.api_addr: environment variable PORT is not set (referenced as ${PORT}); set it, or give a default with ${PORT:-default}',
    'config.yaml:4:8: node.id: environment variable ID is not set (referenced as ${ID}); set it, or give a default with ${ID:-default}',
    'config.yaml:6:15: messaging.queue_size must be an integer from 1 to 10000000, got "lots"',
  ]);
});

test('env - malformed references are errors, not text', () => {
  assert.deepEqual(problems('node:\n  data_dir: ${1X}\n  id: a${\n', {}), [
    'config.yaml:2:13: node.data_dir: ${1X} is not a variable reference: write ${VAR} or ${VAR:-default}, VAR being letters, digits and _ (not starting with a digit)',
    'config.yaml:3:8: node.id: unterminated ${ in "a${": write ${VAR} or ${VAR:-default} (or $${ for a literal ${)',
  ]);
});

test('env - keys, comments and values in sequences', () => {
  const c = load('# ${NOT_SUBSTITUTED}\ncoordination:\n  cluster:\n    seeds: ["${S1}", "${S2:-b:2}"]\n', { S1: 'a:1' });
  assert.deepEqual(c.coordination.cluster.seeds, ['a:1', 'b:2']);
  const block = load('coordination:\n  cluster:\n    seeds:\n      - ${S1}\n', { S1: 'a:1' });
  assert.deepEqual(block.coordination.cluster.seeds, ['a:1']);
  // Unquoted in a flow list, { is YAML syntax; the message says what to do.
  assert.deepEqual(problems('coordination:\n  cluster:\n    seeds: [${S1}]\n', {}), [
    'config.yaml:3:14: YAML: Missing , or : between flow sequence items (inside [...] or {...}, quote values that contain ${...})',
  ]);
  assert.deepEqual(problems('${K}: 1\n', { K: 'server' }), ['config.yaml:1:1: unknown key "${K}" (allowed here: node, server, runtime, messaging, coordination, observability, security, deployment, backup, integrations)']);
});

test('env - expand on its own', () => {
  assert.deepEqual(expand('plain', {}), { value: 'plain' });
  assert.deepEqual(expand('${A}${B:-b}${C:-}', { A: 'a' }), { value: 'ab' });
  assert.deepEqual(expand('${A:-x:-y}', {}), { value: 'x:-y' });
  assert.deepEqual(expand('${A:-{}', {}), { value: '{' });
  assert.ok('errors' in expand('${}', {}));
  assert.ok('errors' in expand('${A B}', {}));
});
