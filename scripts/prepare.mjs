#!/usr/bin/env node
// npm's `prepare` for caxton: `npm run build` (tsc + example agents), as before, when this install is
// caxton's own (`npm install` in a clone, `npm pack`). When caxton is another project's `file:`
// dependency (the projects `caxton new agent` creates link it for `caxton/testing`), npm runs this
// prepare too, in caxton's directory, on every `npm install` of that project: a full build there
// took 36-40 s and needs caxton's devDependencies, which an installed caxton does not have. So then
// it builds only when caxton has never been built.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const installer = process.env.npm_config_local_prefix;
const own = installer === undefined || resolve(installer) === ROOT;

if (!existsSync(join(ROOT, 'src'))) {
  // An unpacked package (`npm pack`, a release directory, docs/operations.md): it ships dist/ and no
  // sources, and `npm install --omit=dev` there has no compiler to run.
  console.log(`caxton: a packaged release (${ROOT}), built already`);
} else if (!own && existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
  console.log(`caxton: already built (${ROOT}); run \`npm run build\` there after changing its sources`);
} else {
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
