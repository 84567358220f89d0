#!/usr/bin/env node
// Builds the example agents and the hostile test fixtures:
//
//   build/agents/{echo,counter,calculator,cn-manager,cn-bidder,tool-user}.wasm   AssemblyScript (sdk/assemblyscript)
//   build/agents/c-echo.wasm                                           freestanding C (clang + wasm-ld)
//   build/fixtures/<name>.wasm                                         fixtures/**/*.wat (wabt)
//   build/fixtures/<name>.wasm                                         fixtures/**/*.ts (AssemblyScript, as the agents)
//   build/fixtures/{malformed,not-wasm,truncated}.wasm                 generated (see below)
//
// Outputs newer than all of their inputs are skipped. Usage:
//   node scripts/build-agents.mjs [--force] [--only name,name]
// Environment:
//   CAXTON_CLANG=path     the clang to use (default: the first of clang, clang-19, clang-16, clang-14)
//   CI=true, CAXTON_REQUIRE_TOOLS=1
//                         a missing clang or wasm-ld fails the build; otherwise the C agent is skipped
//                         with one line naming the Debian packages (scripts/outside-tools.mjs)
//   CAXTON_BUILD_JOBS=n   parallel AssemblyScript compilations (default: available CPUs)
//
// Plain Node ESM with no dependencies beyond assemblyscript and wabt (both devDependencies).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { findTool, missingToolLine, requiredToolError, toolsRequired } from './outside-tools.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPT = fileURLToPath(import.meta.url);
const OUT_AGENTS = join(ROOT, 'build', 'agents');
const OUT_FIXTURES = join(ROOT, 'build', 'fixtures');
const SDK_DIR = join(ROOT, 'sdk', 'assemblyscript', 'assembly');
const require = createRequire(import.meta.url);

const args = process.argv.slice(2);
const FORCE = args.includes('--force');
const onlyIdx = args.indexOf('--only');
const ONLY = onlyIdx >= 0 ? new Set((args[onlyIdx + 1] ?? '').split(',').filter(Boolean)) : null;

/**
 * AssemblyScript flags. -O3 with shrinkLevel 1: nearly -O3 speed at -Os size, and the fastest of the
 * optimising presets to compile. The incremental runtime frees memory (the stub runtime never does).
 * Assertions stay on, so a broken invariant traps with a message that the SDK's abort logs through
 * caxton.log before `unreachable`. `--use abort=...` replaces the env.abort import; nothing in the
 * SDK uses trace() or Math.random/seed, so the only imports are caxton.*. Default features only:
 * sign-extension, mutable-globals, nontrapping-f2i and bulk-memory (no SIMD, no threads).
 */
export const AS_FLAGS = [
  '-O3', '--shrinkLevel', '1',
  '--runtime', 'incremental',
  '--use', 'abort=sdk/assemblyscript/assembly/agent/caxtonAbort',
  '--noColors',
];

const AS_AGENTS = [
  { name: 'echo', entry: 'examples/echo/echo.ts' },
  { name: 'counter', entry: 'examples/counter/counter.ts' },
  { name: 'calculator', entry: 'examples/calculator/calculator.ts' },
  { name: 'cn-manager', entry: 'examples/contract-net/manager.ts' },
  { name: 'cn-bidder', entry: 'examples/contract-net/bidder.ts' },
  { name: 'tool-user', entry: 'examples/tool-user/tool-user.ts' },
];

const C_AGENT = {
  name: 'c-echo',
  src: 'examples/c-echo/echo.c',
  exports: ['caxton_abi_version', 'caxton_alloc', 'handle_message', 'agent_init'],
};

export const C_FLAGS = ['--target=wasm32', '-nostdlib', '-O2', '-Wall', '-Wextra', '-Werror', '-Wl,--no-entry', '-Wl,--strip-debug'];

/** Seed of the PRNG (mulberry32) that produces the malformed fixtures' garbage bytes. */
const GARBAGE_SEED = 0xc0ffee;

const ABI_IMPORTS = new Set([
  'send', 'log', 'time_now_us', 'time_monotonic_us', 'random_fill', 'timer_set', 'timer_cancel',
  'kv_get', 'kv_set', 'kv_delete', 'capability_register', 'topic_subscribe', 'topic_unsubscribe',
]);
const ABI_EXPORTS = new Set(['memory', 'caxton_abi_version', 'caxton_alloc', 'handle_message', 'agent_init', 'agent_shutdown']);
const REQUIRED_EXPORTS = ['memory', 'caxton_abi_version', 'caxton_alloc', 'handle_message'];

