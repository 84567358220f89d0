import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installedReleases, linkedVersion, normalizeVersion, releaseProblem, switchCurrent } from '../../../../src/cluster/upgrade/releases.js';
import { childArgs } from '../../../../src/cli/supervisor.js';
import { isCaxtonError } from '../../../../src/errors.js';

/** A release directory with the files a complete install has (their content does not matter here). */
function fakeInstall(root: string, version: string, pkgVersion = version): void {
  const d = join(root, version);
  for (const sub of ['bin', 'dist/cli', 'node_modules']) mkdirSync(join(d, sub), { recursive: true });
  writeFileSync(join(d, 'package.json'), JSON.stringify({ name: 'caxton', version: pkgVersion }));
  writeFileSync(join(d, 'bin', 'caxton.js'), '');
  writeFileSync(join(d, 'dist', 'cli', 'main.js'), '');
}

test('releases - versions with or without v; anything else (a path) is refused', () => {
  assert.equal(normalizeVersion('v1.2.0'), '1.2.0');
  assert.equal(normalizeVersion('1.2.0-rc.1'), '1.2.0-rc.1');
  for (const bad of ['../1.2.0', '1.2', 'latest', '1.2.0/../../etc', '']) assert.throws(() => normalizeVersion(bad), (e) => isCaxtonError(e, 'CAXTON_ERR_API_INVALID_REQUEST'), bad);
});

test('releases - a release is complete with its files and a package.json of its version; current and previous move together', () => {
  const root = mkdtempSync(join(tmpdir(), 'caxton-releases-'));
  try {
    fakeInstall(root, '0.3.0');
    fakeInstall(root, '0.4.0');
    fakeInstall(root, '0.5.0', '0.4.9');
    mkdirSync(join(root, '0.6.0'));
    assert.equal(releaseProblem(root, '0.3.0'), undefined);
    assert.match(releaseProblem(root, '0.5.0')!, /package\.json says version 0\.4\.9, not 0\.5\.0/);
    assert.match(releaseProblem(root, '0.6.0')!, /0\.6\.0\/package\.json is missing/);
    assert.match(releaseProblem(root, '0.7.0')!, /0\.7\.0 does not exist/);
    assert.deepEqual(installedReleases(root), ['0.3.0', '0.4.0']);
    assert.equal(linkedVersion(root), undefined);
    assert.deepEqual(switchCurrent(root, '0.3.0'), { previous: undefined });
    assert.equal(readlinkSync(join(root, 'current')), '0.3.0', 'a relative link');
    assert.deepEqual(switchCurrent(root, '0.4.0'), { previous: '0.3.0' });
    assert.deepEqual([linkedVersion(root, 'current'), linkedVersion(root, 'previous')], ['0.4.0', '0.3.0']);
    assert.deepEqual(switchCurrent(root, '0.3.0'), { previous: '0.4.0' }, 'going back swaps them');
    assert.deepEqual([linkedVersion(root, 'current'), linkedVersion(root, 'previous')], ['0.3.0', '0.4.0']);
    assert.throws(() => switchCurrent(root, '0.6.0'), (e) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_UPGRADE_RELEASE_MISSING'));
    assert.equal(linkedVersion(root), '0.3.0', 'a refused switch changes nothing');
    assert.deepEqual(installedReleases(root), ['0.3.0', '0.4.0'], 'the links are not releases');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('supervisor - the node gets the `server start` arguments less --releases', () => {
  assert.deepEqual(childArgs(['node', 'caxton.js', 'server', 'start', '--releases', '/r', '--config', 'c.yaml', '--releases=/x', '--join', 'a:1']), ['--config', 'c.yaml', '--join', 'a:1']);
  assert.deepEqual(childArgs(['node', 'caxton.js', 'server', 'start']), []);
});
