import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProjectWatcher, projectIgnore } from '../../../src/agent-project/project-watch.js';
import { validateProject } from '../../../src/agent-project/project-file.js';
import { tempDir } from '../../helpers/tmp.js';
import { until } from '../../helpers/until.js';

type T = { after(fn: () => void): void };

function project(t: T, wasm = 'build/agent.wasm', watch = ['src', 'package.json']) {
  const dir = tempDir('caxton-watch-');
  t.after(() => dir.cleanup());
  mkdirSync(join(dir.path, 'src'));
  writeFileSync(join(dir.path, 'src', 'index.ts'), 'v1');
  writeFileSync(join(dir.path, 'package.json'), '{}');
  return validateProject({ name: 'agent', lang: 'assemblyscript', build: ['true'], wasm, watch }, dir.path);
}

/** A watcher whose batches are collected; closed after the test. */
function watching(t: T, paths: readonly string[], opts: { ignore?: (p: string) => boolean; debounceMs?: number } = {}) {
  const batches: string[][] = [];
  const w = new ProjectWatcher({ paths, onChange: (c) => batches.push([...c]), ...opts });
  t.after(() => w.close());
  const next = async (n: number) => until(`batch ${n}`, () => batches.length >= n && batches[n - 1], 15_000, 20);
  return { w, batches, next };
}

test('project watcher - a burst of writes to several files comes as one batch, each path once', async (t) => {
  const p = project(t);
  // A long quiet time: the burst below is written in one synchronous loop, well inside it.
  const { batches, next } = watching(t, p.watch, { debounceMs: 500 });
  const a = join(p.dir, 'src', 'index.ts');
  const b = join(p.dir, 'src', 'other.ts');
  for (let i = 0; i < 20; i++) {
    writeFileSync(a, `v${i}`);
    writeFileSync(b, `v${i}`);
  }
  const first = await next(1);
  assert.deepEqual([...first].sort(), [a, b].sort());
  // Nothing more came from the burst: the next batch holds only the next change.
  const c = join(p.dir, 'package.json');
  writeFileSync(c, '{"x":1}');
  assert.deepEqual(await next(2), [c]);
  assert.equal(batches.length, 2);
});

test('project watcher - a directory created after the start is watched too, and a removed one forgotten', async (t) => {
  const p = project(t);
  const { w, next } = watching(t, p.watch, { debounceMs: 50 });
  assert.equal(w.watchedDirs, 2, 'src/, and the project dir for package.json');
  const sub = join(p.dir, 'src', 'deep', 'er');
  mkdirSync(sub, { recursive: true });
  assert.deepEqual(await next(1), [join(p.dir, 'src', 'deep')]);
  assert.equal(w.watchedDirs, 4);
  const f = join(sub, 'x.ts');
  writeFileSync(f, 'x');
  assert.deepEqual(await next(2), [f]);
  rmSync(join(p.dir, 'src', 'deep'), { recursive: true });
  assert.ok((await next(3)).includes(join(p.dir, 'src', 'deep')));
  assert.equal(w.watchedDirs, 2);
});

test('project watcher - a watched file counts when replaced by a rename (editors), its neighbours and ignored paths do not', async (t) => {
  const p = project(t);
  const { next } = watching(t, p.watch, { ignore: projectIgnore(p), debounceMs: 50 });
  // Not watched: another file beside package.json, the build output, an editor's swap file.
  writeFileSync(join(p.dir, 'README.md'), 'x');
  mkdirSync(join(p.dir, 'src', 'node_modules'));
  writeFileSync(join(p.dir, 'src', 'node_modules', 'dep.ts'), 'x');
  writeFileSync(join(p.dir, 'src', '.index.ts.swp'), 'x');
  writeFileSync(join(p.dir, 'src', 'index.ts~'), 'x');
  // Saved the way many editors do: a new file renamed over the old one (a new inode).
  const tmp = join(p.dir, 'package.json.tmp-save');
  writeFileSync(tmp, '{"v":2}');
  renameSync(tmp, join(p.dir, 'package.json'));
  assert.deepEqual(await next(1), [join(p.dir, 'package.json')]);
});

test('project watcher - a watched file that does not exist yet counts once it is created', async (t) => {
  const p = project(t, 'build/agent.wasm', ['src', 'Makefile']);
  const { next } = watching(t, p.watch, { debounceMs: 50 });
  const mk = join(p.dir, 'Makefile');
  writeFileSync(mk, 'all:\n');
  assert.deepEqual(await next(1), [mk]);
});

test('project watcher - close stops every watcher and is idempotent', (t) => {
  const p = project(t);
  const { w } = watching(t, p.watch);
  assert.ok(w.watchedDirs > 0);
  w.close();
  w.close();
  assert.equal(w.watchedDirs, 0);
});

test('project watcher - projectIgnore: the build output dir, extra dirs, node_modules, .git and editor files', (t) => {
  const p = project(t, 'target/wasm32-unknown-unknown/release/agent.wasm', ['.']);
  const ignore = projectIgnore(p, [join(p.dir, '.caxton-dev')]);
  const at = (...parts: string[]) => join(p.dir, ...parts);
  for (const ignored of [at('target'), at('target', 'release', 'x.d'), at('.caxton-dev', 'caxton.db'), at('node_modules', 'a.js'), at('src', 'node_modules'), at('.git', 'HEAD'), at('src', 'a.rs~'), at('src', '.a.rs.swp'), at('src', '.#a.rs'), at('src', '4913')]) {
    assert.equal(ignore(ignored), true, ignored);
  }
  for (const kept of [at('src', 'lib.rs'), at('Cargo.toml'), at('targets.txt'), at('src', 'build', 'x.rs')]) assert.equal(ignore(kept), false, kept);
  // A module written into the project root: only that file is ignored, not the root.
  const q = project(t, 'agent.wasm', ['.']);
  const flat = projectIgnore(q);
  assert.equal(flat(join(q.dir, 'agent.wasm')), true);
  assert.equal(flat(q.dir), false);
  assert.equal(flat(join(q.dir, 'src', 'index.ts')), false);
});