// ---- helpers ----------------------------------------------------------------------------------

class BuildError extends Error {}

const rel = (p) => relative(ROOT, p) || '.';
const ms = (t0) => `${(performance.now() - t0).toFixed(0)} ms`;

function mtime(p) {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return -1;
  }
}

function upToDate(out, inputs) {
  if (FORCE) return false;
  const t = mtime(out);
  if (t < 0) return false;
  return inputs.every((i) => mtime(i) <= t);
}

function listFiles(dir, ext) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return listFiles(p, ext);
    return p.endsWith(ext) ? [p] : [];
  });
}

function packageJson(name) {
  try {
    return require.resolve(`${name}/package.json`);
  } catch {
    throw new BuildError(`${name} is not installed: run \`npm install\` in ${ROOT} (it is a devDependency)`);
  }
}

/** Writes via a temporary file and a rename, so an interrupted build never leaves a fresh broken output. */
function writeAtomic(out, bytes) {
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, out);
}

function run(cmd, argv, opts = {}) {
  return new Promise((resolvePromise) => {
    const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (error) => resolvePromise({ code: -1, out: `${out}${error.message}` }));
    child.on('close', (code) => resolvePromise({ code, out }));
  });
}

/** Checks an agent module: valid, the ABI's required exports, nothing but caxton.* imports. */
function checkAgent(name, bytes) {
  if (!WebAssembly.validate(bytes)) throw new BuildError(`${name}: output does not validate`);
  const mod = new WebAssembly.Module(bytes);
  const problems = [];
  for (const imp of WebAssembly.Module.imports(mod)) {
    if (imp.module !== 'caxton' || !ABI_IMPORTS.has(imp.name)) problems.push(`imports ${imp.module}.${imp.name}`);
  }
  const exports = WebAssembly.Module.exports(mod).map((e) => e.name);
  for (const e of REQUIRED_EXPORTS) if (!exports.includes(e)) problems.push(`does not export ${e}`);
  for (const e of exports) if (!ABI_EXPORTS.has(e)) problems.push(`exports ${e}, which the ABI does not list`);
  if (problems.length) throw new BuildError(`${name}: ${problems.join('; ')}`);
}

// ---- AssemblyScript -----------------------------------------------------------------------------

async function buildAssemblyScript(results) {
  const ascPkg = packageJson('assemblyscript');
  const sdkFiles = listFiles(SDK_DIR, '.ts');
  // Test agents written with the SDK (fixtures/**/*.ts) are built like the examples, into build/fixtures.
  const fixtures = listFiles(join(ROOT, 'fixtures'), '.ts').map((f) => ({
    name: basename(f, '.ts'),
    entry: relative(ROOT, f),
    out: join(OUT_FIXTURES, `${basename(f, '.ts')}.wasm`),
    label: `fixtures/${basename(f, '.ts')}`,
    inputs: [f],
  }));
  const agents = AS_AGENTS.map((a) => ({
    ...a,
    out: join(OUT_AGENTS, `${a.name}.wasm`),
    label: a.name,
    inputs: listFiles(dirname(join(ROOT, a.entry)), '.ts'),
  }));
  const todo = [];
  for (const a of [...agents, ...fixtures]) {
    if (ONLY && !ONLY.has(a.name)) continue;
    const out = a.out;
    const inputs = [...a.inputs, ...sdkFiles, SCRIPT, ascPkg];
    if (upToDate(out, inputs)) {
      results.push({ name: a.label, out, status: 'up to date' });
      continue;
    }
    todo.push(a);
  }
  if (todo.length === 0) return;
  // asc is much faster when one process compiles several modules (its JIT is warm after the first),
  // so the compilations run in a few worker threads that each call the asc API for a queue of jobs.
  const jobs = Math.min(todo.length, Math.max(1, Number(process.env.CAXTON_BUILD_JOBS) || availableParallelism()));
  const failures = [];
  let next = 0;
  async function runWorker() {
    const worker = new Worker(new URL(import.meta.url), { workerData: { role: 'asc', root: ROOT } });
    try {
      while (next < todo.length) {
        const a = todo[next++];
        const t0 = performance.now();
        const tmp = `${a.out}.tmp-${process.pid}.wasm`;
        const reply = await new Promise((resolveReply) => {
          const fail = (what) => resolveReply({ ok: false, output: `the compiler worker ${what}` });
          const onError = (e) => fail(`failed: ${e.stack ?? e}`);
          const onExit = (code) => fail(`exited with code ${code}`);
          worker.once('error', onError);
          worker.once('exit', onExit);
          worker.once('message', (m) => {
            worker.off('error', onError);
            worker.off('exit', onExit);
            resolveReply(m);
          });
          worker.postMessage({ argv: [a.entry, '-o', tmp, '--baseDir', ROOT, ...AS_FLAGS] });
        });
        if (!reply.ok || !existsSync(tmp)) {
          if (existsSync(tmp)) unlinkSync(tmp);
          failures.push(`${a.name}: asc ${a.entry} failed:\n${reply.output.trim()}`);
          continue;
        }
        try {
          checkAgent(a.name, readFileSync(tmp));
        } catch (e) {
          unlinkSync(tmp);
          failures.push(e.message);
          continue;
        }
        renameSync(tmp, a.out);
        results.push({ name: a.label, out: a.out, status: `built in ${ms(t0)}` });
      }
    } finally {
      await worker.terminate();
    }
  }
  await Promise.all(Array.from({ length: jobs }, runWorker));
  if (failures.length) throw new BuildError(failures.join('\n\n'));
}

