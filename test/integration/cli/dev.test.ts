/**
 * `caxton dev` as an author runs it: a real process (the CLI from source), a real AssemblyScript
 * project in a temp dir built by the repository's compiler and SDK, a real node (started by dev, or
 * one already running), real file changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../unit/cluster/serf/serf-harness.js';
import { portFree, request, runDev } from '../../helpers/dev-session.js';
import { startServer } from '../../helpers/server.js';
import { tempDir } from '../../helpers/tmp.js';
import { until } from '../../helpers/until.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');

/** A counter agent: replies `<version>:<count>` (the count in its key-value store) and logs it. */
function counterSource(version: string): string {
  return `import { Message, Performative, dispatch, reply, kvGet, kvSet, jsonObject, logInfo } from "../sdk/assembly";
export { caxton_abi_version, caxton_alloc, agent_init } from "../sdk/assembly";

export function handle_message(ptr: i32, len: i32): i32 {
  return dispatch(ptr, len, onMessage);
}

function onMessage(msg: Message): i32 {
  let s = kvGet("count");
  let n: i64 = s === null ? 0 : I64.parseInt(s, 10);
  n += 1;
  kvSet("count", n.toString());
  logInfo("${version} handled message " + n.toString());
  reply(msg, Performative.INFORM, jsonObject().setString("text", "${version}:" + n.toString()));
  return 0;
}
`;
}

/** An AssemblyScript project per contract B, its SDK linked from this repository, built by this repository's asc. */
function asProject(dir: string): string {
  mkdirSync(join(dir, 'assembly'));
  symlinkSync(join(root, 'sdk', 'assemblyscript'), join(dir, 'sdk'));
  const src = join(dir, 'assembly', 'index.ts');
  writeFileSync(src, counterSource('v1'));
  writeFileSync(join(dir, 'caxton.agent.json'), JSON.stringify({
    name: 'counter',
    lang: 'assemblyscript',
    // As scripts/build-agents.mjs compiles the examples, without its optimisation (faster to build).
    build: [process.execPath, asc, 'assembly/index.ts', '-o', 'build/counter.wasm', '--runtime', 'incremental', '--use', 'abort=sdk/assembly/agent/caxtonAbort', '--noColors'],
    wasm: 'build/counter.wasm',
    watch: ['assembly'],
  }, null, 2));
  return src;
}

/** The fast kind of build: a script that puts a prebuilt module (the echo example) in place. */
function copyProject(dir: string, name: string): void {
  writeFileSync(join(dir, 'build.mjs'), `import { cpSync, mkdirSync } from 'node:fs';\nmkdirSync('out', { recursive: true });\ncpSync(${JSON.stringify(join(root, 'build', 'agents', 'echo.wasm'))}, 'out/echo.wasm');\nconsole.log('copied the echo module');\n`);
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'caxton.agent.json'), JSON.stringify({ name, lang: 'c', build: [process.execPath, 'build.mjs'], wasm: 'out/echo.wasm', watch: ['src', 'build.mjs'] }));
}

async function ask(apiUrl: string, key: string, to: string): Promise<string> {
  const reply = await request(apiUrl, key, to, { op: 'count' });
  return String((reply.content as { text?: string } | undefined)?.text);
}

