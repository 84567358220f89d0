import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CAXTON_ROOT } from '../../../src/scaffold/index.js';

const PREPARE = join(CAXTON_ROOT, 'scripts', 'prepare.mjs');

test('scaffold - caxton\'s prepare, run by npm for a project that links caxton, does not rebuild a built caxton', { skip: !existsSync(join(CAXTON_ROOT, 'dist', 'cli', 'main.js')) && 'caxton is not built' }, () => {
  // npm runs a linked dependency's prepare in the dependency's directory, with the installing
  // project as npm_config_local_prefix. `npm` is taken off PATH: a build attempt would fail loudly.
  const env = { ...process.env, npm_config_local_prefix: '/tmp/some-agent-project', PATH: '' };
  const r = spawnSync(process.execPath, [PREPARE], { cwd: CAXTON_ROOT, env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^caxton: already built \(/);
});

test('scaffold - caxton\'s own install (npm_config_local_prefix is caxton) builds', () => {
  // With npm off PATH the build cannot start: the non-zero exit shows that it was attempted.
  const env = { ...process.env, npm_config_local_prefix: CAXTON_ROOT, PATH: '' };
  const r = spawnSync(process.execPath, [PREPARE], { cwd: CAXTON_ROOT, env, encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.doesNotMatch(r.stdout, /already built/);
});
