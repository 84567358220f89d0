import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildProject } from '../../../src/agent-project/project-build.js';
import { validateProject } from '../../../src/agent-project/project-file.js';
import { tempDir } from '../../helpers/tmp.js';
import { until } from '../../helpers/until.js';

type T = { after(fn: () => void): void };

function project(t: T, build: string[]) {
  const dir = tempDir('caxton-build-');
  t.after(() => dir.cleanup());
  return validateProject({ name: 'agent', lang: 'c', build, wasm: 'build/agent.wasm', watch: ['src'] }, dir.path);
}

// The smallest valid module: what a build "compiles".
const WASM = 'AGFzbQEAAAA=';
const node = process.execPath;

test('agent project build - runs the argv in the project dir without a shell, hands on each line, returns the module and its sha256', async (t) => {
  const script = `const fs=require('fs');console.log('compiling $HOME');console.error('a warning');fs.mkdirSync('build',{recursive:true});fs.writeFileSync('build/agent.wasm',Buffer.from('${WASM}','base64'));process.stdout.write('no newline at the end')`;
  const p = project(t, [node, '-e', script]);
  const lines: [string, string][] = [];
  const r = await buildProject(p, { onLine: (l, s) => lines.push([s, l]) });
  assert.ok(r.ok, JSON.stringify(r));
  const bytes = readFileSync(join(p.dir, 'build', 'agent.wasm'));
  assert.deepEqual(Buffer.from(r.wasm), bytes);
  assert.equal(r.hash, createHash('sha256').update(bytes).digest('hex'));
  // `$HOME` printed as it is: no shell expanded it.
  assert.deepEqual(lines.filter(([s]) => s === 'stdout').map(([, l]) => l), ['compiling $HOME', 'no newline at the end']);
  assert.deepEqual(lines.filter(([s]) => s === 'stderr').map(([, l]) => l), ['a warning']);
  assert.equal(r.output.length, 3);
});

test('agent project build - a failing build gives its exit code and keeps the compiler\'s errors', async (t) => {
  const p = project(t, [node, '-e', "console.error('index.ts(3,5): error: expected ;');process.exit(3)"]);
  const r = await buildProject(p);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.aborted, false);
  assert.match(r.reason, /failed with exit code 3$/);
  assert.deepEqual(r.output, ['index.ts(3,5): error: expected ;']);
});

test('agent project build - a command that does not exist, and a build that writes no module, say so', async (t) => {
  const missing = await buildProject(project(t, ['caxton-no-such-compiler', '--build']));
  assert.equal(missing.ok, false);
  if (!missing.ok) assert.match(missing.reason, /the build command "caxton-no-such-compiler" was not found .*"build" in .*caxton\.agent\.json is \["caxton-no-such-compiler","--build"\]/);
  const nothing = await buildProject(project(t, [node, '-e', '0']));
  assert.equal(nothing.ok, false);
  if (!nothing.ok) assert.match(nothing.reason, /the build succeeded but build\/agent\.wasm does not exist: check "wasm" in /);
});

// The compiler would live 5 minutes: without the group kill, the test times out.
test('agent project build - aborting kills the build\'s whole process group, the compiler its script started too', { timeout: 60_000 }, async (t) => {
  const p = project(t, ['sh', '-c', `${JSON.stringify(node)} -e "console.log(process.pid); setTimeout(() => {}, 300000)"; echo not reached`]);
  const ac = new AbortController();
  let grandchild: number | undefined;
  const building = buildProject(p, { signal: ac.signal, onLine: (l) => (grandchild ??= Number(l)) });
  await until('the compiler runs', () => grandchild !== undefined, 15_000);
  ac.abort();
  const r = await building;
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.aborted, true);
  await until('the compiler is gone', () => {
    try {
      process.kill(grandchild as number, 0);
      return false;
    } catch {
      return true;
    }
  }, 15_000);
  assert.ok(!r.output.includes('not reached'));
});