test('caxton dev - starts a node, deploys, upgrades on each change keeping the state, survives a broken build, and stops on Ctrl-C', { timeout: 300_000 }, async (t) => {
  const dir = tempDir('caxton-dev-');
  t.after(() => dir.cleanup());
  const src = asProject(dir.path);
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const dev = runDev([dir.path, '--api-url', apiUrl]);
  t.after(() => void dev.child.kill('SIGKILL'));

  const deployed = await dev.waitFor(/^\[dev\] deployed counter: module sha256:([0-9a-f]{64}) /m);
  const first = deployed[1] as string;
  await dev.waitFor(/^\[dev\] watching .*assembly; Ctrl-C stops$/m);
  assert.match(dev.out(), new RegExp(`^\\[dev\\] no node at ${apiUrl}: starting one here`, 'm'));
  // Secure by default: the node wrote a generated admin key for the local CLI, readable by the owner only.
  const keyFile = join(dir.path, '.caxton-dev', 'admin.key');
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  const key = readFileSync(keyFile, 'utf8').trim();
  const unauthenticated = await fetch(`${apiUrl}/api/v1/agents`);
  assert.equal(unauthenticated.status, 401);

  assert.equal(await ask(apiUrl, key, 'counter'), 'v1:1');
  assert.equal(await ask(apiUrl, key, 'counter'), 'v1:2');
  await dev.waitFor(/^\[agent\] INFO +v1 handled message 2$/m);

  // A change: rebuilt and upgraded at once; the count goes on from the key-value store.
  let mark = dev.out().length;
  writeFileSync(src, counterSource('v2'));
  const upgraded = await dev.waitFor(/^\[dev\] upgraded counter \(immediate, state kept\): module sha256:([0-9a-f]{64}) /m, mark);
  const second = upgraded[1] as string;
  assert.notEqual(second, first);
  assert.match(dev.out().slice(mark), /^\[dev\] .*assembly\/index\.ts changed: building/m);
  assert.equal(await ask(apiUrl, key, 'counter'), 'v2:3');
  await dev.waitFor(/^\[agent\] INFO +v2 handled message 3$/m, mark);

  // A second dev on the project while the first runs: it uses the first one's node, with that node's key.
  const other = runDev([dir.path, '--api-url', apiUrl]);
  t.after(() => void other.child.kill('SIGKILL'));
  await other.waitFor(new RegExp(`^\\[dev\\] counter already runs module sha256:${second} `, 'm'));
  assert.match(other.out(), new RegExp(`^\\[dev\\] using the node dev at ${apiUrl} `, 'm'));
  other.child.kill('SIGINT');
  assert.equal(await other.exited, 0, other.err());
  assert.doesNotMatch(other.out(), /the node this command started/);

  // A broken build: the compiler's error is printed, the running version keeps answering.
  mark = dev.out().length;
  writeFileSync(src, counterSource('v3').replace('n += 1;', 'n += ;'));
  await dev.waitFor(new RegExp(`^\\[dev\\] build failed: .*failed with exit code 1; module sha256:${second.slice(0, 12)} keeps running`, 'm'), mark);
  const failedOutput = dev.out().slice(mark);
  assert.match(failedOutput, /^\[build\] .*ERROR TS1109: Expression expected/m);
  assert.match(failedOutput, /^\[build\] .*assembly\/index\.ts\(\d+,\d+\)/m);
  assert.doesNotMatch(failedOutput, /upgraded/);
  assert.equal(await ask(apiUrl, key, 'counter'), 'v2:4');

  // Fixed back to what runs: built, and nothing to upgrade.
  mark = dev.out().length;
  writeFileSync(src, counterSource('v2'));
  await dev.waitFor(new RegExp(`^\\[dev\\] built in .*: module sha256:${second.slice(0, 12)} is the one running, nothing to upgrade$`, 'm'), mark);

  // Ctrl-C: the watcher and the node stop, the process exits 0 and the port is free again.
  dev.child.kill('SIGINT');
  assert.equal(await dev.exited, 0, dev.err());
  assert.match(dev.out(), /^\[dev\] SIGINT: stopping \(and the node this command started\)\n(.*\n)*\[dev\] stopped\n$/m);
  assert.equal(dev.err(), '');
  assert.equal(await portFree(port), true);

  // Edited while dev was not running, then a new session: the node's data dir (.caxton-dev) kept the
  // agent and its state, and the agent is upgraded to the new build.
  writeFileSync(src, counterSource('v4'));
  const again = runDev([dir.path, '--api-url', apiUrl]);
  t.after(() => void again.child.kill('SIGKILL'));
  const third = (await again.waitFor(/^\[dev\] upgraded counter \(immediate, state kept\): module sha256:([0-9a-f]{64}) /m))[1];
  assert.notEqual(third, second);
  assert.equal(await ask(apiUrl, key, 'counter'), 'v4:5');
  again.child.kill('SIGTERM');
  assert.equal(await again.exited, 0, again.err());
});