// ---- C ------------------------------------------------------------------------------------------

function findClang() {
  const own = process.env.CAXTON_CLANG;
  if (own) return spawnSync(own, ['--version'], { encoding: 'utf8' }).status === 0 ? own : null;
  return findTool('clang') ?? null;
}

async function buildC(results) {
  if (ONLY && !ONLY.has(C_AGENT.name)) return;
  const src = join(ROOT, C_AGENT.src);
  const out = join(OUT_AGENTS, `${C_AGENT.name}.wasm`);
  if (upToDate(out, [src, SCRIPT])) {
    results.push({ name: C_AGENT.name, out, status: 'up to date' });
    return;
  }
  const clang = findClang();
  const missing = [!clang && 'clang', !findTool('wasm-ld') && 'wasm-ld'].filter(Boolean);
  if (missing.length > 0) {
    // One line for the toolchain: clang's packages (clang lld wasi-libc) include wasm-ld's.
    if (toolsRequired()) throw new BuildError(`c-echo: ${requiredToolError('clang', missing)}`);
    results.push({ name: C_AGENT.name, out, status: `skipped: ${missingToolLine('clang', missing)}` });
    return;
  }
  const t0 = performance.now();
  const tmp = `${out}.tmp-${process.pid}.wasm`;
  const argv = [...C_FLAGS, ...C_AGENT.exports.map((e) => `-Wl,--export=${e}`), '-o', tmp, C_AGENT.src];
  const { code, out: log } = await run(clang, argv);
  if (code !== 0 || !existsSync(tmp)) {
    if (existsSync(tmp)) unlinkSync(tmp);
    throw new BuildError(`c-echo: ${clang} ${argv.join(' ')} failed (exit ${code}):\n${log.trim()}`);
  }
  try {
    checkAgent(C_AGENT.name, readFileSync(tmp));
  } catch (e) {
    unlinkSync(tmp);
    throw e;
  }
  renameSync(tmp, out);
  results.push({ name: C_AGENT.name, out, status: `built in ${ms(t0)}` });
}

