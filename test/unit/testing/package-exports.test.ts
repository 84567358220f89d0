/**
 * `caxton/testing` as its users import it: from a project that depends on caxton by `file:` path, and
 * from inside this repository (package self-reference). Both load the compiled dist/testing/, so
 * `npm run build` comes first (as in `npm install` and .ci/run).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from '../../helpers/tmp.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const echoWasm = join(root, 'build', 'agents', 'echo.wasm');

/** dist/testing must exist and be newer than its sources, or these tests would check old code. */
function requireBuiltHarness(): void {
  const dist = join(root, 'dist', 'testing', 'index.js');
  if (!existsSync(dist)) throw new Error('dist/testing/ is missing: run `npm run build` first');
  const built = statSync(dist).mtimeMs;
  for (const f of readdirSync(join(root, 'src', 'testing'))) {
    if (statSync(join(root, 'src', 'testing', f)).mtimeMs > built) throw new Error(`dist/testing/ is older than src/testing/${f}: run \`npx tsc -p tsconfig.build.json\` (or \`npm run build\`) first`);
  }
}

const SCRIPT = `
import { loadAgent } from 'caxton/testing';
const agent = await loadAgent(${JSON.stringify(echoWasm)}, { name: 'echo' });
const r = await agent.send({ performative: 'request', content: { via: 'caxton/testing' } });
await agent.close();
console.log(JSON.stringify({ outcome: r.outcome, content: r.sent[0]?.content, sender: r.sent[0]?.sender }));
`;
const WANT = { outcome: 'ok', content: { via: 'caxton/testing' }, sender: 'echo' };

test('package - a project that depends on caxton by file: path imports caxton/testing, and finds its types', async () => {
  requireBuiltHarness();
  const dir = tempDir();
  try {
    writeFileSync(join(dir.path, 'package.json'), JSON.stringify({ name: 'my-agent', private: true, type: 'module', devDependencies: { caxton: `file:${root}` } }));
    // What `npm install` makes of a file: dependency on a directory: a symlink to it.
    mkdirSync(join(dir.path, 'node_modules'));
    symlinkSync(root, join(dir.path, 'node_modules', 'caxton'), 'dir');
    mkdirSync(join(dir.path, 'test'));
    writeFileSync(join(dir.path, 'test', 'agent.test.mjs'), SCRIPT);
    const { stdout } = await run(process.execPath, ['test/agent.test.mjs'], { cwd: dir.path, timeout: 60_000 });
    assert.deepEqual(JSON.parse(stdout.trim()), WANT);
    // TypeScript users: the "types" condition names the declarations, which declare the API.
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; default: string }> };
    const types = readFileSync(join(root, pkg.exports['./testing']!.types), 'utf8');
    assert.match(types, /export \{ loadAgent, TestAgent\b[^}]*\} from '\.\/test-agent\.js'/);
    assert.match(readFileSync(join(root, 'dist', 'testing', 'test-agent.d.ts'), 'utf8'), /export declare function loadAgent\(wasm: string \| URL \| Uint8Array, options\?: LoadOptions\): Promise<TestAgent>;/);
  } finally {
    dir.cleanup();
  }
});

test('package - inside this repository caxton/testing resolves to the package itself; bin and package.json stay reachable', async () => {
  requireBuiltHarness();
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', SCRIPT], { cwd: join(root, 'test'), timeout: 60_000 });
  assert.deepEqual(JSON.parse(stdout.trim()), WANT);
  const version = await run(process.execPath, ['--input-type=module', '-e', "import p from 'caxton/package.json' with { type: 'json' }; console.log(p.version)"], { cwd: root, timeout: 60_000 });
  const cli = await run(process.execPath, [join(root, 'bin', 'caxton.js'), '--version'], { cwd: root, timeout: 60_000 });
  assert.equal(cli.stdout.trim(), version.stdout.trim());
});