test('caxton dev - uses a node that already runs, and leaves it and the agent running on Ctrl-C', { timeout: 180_000 }, async (t) => {
  const server = await startServer();
  t.after(async () => {
    await server.stop();
    server.cleanup();
  });
  const dir = tempDir('caxton-dev-');
  t.after(() => dir.cleanup());
  copyProject(dir.path, 'dev-echo');
  const dev = runDev([dir.path], { CAXTON_API_URL: server.apiUrl, CAXTON_DATA_DIR: server.dataDir });
  t.after(() => void dev.child.kill('SIGKILL'));
  await dev.waitFor(/^\[dev\] deployed dev-echo: module sha256:[0-9a-f]{64} /m);
  assert.match(dev.out(), new RegExp(`^\\[dev\\] using the node test-node at ${server.apiUrl} `, 'm'));
  assert.match(dev.out(), /^\[build\] copied the echo module$/m);
  assert.doesNotMatch(dev.out(), /starting one here/);
  await dev.waitFor(/^\[dev\] watching /m);
  const r = await fetch(`${server.apiUrl}/api/v1/messages?wait_reply=true`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ receiver: 'dev-echo', performative: 'request', content: 'hello' }),
  });
  assert.equal(r.status, 200);
  dev.child.kill('SIGINT');
  assert.equal(await dev.exited, 0, dev.err());
  assert.doesNotMatch(dev.out(), /the node this command started/);
  const a = await fetch(`${server.apiUrl}/api/v1/agents/dev-echo`, { headers: { authorization: `Bearer ${server.adminKey}` } });
  assert.equal(a.status, 200);
  assert.equal(((await a.json()) as { state: string }).state, 'running');
});

test('caxton dev - bin/caxton.js runs it with --disable-wasm-trap-handler, and it exits 0 on Ctrl-C', { timeout: 120_000 }, async (t) => {
  const dir = tempDir('caxton-dev-');
  t.after(() => dir.cleanup());
  copyProject(dir.path, 'bin-echo');
  const port = await freePort();
  // bin/caxton.js runs dist/ (npm run build); as a user runs it, with no node flag.
  const child = spawn(process.execPath, [join(root, 'bin', 'caxton.js'), 'dev', dir.path, '--api-url', `http://127.0.0.1:${port}`], { cwd: dir.path, env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CAXTON_') && k !== 'NODE_OPTIONS')), stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => void child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await until(`the deploy in:\n${out}`, () => /^\[dev\] deployed bin-echo: /m.test(out), 60_000);
  // The node started in the process bin/caxton.js ran again with the flag: no warning about it.
  assert.doesNotMatch(out, /trap handler/);
  child.kill('SIGINT');
  // Under the re-run, the IPC channel to bin/caxton.js must not keep the process alive after the session.
  assert.equal(await exited, 0, out);
  assert.match(out, /^\[dev\] stopped$/m);
  assert.equal(await portFree(port), true);
});

test('caxton dev - a directory without a valid caxton.agent.json exits 1 naming the file and the field', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('caxton-dev-');
  t.after(() => dir.cleanup());
  const missing = runDev([dir.path]);
  assert.equal(await missing.exited, 1);
  assert.match(missing.err(), new RegExp(`^error: ${join(dir.path, 'caxton.agent.json')}: no such file: this directory is not an agent project\nhint: .*caxton new agent NAME`));
  writeFileSync(join(dir.path, 'caxton.agent.json'), JSON.stringify({ name: 'x', lang: 'assemblyscript', build: 'npm run build', wasm: 'build/x.wasm', watch: ['assembly'] }));
  const invalid = runDev([dir.path, '-o', 'json']);
  assert.equal(await invalid.exited, 1);
  const body = JSON.parse(invalid.out()) as { error: { code: string; message: string; details: { field: string } } };
  assert.equal(body.error.code, 'CAXTON_CLI_PROJECT_INVALID');
  assert.equal(body.error.details.field, 'build');
  assert.match(body.error.message, /"build" must be a non-empty array of strings/);
});
