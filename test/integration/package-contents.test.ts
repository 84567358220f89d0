/**
 * What `npm pack` ships: a release directory (docs/operations.md, "Releases") and a tarball install
 * run `bin/caxton.js`, which runs the compiled CLI from dist/. dist/ is in .gitignore, so without the
 * package's `files` list npm left it out and an installed package could not start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('package - npm pack ships the compiled CLI, the dashboard, the SDKs and templates, and no sources or tests', () => {
  assert.ok(existsSync(`${root}/dist/cli/main.js`), 'dist/ is missing: run `npm run build` first');
  // --ignore-scripts: prepare would rebuild first; what is packed is the question here.
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [pack] = JSON.parse(out) as [{ files: { path: string }[] }];
  const files = new Set(pack.files.map((f) => f.path));
  for (const f of [
    'package.json',
    'README.md',
    'bin/caxton.js',
    'dist/cli/main.js',
    'dist/node.js',
    'dist/testing/index.js',
    'dist/testing/index.d.ts',
    'dashboard/index.html',
    'contrib/caxton.service',
    'scripts/prepare.mjs',
    'sdk/assemblyscript/package.json',
    'sdk/c/caxton.h',
    'sdk/rust/Cargo.toml',
    'templates/agent/assemblyscript/echo/README.md',
    'docs/operations.md',
  ]) {
    assert.ok(files.has(f), `${f} is packed`);
  }
  const stray = [...files].filter((f) => /^(src|test|bench|build|examples|fixtures|node_modules)\//.test(f) || f.includes('/target/'));
  assert.deepEqual(stray, [], 'sources, tests, benchmarks and build output stay out of the package');
});
