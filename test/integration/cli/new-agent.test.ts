/**
 * Every agent template, end to end, as an author runs it: `caxton new agent` into a temp dir, `npm
 * install` (offline from npm's cache: the SDK and caxton are `file:` links), the build command of its
 * caxton.agent.json, then `npm test` (its test/agent.test.mjs with caxton/testing). A subscriber
 * also runs in a real pool, where messages published to its topic reach it.
 *
 * Cost (2 shared cores): each AssemblyScript build is a cold asc, 5 to 18 s. So each template builds
 * once: the echo template of each language through `npm test` as an author runs it (its pretest
 * builds), the others through caxton.agent.json's build command (the same command: it is in the
 * language's _base), then their tests with `npm test --ignore-scripts` (no second build). C needs clang and wasm-ld, Rust a rustc with the wasm32
 * standard library and its cargo (found as scripts/build-agents.mjs finds them, whatever comes first
 * on PATH): missing, that language is skipped with one line (test/helpers/outside-tools.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { CAXTON_ROOT, TEMPLATES_DIR, newAgentProject, type AgentManifest } from '../../../src/scaffold/index.js';
import { Client } from '../../helpers/agents.js';
import { outsideTool, rustTool } from '../../helpers/outside-tools.js';
import { COMMAND_TIMEOUT_MS, npmInstall, okIn, PROJECT_ENV } from '../../helpers/project-commands.js';
import { withPool } from '../../helpers/pool.js';
import { tempDir } from '../../helpers/tmp.js';

/**
 * Why a language's projects cannot be built here (false when they can), and the PATH their commands
 * run with. Rust: the first rustc on PATH may be rustup's without the wasm32 target while Debian's
 * (with libstd-rust-dev-wasm32) is further down, so the toolchain is found as the build of the
 * example agents finds it (findRustWasm), and its directory goes first on PATH: the project's
 * `cargo build` then runs that rustc's cargo, which runs that rustc.
 */
function toolchainFor(lang: string): { skip: string | false; env: NodeJS.ProcessEnv } {
  if (lang === 'c') return { skip: outsideTool('clang').skip || outsideTool('wasm-ld').skip, env: PROJECT_ENV };
  if (lang === 'rust') {
    const rust = rustTool('cargo');
    if (rust.skip !== false) return { skip: rust.skip, env: PROJECT_ENV };
    const dirs = [...new Set([dirname(rust.path as string), dirname(rust.cargo as string)])];
    return { skip: false, env: { ...PROJECT_ENV, PATH: [...dirs, PROJECT_ENV['PATH'] ?? ''].join(delimiter) } };
  }
  return { skip: false, env: PROJECT_ENV };
}

/**
 * A subscriber's tests publish to it with the harness (TestAgent.publish); here its topic path also
 * runs through a real pool's router: two publications, then a request for what it kept.
 */
async function publishedTo(wasm: Uint8Array, name: string): Promise<void> {
  await withPool({}, async (pool) => {
    const m = await pool.admit(wasm);
    await pool.spawn({ name, module: m.hash, config: { topic: 'weather' } });
    for (const content of [{ sky: 'rain' }, { sky: 'sun', temp: 21.5 }]) {
      assert.equal(pool.publish('weather', JSON.stringify({ performative: 'inform', sender: 'press', topic: 'weather', content })), 1);
    }
    // Messages to one agent are handled in order: the request comes after both publications.
    const r = await new Client(pool).request(name, 'request', {});
    assert.deepEqual(r.content, { topic: 'weather', count: 2, last: { sky: 'sun', temp: 21.5 } });
  });
}

const languages = readdirSync(TEMPLATES_DIR).filter((l) => !l.startsWith('.')).sort();

test('new agent - caxton is built, so the projects can import caxton/testing', () => {
  assert.ok(existsSync(join(CAXTON_ROOT, 'dist', 'testing', 'index.js')), `run \`npm run build\` in ${CAXTON_ROOT} first`);
});

for (const lang of languages) {
  const templates = readdirSync(join(TEMPLATES_DIR, lang)).filter((t) => t !== '_base' && !t.startsWith('.')).sort();
  // echo first: it is the one that runs the whole npm test.
  templates.sort((a, b) => Number(b === 'echo') - Number(a === 'echo'));
  const { skip, env } = toolchainFor(lang);
  for (const template of templates) {
    const full = template === 'echo';
    test(`new agent - ${lang} ${template}: installs, builds ${full ? 'and passes npm test' : 'with its caxton.agent.json command and passes its tests'}`, { skip, timeout: 3 * COMMAND_TIMEOUT_MS }, async (t) => {
      const tmp = tempDir('caxton-new-agent-');
      t.after(tmp.cleanup);
      const name = `${lang.slice(0, 2)}-${template}`;
      const r = newAgentProject({ name, lang, template, cwd: tmp.path });
      const manifest = JSON.parse(readFileSync(join(r.dir, 'caxton.agent.json'), 'utf8')) as AgentManifest;
      const t0 = performance.now();
      await npmInstall(r.dir);
      const t1 = performance.now();
      const built = full ? await okIn(['npm', 'test'], r.dir, env) : (await okIn(manifest.build, r.dir, env), '');
      const t2 = performance.now();
      const wasm = join(r.dir, manifest.wasm);
      assert.ok(existsSync(wasm), `${manifest.build.join(' ')} did not write ${manifest.wasm}`);
      const bytes = readFileSync(wasm);
      assert.ok(WebAssembly.validate(bytes), `${manifest.wasm} is not valid WebAssembly`);
      const exports = WebAssembly.Module.exports(new WebAssembly.Module(bytes)).map((e) => e.name);
      for (const e of ['memory', 'caxton_abi_version', 'caxton_alloc', 'handle_message']) assert.ok(exports.includes(e), `exports ${e}`);
      const out = full ? built : await okIn(['npm', 'test', '--ignore-scripts'], r.dir, env);
      assert.match(out, /# pass [1-9]/);
      assert.match(out, /# fail 0/);
      const t3 = performance.now();
      if (template === 'subscriber') await publishedTo(bytes, name);
      const ms = (a: number, b: number): string => `${Math.round(b - a)} ms`;
      t.diagnostic(full ? `install ${ms(t0, t1)}, npm test (build and tests) ${ms(t1, t2)}` : `install ${ms(t0, t1)}, build ${ms(t1, t2)}, tests ${ms(t2, t3)}`);
    });
  }
}
