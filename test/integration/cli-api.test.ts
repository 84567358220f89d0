/**
 * The quick start through the `caxton` CLI against a real server process: deploy, list, inspect,
 * message (with the reply), suspend/resume, queues, resources, memory, the conversation's trace,
 * JSON output of every read command, removal, typos and refused keys. The CLI finds the API from
 * CAXTON_API_URL and its key from the data dir's admin.key, as on an operator's machine.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, startServer, type CliResult, type RunningServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

let srv: RunningServer;
const files = tempDir('caxton-cli-api-');

before(async () => {
  srv = await startServer();
});

after(async () => {
  const code = await srv.stop();
  srv.cleanup();
  files.cleanup();
  assert.equal(code, 0, 'the server stops cleanly');
});

/** `caxton <args>` with the API URL in the environment and the key from <data-dir>/admin.key. */
function cx(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { dataDir: srv.dataDir, env: { CAXTON_API_URL: srv.apiUrl, CAXTON_API_KEY: '', ...env } });
}

async function ok(args: string[], env?: Record<string, string>): Promise<string> {
  const r = await cx(args, env);
  assert.equal(r.code, 0, `caxton ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function json(args: string[], env?: Record<string, string>): Promise<any> {
  const out = await ok([...args, '-o', 'json'], env);
  return JSON.parse(out) as unknown;
}

test('cli-api - deploy echo and the calculator (caxton deploy and caxton agent deploy)', async () => {
  const echo = await ok(['deploy', 'build/agents/echo.wasm', '--name', 'echo']);
  assert.match(echo, /^✓ agent echo deployed: running$/m);
  assert.match(echo, /^module:\s+sha256:[0-9a-f]{16}$/m);
  const calc = await json(['agent', 'deploy', 'build/agents/calculator.wasm', '--name', 'calc', '--priority', 'low', '--config', '{"precision":2}']);
  assert.equal(calc.name, 'calc');
  assert.equal(calc.state, 'running');
  assert.equal(calc.priority, 'low');
  const again = await cx(['deploy', 'build/agents/echo.wasm', '--name', 'echo']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^error: .*echo/m);
  assert.match(again.stderr, /^hint: .*unique/m);
});

test('cli-api - agent list: the runbook table with a footer; agents list is the same; JSON parses', async () => {
  const out = await ok(['agent', 'list']);
  const lines = out.trimEnd().split('\n');
  assert.match(lines[0]!, /^AGENT-ID\s+NAME\s+STATUS\s+PRIORITY\s+UPTIME\s+MESSAGES\s+RESTARTS$/);
  assert.match(out, /^[0-9a-f]{8}\s+calc\s+running\s+low\s+/m);
  assert.match(out, /^[0-9a-f]{8}\s+echo\s+running\s+normal\s+/m);
  assert.equal(lines[lines.length - 1], '2 agents (2 running)');
  assert.match(await ok(['agents', 'list']), /^2 agents \(2 running\)$/m, 'agents is an alias of agent');
  const list = await json(['agent', 'list']);
  assert.equal(list.total, 2);
  assert.deepEqual(list.agents.map((a: { name: string }) => a.name).sort(), ['calc', 'echo']);
});

test('cli-api - agent inspect: fields and statistics; unknown agents get the API\'s error and hint', async () => {
  const out = await ok(['agent', 'inspect', 'calc']);
  assert.match(out, /^state:\s+running$/m);
  assert.match(out, /^priority:\s+low$/m);
  assert.match(out, /^config:\s+\{"precision":2\}$/m);
  assert.match(out, /^circuit:\s+closed$/m);
  const a = await json(['agent', 'inspect', 'calc']);
  assert.equal(a.name, 'calc');
  assert.equal(typeof a.stats.messages_in, 'number');
  const missing = await cx(['agent', 'inspect', 'nobody']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: .*nobody/m);
  assert.match(missing.stderr, /^hint: .*caxton agent list/m);
});

let conversation = '';

test('cli-api - message send --wait-reply to the calculator prints its answer', async () => {
  const out = await ok(['message', 'send', '--to', 'calc', '--performative', 'query-ref', '--content', '{"op":"add","args":[2,3]}', '--wait-reply', '--timeout', '10s', '--conversation-id', 'cli-conv-1']);
  assert.match(out, /^✓ message \S+ sent to calc/m);
  assert.match(out, /^conversation: cli-conv-1$/m);
  assert.match(out, /^from:\s+calc$/m);
  assert.match(out, /^performative:\s+inform$/m);
  assert.match(out, /^content:\s+\{"result":5\}$/m);
  conversation = 'cli-conv-1';
  // By capability, as a fipa-request: agree first, then the inform.
  const r = await json(['message', 'send', '--capability', 'arithmetic', '--performative', 'request', '--content', '{"op":"mul","args":[4,5]}', '--wait-reply', '--protocol', 'fipa-request']);
  assert.equal(r.reply.performative, 'inform');
  assert.deepEqual(r.reply.content, { result: 20 });
  // Without waiting: accepted, with ids.
  const sent = await json(['message', 'send', '--to', 'echo', '--performative', 'inform', '--content', 'hello']);
  assert.equal(typeof sent.message_id, 'string');
  assert.equal(typeof sent.conversation_id, 'string');
});

test('cli-api - trace --conversation-id shows the hops of that conversation', async () => {
  const out = await ok(['trace', '--conversation-id', conversation]);
  assert.match(out, /^conversation:\s+cli-conv-1$/m);
  assert.match(out, /^TIME\s+KIND\s+FROM\s+TO\s+PERFORMATIVE\s+MESSAGE-ID\s+DETAIL$/m);
  assert.match(out, /^\+\S+\s+sent\s+\S+\s+calc\s+query-ref\s/m);
  assert.match(out, /^\+\S+\s+reply\s+calc\s+\S+\s+inform\s/m);
  const t = await json(['trace', '--conversation-id', conversation]);
  const kinds = t.trace.map((e: { kind: string }) => e.kind);
  assert.ok(kinds.includes('sent') && kinds.includes('reply'), kinds.join(','));
});

test('cli-api - trace --error-cascade: the recent errors, grouped, with their root cause', async () => {
  await ok(['deploy', 'build/fixtures/trap-handler.wasm', '--name', 'crash']);
  await ok(['message', 'send', '--to', 'crash', '--performative', 'request', '--content', '1']);
  let out = '';
  for (let i = 0; i < 50 && !/root cause: crash: fault/.test(out); i++) {
    await new Promise((r) => setTimeout(r, 100));
    out = await ok(['trace', '--error-cascade', '--last', '5m']);
  }
  assert.match(out, /^\d+ errors? in the last 5m, in \d+ cascades?$/m);
  assert.match(out, /^CASCADE 1: /m);
  assert.match(out, /^root cause: crash: fault trap in message: unreachable/m);
  assert.match(out, /^TIME\s+KIND\s+AGENT\s+PEER\s+DETAIL$/m);
  const j = await json(['trace', '--error-cascade']);
  assert.equal(j.cascades[0].root.agent, 'crash');
  // One of the two views, not both, not neither.
  for (const bad of [['trace'], ['trace', '--error-cascade', '--conversation-id', 'x'], ['trace', '--conversation-id', 'x', '--last', '5m']]) {
    const r = await cx(bad);
    assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^error: .*(--conversation-id|--last)/m);
    assert.doesNotMatch(r.stderr, /required option/);
  }
  await ok(['agent', 'remove', 'crash']);
});

test('cli-api - suspend and resume, one agent and by priority', async () => {
  assert.match(await ok(['agent', 'suspend', 'calc']), /^✓ agent calc suspended \(state suspended\)$/m);
  const suspended = await json(['agent', 'list', '--state', 'suspended']);
  assert.deepEqual(suspended.agents.map((a: { name: string }) => a.name), ['calc']);
  const again = await cx(['agent', 'suspend', 'calc']);
  assert.equal(again.code, 1, 'suspending a suspended agent is refused');
  assert.match(again.stderr, /^hint: /m);
  assert.match(await ok(['agent', 'resume', 'calc']), /^✓ agent calc resumed \(state running\)$/m);
  const low = await ok(['agents', 'suspend', '--priority', 'low']);
  assert.match(low, /^calc\s+suspended$/m);
  assert.match(low, /^1 agent of priority low suspended$/m);
  assert.equal((await json(['agent', 'inspect', 'echo'])).state, 'running', 'normal priority is left alone');
  await ok(['agents', 'resume', 'calc']);
  assert.equal((await json(['agent', 'inspect', 'calc'])).state, 'running');
});

test('cli-api - queue stats, resources, memory stats, server status, agent stats: runbook tables', async () => {
  const q = await ok(['queue', 'stats']);
  assert.match(q, /^queued:\s+\d+$/m);
  assert.match(q, /^queued bytes:\s+\d+(\.\d)?[KMG]?B$/m);
  assert.match(q, /^AGENT\s+QUEUED\s+BYTES\s+STATE$/m);
  const res = await ok(['resources']);
  assert.match(res, /^NODE\s+CPU\s+MEMORY\s+AGENTS\ntest-node\s+\d+%\s+[\d.]+[KMG]?B\s+2$/m);
  const mem = await ok(['memory', 'stats']);
  assert.match(mem, /^NODE\s+USED\s+LIMIT\s+AGENTS\ntest-node\s+[\d.]+[KMGT]?B\s+[\d.]+[KMGT]?B\s+2$/m);
  const status = await ok(['server', 'status']);
  assert.match(status, /^node:\s+test-node$/m);
  assert.match(status, /^agents:\s+2 \(2 running\)$/m);
  const stats = await ok(['agent', 'stats', 'calc']);
  assert.match(stats, /^messages in:\s+[1-9]/m);
  assert.match(stats, /^latency:\s+mean /m);
  const slow = await json(['agents', 'slow', '--threshold', '0ms']);
  assert.ok(slow.agents.some((s: { name: string }) => s.name === 'calc'));
  assert.match(await ok(['agents', 'slow', '--threshold', '1h']), /^0 of 2 agents at or above 1h P99$/m);
});

test('cli-api - --output json parses for every read command, before or after the command', async () => {
  const reads = [
    ['agent', 'list'], ['agent', 'inspect', 'echo'], ['agent', 'stats', 'echo'], ['agent', 'logs', 'echo'], ['agents', 'slow'],
    ['queue', 'stats'], ['resources'], ['memory', 'stats'], ['server', 'status'], ['trace', '--conversation-id', conversation],
    ['analyze', 'messages', '--pattern', 'error|timeout', '--last', '1h'], ['key', 'list'],
  ];
  for (const [i, args] of reads.entries()) {
    // Half with the option after the command, half before it (both are accepted).
    const form = i % 2 === 0 ? [...args, '-o', 'json'] : ['--output', 'json', ...args];
    const r = await cx(form);
    assert.equal(r.code, 0, `${form.join(' ')}: ${r.stderr}`);
    assert.doesNotThrow(() => JSON.parse(r.stdout), `${form.join(' ')} prints JSON`);
  }
});

test('cli-api - operations: drain, gc, circuit breakers, profile, upgrade, config diff, debug dump', async () => {
  assert.match(await ok(['queue', 'drain', '--timeout', '5s']), /^✓ queues drained in /m);
  assert.match(await ok(['memory', 'gc']), /^✓ freed /m);
  assert.match(await ok(['circuit-breaker', 'activate', '--agent', 'calc']), /^✓ 1 circuit breaker opened \(calc\)$/m);
  assert.match(await ok(['circuit-breaker', 'reset', '--agent', 'calc']), /^✓ 1 circuit breaker reset$/m);
  // 6 s is 12 ticks of the progress loop: more than the 10 listeners Node warns about.
  const profile = await cx(['profile', '--agent', 'calc', '--duration', '6s']);
  assert.equal(profile.code, 0, profile.stderr);
  assert.match(profile.stdout, /^METRIC\s+VALUE$/m);
  assert.match(profile.stdout, /^messages in\s+\d+ \(/m);
  assert.doesNotMatch(profile.stderr, /Warning/, 'no MaxListenersExceededWarning (one abort listener per tick)');
  const up = await ok(['agent', 'upgrade', 'echo', 'build/agents/echo.wasm', '--strategy', 'immediate']);
  assert.match(up, /^✓ agent echo upgraded \(immediate\)/m);
  // A canary followed to its end: deployed from echo, upgraded to the counter module.
  await ok(['deploy', 'build/agents/echo.wasm', '--name', 'canary-demo']);
  const canary = await ok(['agent', 'upgrade', 'canary-demo', 'build/agents/counter.wasm', '--canary-stages', '50:300ms,100:300ms', '--rollback-on', 'error_rate>50%', '--wait']);
  assert.match(canary, /^✓ canary of canary-demo promoted/m);
  await ok(['agent', 'remove', 'canary-demo']);
  const diff = await json(['config', 'diff', '--baseline', 'examples/config/caxton.yaml']);
  assert.ok(Array.isArray(diff.differences));
  const dump = join(files.path, 'debug.tar.gz');
  assert.match(await ok(['debug', 'dump', '--output', dump]), /^✓ wrote [\d.]+[KM]?B to /m);
  const bytes = readFileSync(dump);
  assert.equal(bytes[0], 0x1f);
  assert.equal(bytes[1], 0x8b, 'a gzip file');
  const exists = await cx(['debug', 'dump', '--output', dump]);
  assert.equal(exists.code, 1);
  assert.match(exists.stderr, /already exists/);
});

test('cli-api - config validate needs no server', async () => {
  const r = await runCli(['config', 'validate', 'examples/config/caxton.yaml'], { env: { CAXTON_API_URL: 'http://127.0.0.1:1' } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /is a valid Caxton configuration/);
  const bad = join(files.path, 'bad.yaml');
  writeFileSync(bad, 'messaging:\n  queue_size: lots\n');
  const invalid = await runCli(['config', 'validate', bad]);
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /^error: .*bad\.yaml:2:\d+: messaging\.queue_size/m);
});

test('cli-api - typos: a suggestion and exit code 2', async () => {
  const r = await cx(['agent', 'lsit']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /\(Did you mean list\?\)/);
  // Never a destructive suggestion: a typo of `cluster rejoin` once got "remove".
  const rejoin = await cx(['cluster', 'rejion', '--node', 'node-2']);
  assert.equal(rejoin.code, 2);
  assert.doesNotMatch(rejoin.stderr, /remove\?/);
  const remov = await cx(['agent', 'remov', 'calc']);
  assert.equal(remov.code, 2);
  assert.match(remov.stderr, /^error: unknown command 'remov'\nhint: The caxton agent commands are: /m);
  // An unknown command is reported as such, before an option of it could be judged.
  const ca = await cx(['cluster', 'upgrad', 'start', '--output', '/var/backups/caxton.tar.gz']);
  assert.equal(ca.code, 2);
  // (`upgrade` is destructive: never suggested for a typo.)
  assert.match(ca.stderr, /^error: unknown command 'upgrad'\nhint: The caxton cluster commands are: /m);
  assert.match(ca.stderr, /see `caxton cluster --help`/);
  assert.doesNotMatch(ca.stderr, /table or json/);
  const opt = await cx(['agent', 'list', '--stat', 'running']);
  assert.equal(opt.code, 2);
  assert.match(opt.stderr, /\(Did you mean --state\?\)/);
});

test('cli-api - refused keys: exit 1, where the key came from, and how to fix it', async () => {
  const wrongFlag = await cx(['agent', 'list', '--api-key', 'cax_wrong']);
  assert.equal(wrongFlag.code, 1);
  assert.match(wrongFlag.stderr, /^error: .*refused the key given with --api-key/m);
  assert.match(wrongFlag.stderr, /^hint: /m);
  const wrongEnv = await cx(['agent', 'list'], { CAXTON_API_KEY: 'cax_wrong' });
  assert.equal(wrongEnv.code, 1);
  assert.match(wrongEnv.stderr, /refused the key in CAXTON_API_KEY/);
  const empty = tempDir();
  try {
    const none = await runCli(['agent', 'list'], { dataDir: empty.path, env: { CAXTON_API_URL: srv.apiUrl, CAXTON_API_KEY: '' } });
    assert.equal(none.code, 1);
    assert.match(none.stderr, new RegExp(`found none: .*${join(empty.path, 'admin.key').replace(/[.]/g, '\\.')} does not exist`));
    assert.match(none.stderr, /^hint: Pass --api-key <key>, set CAXTON_API_KEY, or point --data-dir/m);
  } finally {
    empty.cleanup();
  }
  // A viewer may read but not control: 403 names the permission and the roles that have it.
  const created = await json(['key', 'create', '--name', 'cli-viewer', '--role', 'viewer']);
  assert.equal(created.role, 'viewer');
  const viewer = { CAXTON_API_KEY: created.key as string };
  await ok(['agent', 'list'], viewer);
  const denied = await cx(['agent', 'suspend', 'calc'], viewer);
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /^error: the API key's role may not do this/m);
  assert.match(denied.stderr, /^hint: .*"control" permission.*operator, admin/m);
  assert.match(await ok(['key', 'list']), /cli-viewer\s+viewer/);
  assert.match(await ok(['key', 'revoke', created.id as string]), /revoked/);
  const revoked = await cx(['agent', 'list'], viewer);
  assert.equal(revoked.code, 1);
  assert.match(revoked.stderr, /refused the key in CAXTON_API_KEY/);
});

test('cli-api - emergency stop, restart, and agent remove', async () => {
  const stop = await ok(['emergency', 'stop', '--all-agents']);
  assert.match(stop, /^2 agents stopped; restart one with `caxton agent restart <name>`$/m);
  assert.equal((await json(['agent', 'inspect', 'calc'])).state, 'stopped');
  assert.match(await ok(['agent', 'restart', 'calc']), /^✓ agent calc restarted \(state running\)$/m);
  assert.match(await ok(['agent', 'remove', 'echo']), /^✓ agent echo removed/m);
  const list = await ok(['agent', 'list']);
  assert.match(list, /^1 agent \(1 running\)$/m);
  const gone = await cx(['agent', 'remove', 'echo']);
  assert.equal(gone.code, 1);
  assert.ok(existsSync(srv.dataDir));
});

test('cli-api - an unreachable server: which URL and how to fix it', async () => {
  const r = await runCli(['agent', 'list'], { env: { CAXTON_API_URL: 'http://127.0.0.1:1', CAXTON_API_KEY: 'x' } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: cannot reach the Caxton API at http:\/\/127\.0\.0\.1:1 \(from CAXTON_API_URL\)/m);
  assert.match(r.stderr, /^hint: .*caxton server start.*--api-url/m);
});
