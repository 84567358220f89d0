/**
 * test/helpers/caxton-command.ts: child `caxton` processes run from dist/ exactly when the build is
 * current, from source otherwise, and CAXTON_TEST_FROM forces one or is refused when it is neither.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { caxtonArgs, fromDist, staleSource } from '../helpers/caxton-command.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** What the module chooses in a fresh process with CAXTON_TEST_FROM set to `from`. */
function choose(from: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', "const m = await import('./test/helpers/caxton-command.ts'); console.log(JSON.stringify(m.caxtonArgs));"], {
    cwd: root,
    env: { ...process.env, CAXTON_TEST_FROM: from },
    encoding: 'utf8',
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

test('caxton command - dist/ exactly when no source file is newer than its build output', () => {
  assert.equal(fromDist, process.env['CAXTON_TEST_FROM'] === 'dist' || (process.env['CAXTON_TEST_FROM'] !== 'source' && staleSource() === undefined));
  if (fromDist) assert.deepEqual(caxtonArgs, [`${root}bin/caxton.js`]);
  else assert.match(caxtonArgs.join(' '), /^--import file:\/\/\S+tsx\S* \S+\/test\/helpers\/cli-entry\.ts$/);
});

test('caxton command - CAXTON_TEST_FROM=source runs the sources under tsx; an unknown value is refused by name', () => {
  const source = choose('source');
  assert.equal(source.status, 0, source.out);
  assert.match(source.out, /"--import","file:\/\/[^"]+","[^"]+\/test\/helpers\/cli-entry\.ts"/);
  const bad = choose('dst');
  assert.notEqual(bad.status, 0);
  assert.match(bad.out, /CAXTON_TEST_FROM must be "source" or "dist", not "dst"/);
});