// ---- WAT fixtures and generated binaries ---------------------------------------------------------

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function garbage(n, seed) {
  const rnd = mulberry32(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
}

// Fixtures may use what they attack (threads, ...), so wabt gets more than the ABI allows.
const WAT_FEATURES = {
  threads: true, multi_value: true, bulk_memory: true, reference_types: true, sign_extension: true,
  sat_float_to_int: true, mutable_globals: true, simd: true,
};

async function buildFixtures(results) {
  const wabtPkg = packageJson('wabt');
  const sources = listFiles(join(ROOT, 'fixtures'), '.wat');
  let wabt = null;
  const wanted = (name) => !ONLY || ONLY.has(name);
  for (const src of sources) {
    const name = basename(src, '.wat');
    if (!wanted(name) && !(name === 'minimal-agent' && wanted('truncated'))) continue;
    const out = join(OUT_FIXTURES, `${name}.wasm`);
    if (upToDate(out, [src, SCRIPT, wabtPkg])) {
      results.push({ name: `fixtures/${name}`, out, status: 'up to date' });
      continue;
    }
    const t0 = performance.now();
    wabt ??= await (await import('wabt')).default();
    let mod;
    try {
      mod = wabt.parseWat(basename(src), readFileSync(src, 'utf8'), WAT_FEATURES);
      mod.resolveNames();
      mod.validate(WAT_FEATURES);
      writeAtomic(out, Buffer.from(mod.toBinary({ log: false, write_debug_names: true }).buffer));
    } catch (e) {
      throw new BuildError(`fixtures/${name}: ${rel(src)}: ${e.message}`);
    } finally {
      mod?.destroy();
    }
    results.push({ name: `fixtures/${name}`, out, status: `built in ${ms(t0)}` });
  }

  const derived = [
    {
      // The wasm magic and version, then 256 seeded garbage bytes: passes the header check, fails in
      // the first section.
      name: 'malformed',
      inputs: [SCRIPT],
      make: () => Buffer.concat([Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]), garbage(256, GARBAGE_SEED)]),
    },
    {
      // 64 seeded garbage bytes, no wasm header at all.
      name: 'not-wasm',
      inputs: [SCRIPT],
      make: () => Buffer.from(garbage(64, GARBAGE_SEED + 1)),
    },
    {
      // build/fixtures/minimal-agent.wasm cut in half (it ends inside a section).
      name: 'truncated',
      inputs: [SCRIPT, join(OUT_FIXTURES, 'minimal-agent.wasm')],
      make: () => {
        const whole = readFileSync(join(OUT_FIXTURES, 'minimal-agent.wasm'));
        return whole.subarray(0, Math.floor(whole.length / 2));
      },
    },
  ];
  for (const d of derived) {
    if (!wanted(d.name)) continue;
    const out = join(OUT_FIXTURES, `${d.name}.wasm`);
    if (upToDate(out, d.inputs)) {
      results.push({ name: `fixtures/${d.name}`, out, status: 'up to date' });
      continue;
    }
    const bytes = d.make();
    if (WebAssembly.validate(bytes)) throw new BuildError(`fixtures/${d.name}: the generated bytes are a valid module`);
    writeAtomic(out, bytes);
    results.push({ name: `fixtures/${d.name}`, out, status: 'generated' });
  }
}

// ---- main -------------------------------------------------------------------------------------

async function main() {
  const t0 = performance.now();
  mkdirSync(OUT_AGENTS, { recursive: true });
  mkdirSync(OUT_FIXTURES, { recursive: true });
  const results = [];
  const settled = await Promise.allSettled([buildAssemblyScript(results), buildC(results), buildFixtures(results)]);
  const order = (r) => (r.out.startsWith(OUT_AGENTS) ? 0 : 1);
  results.sort((a, b) => order(a) - order(b) || a.name.localeCompare(b.name));
  for (const r of results) {
    const size = existsSync(r.out) ? `${statSync(r.out).size} B` : '-';
    console.log(`  ${r.name.padEnd(32)} ${size.padStart(9)}  ${r.status}`);
  }
  const errors = settled.filter((s) => s.status === 'rejected').map((s) => s.reason);
  if (errors.length) {
    for (const e of errors) console.error(`\nbuild-agents: ${e instanceof BuildError ? e.message : e.stack}`);
    console.error(`\nbuild-agents: FAILED after ${ms(t0)}`);
    process.exit(1);
  }
  console.log(`build-agents: done in ${ms(t0)} (${rel(OUT_AGENTS)}, ${rel(OUT_FIXTURES)})`);
}

/** Worker side: compiles the jobs the main thread posts with the asc API, one at a time. */
async function ascWorker() {
  const asc = (await import('assemblyscript/asc')).default;
  parentPort.on('message', async ({ argv }) => {
    let output = '';
    const sink = { write: (chunk) => ((output += String(chunk)), true) };
    try {
      const { error } = await asc.main(argv, { stdout: sink, stderr: sink });
      parentPort.postMessage({ ok: !error, output: error ? `${output}\n${error.message}` : output });
    } catch (e) {
      parentPort.postMessage({ ok: false, output: `${output}\n${e.stack}` });
    }
  });
}

if (!isMainThread && workerData?.role === 'asc') {
  await ascWorker();
} else {
  main().catch((e) => {
    console.error(`build-agents: ${e instanceof BuildError ? e.message : e.stack}`);
    process.exit(1);
  });
}
