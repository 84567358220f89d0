/**
 * How the CLI reports what goes wrong: an unreachable server, a refused key (and where the CLI looked
 * for it), a role that lacks the permission, and typos. The CLI runs as a process against a loopback
 * node:http server that answers every request with a canned 401 or 403 (nothing else is faked here:
 * the real API is in test/integration/cli-api.test.ts).
 */
import { after, before, test } from 'node:test';
import { type Command, CommanderError } from 'commander';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { runCli } from '../../helpers/server.js';
import { tempDir } from '../../helpers/tmp.js';
import { httpError, networkError, permissionFor } from '../../../src/cli/client.js';
import { resolveConnection } from '../../../src/cli/credentials.js';
import { CliError, EXIT_USAGE } from '../../../src/cli/errors.js';
import { buildProgram } from '../../../src/cli/main.js';

const VIEWER_KEY = 'cax_viewer';
let server: Server;
let url = '';
const seen: IncomingHttpHeaders[] = [];
const dir = tempDir('caxton-cli-test-');
/** Keeps the environment of the machine running the tests out of the lookup. */
const clean = { CAXTON_API_KEY: '', CAXTON_API_URL: '', CAXTON_DATA_DIR: '' };

before(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    res.setHeader('content-type', 'application/json');
    if (req.headers.authorization === `Bearer ${VIEWER_KEY}`) {
      res.statusCode = 403;
      res.end(JSON.stringify({ error: { code: 'CAXTON_ERR_API_FORBIDDEN', message: 'key "ci" has role viewer, which does not include the "control" permission this route needs', hint: 'Use a key whose role has the permission.', details: { role: 'viewer', permission: 'control' } } }));
      return;
    }
    res.statusCode = 401;
    res.end(JSON.stringify({ error: { code: 'CAXTON_ERR_API_UNAUTHORIZED', message: 'the API key is not valid on this node (unknown or revoked)', hint: 'Send a valid key.' } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  dir.cleanup();
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('cli errors - an unreachable server: which URL, and how to fix it (start one or --api-url)', async () => {
  const port = await freePort();
  const r = await runCli(['agent', 'list', '--api-url', `http://127.0.0.1:${port}`], { env: clean });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, new RegExp(`^error: cannot reach the Caxton API at http://127\\.0\\.0\\.1:${port} \\(from --api-url\\): connection refused$`, 'm'));
  assert.match(r.stderr, /^hint: .*`caxton server start`.*--api-url/m);

  const viaEnv = await runCli(['server', 'status'], { env: { ...clean, CAXTON_API_URL: `127.0.0.1:${port}` } });
  assert.equal(viaEnv.code, 1);
  assert.match(viaEnv.stderr, new RegExp(`at http://127\\.0\\.0\\.1:${port} \\(from CAXTON_API_URL\\)`));

  const json = await runCli(['queue', 'stats', '-o', 'json', '--api-url', `http://127.0.0.1:${port}`], { env: clean });
  assert.equal(json.code, 1);
  const body = JSON.parse(json.stdout) as { error: { code: string; message: string; hint: string } };
  assert.equal(body.error.code, 'CAXTON_CLI_UNREACHABLE');
  assert.match(body.error.hint, /caxton server start/);
});

test('cli errors - 401: the key was refused, and the message says where the CLI found it', async () => {
  const keyFile = join(dir.path, 'admin.key');
  writeFileSync(keyFile, 'cax_from_file\n');
  const [flag, env, file, none] = await Promise.all([
    runCli(['agent', 'list', '--api-url', url, '--api-key', 'cax_wrong', '--data-dir', dir.path], { env: { ...clean, CAXTON_API_KEY: 'cax_env' } }),
    runCli(['agent', 'list', '--api-url', url, '--data-dir', dir.path], { env: { ...clean, CAXTON_API_KEY: 'cax_env' } }),
    runCli(['agent', 'list', '--api-url', url], { env: { ...clean, CAXTON_DATA_DIR: dir.path } }),
    runCli(['agent', 'list', '--api-url', url, '--data-dir', join(dir.path, 'missing')], { env: clean }),
  ]);
  for (const r of [flag, env, file, none]) {
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^hint: /m);
  }
  assert.match(flag.stderr, /^error: the API at http:\/\/127\.0\.0\.1:\d+ refused the key given with --api-key/m);
  assert.match(env.stderr, /^error: .*refused the key in CAXTON_API_KEY/m);
  assert.match(env.stderr, /^hint: Check or unset CAXTON_API_KEY/m);
  assert.match(file.stderr, new RegExp(`refused the key read from ${join(dir.path, 'admin.key').replace(/[.]/g, '\\.')}`));
  assert.match(file.stderr, /^hint: .*--data-dir/m);
  assert.match(none.stderr, /needs an API key and the CLI found none: no --api-key, no CAXTON_API_KEY, and .*missing\/admin\.key does not exist/);
  assert.match(none.stderr, /^hint: Pass --api-key <key>, set CAXTON_API_KEY, or point --data-dir/m);
  // The lookup order is flag, then environment, then the data dir's admin.key; nothing is sent without a key.
  const auth = seen.map((h) => h.authorization);
  assert.ok(auth.includes('Bearer cax_wrong'));
  assert.ok(auth.includes('Bearer cax_env'));
  assert.ok(auth.includes('Bearer cax_from_file'));
  assert.ok(auth.includes(undefined));
});

test('cli errors - 403: names the permission the route needs and the roles that have it', async () => {
  const r = await runCli(['agent', 'suspend', 'calc', '--api-url', url, '--api-key', VIEWER_KEY], { env: clean });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: the API key's role may not do this: key "ci" has role viewer, which does not include the "control" permission/m);
  assert.match(r.stderr, /^hint: POST \/agents\/calc\/suspend needs the "control" permission, which only the roles operator, admin have\. .*caxton key create --name <name> --role operator/m);
});

test('cli errors - the error mapping without a process: permissions by route, 403 and 429 hints, timeouts', () => {
  assert.equal(permissionFor('GET', '/agents'), 'read');
  assert.equal(permissionFor('POST', '/agents'), 'deploy');
  assert.equal(permissionFor('DELETE', '/agents/calc'), 'deploy');
  assert.equal(permissionFor('POST', '/agents/calc/upgrade'), 'deploy');
  assert.equal(permissionFor('POST', '/agents/calc/suspend'), 'control');
  assert.equal(permissionFor('POST', '/messages'), 'send');
  assert.equal(permissionFor('POST', '/queue/drain'), 'control');
  assert.equal(permissionFor('GET', '/debug/dump'), 'admin');
  assert.equal(permissionFor('GET', '/keys'), 'admin');
  assert.equal(permissionFor('POST', '/config/diff'), 'admin');
  const conn = resolveConnection({ apiUrl: 'http://h:1', apiKey: 'k' }, {});
  // A 403 without details: the permission comes from the route table.
  const e403 = httpError(403, 'Forbidden', JSON.stringify({ error: { code: 'CAXTON_ERR_API_FORBIDDEN', message: 'no' } }), 'POST', '/messages', conn);
  assert.match(e403.hint ?? '', /needs the "send" permission, which only the roles developer, operator, admin have/);
  // A spoofed sender is a 403 too, but not about roles: the API's own message and hint stand.
  const spoof = httpError(403, 'Forbidden', JSON.stringify({ error: { code: 'CAXTON_ERR_MESSAGE_SPOOFED', message: 'sender is not you', hint: 'Leave sender out.' } }), 'POST', '/messages', conn);
  assert.equal(spoof.message, 'sender is not you');
  assert.equal(spoof.hint, 'Leave sender out.');
  const e429 = httpError(429, 'Too Many Requests', JSON.stringify({ error: { code: 'CAXTON_ERR_API_RATE_LIMITED', message: 'slow down' } }), 'GET', '/agents', conn, new Headers({ 'retry-after': '3' }));
  assert.match(e429.hint ?? '', /retry after 3s/);
  const notCaxton = httpError(502, 'Bad Gateway', '<html>', 'GET', '/agents', conn);
  assert.match(notCaxton.message, /GET \/agents failed: HTTP 502 Bad Gateway/);
  const apiError = httpError(404, 'Not Found', JSON.stringify({ error: { code: 'CAXTON_ERR_AGENT_NOT_FOUND', message: 'no agent named calc', hint: 'Check the agent name.' } }), 'GET', '/agents/calc', conn);
  assert.equal(apiError.message, 'no agent named calc');
  assert.equal(apiError.hint, 'Check the agent name.');
  assert.equal(apiError.code, 'CAXTON_ERR_AGENT_NOT_FOUND');
  const timeout = networkError(Object.assign(new Error('timed out'), { name: 'TimeoutError' }), conn, 30_000);
  assert.match(timeout.message, /did not answer within 30s/);
});

test('cli errors - credentials lookup: flag, then CAXTON_API_KEY, then <data-dir>/admin.key; URLs normalized', () => {
  const keyDir = tempDir();
  try {
    writeFileSync(join(keyDir.path, 'admin.key'), '  cax_file \n');
    assert.deepEqual(resolveConnection({ apiKey: 'a', dataDir: keyDir.path }, { CAXTON_API_KEY: 'b' }).keySource, { kind: 'flag' });
    assert.equal(resolveConnection({ dataDir: keyDir.path }, { CAXTON_API_KEY: 'b' }).apiKey, 'b');
    const fromFile = resolveConnection({ dataDir: keyDir.path }, {});
    assert.equal(fromFile.apiKey, 'cax_file');
    assert.deepEqual(fromFile.keySource, { kind: 'file', path: join(keyDir.path, 'admin.key') });
    assert.equal(resolveConnection({}, { CAXTON_DATA_DIR: keyDir.path }).apiKey, 'cax_file');
    assert.equal(resolveConnection({}, {}).apiUrl, 'http://127.0.0.1:8080');
    assert.equal(resolveConnection({ apiUrl: 'node-1:9000/' }, {}).apiUrl, 'http://node-1:9000');
    assert.equal(resolveConnection({}, { CAXTON_API_URL: 'https://x.example/api/v1' }).apiUrl, 'https://x.example');
  } finally {
    keyDir.cleanup();
  }
});

/** Parses `args` with the real command tree in this process; what commander or our checks report. */
async function parse(args: string[]): Promise<{ stderr: string; exitCode: number | undefined; message: string }> {
  const program = await buildProgram();
  let stderr = '';
  const quiet = (c: Command): void => {
    c.configureOutput({ writeErr: (t) => void (stderr += t), writeOut: () => undefined });
    c.commands.forEach(quiet);
  };
  quiet(program);
  try {
    await program.parseAsync(args, { from: 'user' });
    return { stderr, exitCode: undefined, message: '' };
  } catch (e) {
    if (e instanceof CommanderError) return { stderr, exitCode: EXIT_USAGE, message: e.message };
    if (e instanceof CliError) return { stderr, exitCode: e.exitCode, message: e.message };
    throw e;
  }
}

test('cli errors - typos: "did you mean" for commands, subcommands and options at every level', async () => {
  // Unknown commands that commander itself meets are reported by src/cli/unknown-command.ts (never a
  // destructive suggestion); unknown options by commander, with its suggestion.
  const cases: [string[], RegExp][] = [
    [['agnet', 'list'], /unknown command 'agnet'\n\(Did you mean agent\?\)/],
    [['agents', 'lsit'], /unknown command 'lsit'\n\(Did you mean list\?\)/],
    [['agent', 'list', '--stat', 'running'], /error: unknown option '--stat'\n\(Did you mean --state\?\)/],
    [['agents', 'slow', '--treshold', '1s'], /\(Did you mean --threshold\?\)/],
    [['circuit-breaker', 'rset'], /^unknown command 'rset'$/m],
    [['queue', 'stats', '--outptu', 'json'], /\(Did you mean --output\?\)/],
    [['server', 'stauts'], /\(Did you mean status\?\)/],
    [['memroy', 'stats'], /\(Did you mean memory\?\)/],
    [['analyze', 'mesages'], /\(Did you mean messages\?\)/],
    [['message', 'send', '--to', 'a', '--performative', 'request', '--content', 'x', '--wait-replay'], /\(Did you mean --wait-reply\?\)/],
    [['key', 'create', '--name', 'x', '--role', 'admin', '--rloe', 'viewer'], /\(Did you mean --role\?\)/],
  ];
  for (const [args, re] of cases) {
    const r = await parse(args);
    assert.equal(r.exitCode, EXIT_USAGE, args.join(' '));
    assert.match(`${r.stderr}${r.message}`, re, args.join(' '));
  }
  // circuit-breaker reset resets breakers: a typo of it is not answered with it.
  assert.doesNotMatch((await parse(['circuit-breaker', 'rset'])).message, /reset/);
});

test('cli errors - a typo through the real process: the suggestion on stderr, exit code 2', async () => {
  const r = await runCli(['agent', 'inspcet', 'calc'], { env: clean });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /error: unknown command 'inspcet'\n\(Did you mean inspect\?\)/);
  assert.equal(r.stdout, '');
});

test('cli errors - with -o json, errors raised before a command runs are printed as JSON on stdout too (exit 2)', async () => {
  const cases: [string[], string][] = [
    [['agnt', 'list', '-o', 'json'], 'CAXTON_CLI_UNKNOWN_COMMAND'],
    [['-o', 'json', 'cluster', 'upgrad', 'start', '--output', '/var/backups/caxton.tar.gz'], 'CAXTON_CLI_UNKNOWN_COMMAND'],
    [['agent', '--output=json', 'list', '--stat', 'running'], 'CAXTON_CLI_USAGE'],
    [['agent', 'stop', 'calc', '--drain-timeout', '30', '-ojson'], 'CAXTON_CLI_USAGE'],
  ];
  for (const [args, code] of cases) {
    const r = await runCli(args, { env: clean });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^error: /m, 'on stderr as always');
    const body = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    assert.equal(body.error.code, code, args.join(' '));
    assert.ok(body.error.message.length > 0);
  }
  // Without -o json nothing goes to stdout.
  assert.equal((await runCli(['agnt', 'list'], { env: clean })).stdout, '');
});

test('cli errors - bad values are usage errors (exit 2) that name the option', async () => {
  const duration = await parse(['agent', 'stop', 'calc', '--drain-timeout', '30']);
  assert.equal(duration.exitCode, EXIT_USAGE);
  assert.match(duration.message, /--drain-timeout takes a duration such as 250ms, 30s, 10m or 1h, got "30"/);
  const choice = await parse(['agent', 'list', '--state', 'sleeping']);
  assert.equal(choice.exitCode, EXIT_USAGE);
  assert.match(choice.stderr, /Allowed choices are loaded, ready, running, suspended, draining, stopped, failed/);
  const missing = await parse(['message', 'send', '--to', 'calc', '--content', 'x']);
  assert.equal(missing.exitCode, EXIT_USAGE);
  assert.match(missing.stderr, /--performative <p>' not specified/);
  const both = await parse(['agent', 'suspend', 'calc', '--priority', 'low']);
  assert.equal(both.exitCode, EXIT_USAGE);
  assert.match(both.message, /give an agent name or --priority, not both/);
  const where = await parse(['message', 'send', '--performative', 'inform', '--content', 'x']);
  assert.match(where.message, /say where the message goes: --to <agent>, --capability <cap> or --topic <topic>/);
  const stages = await parse(['agent', 'upgrade', 'calc', 'x.wasm', '--strategy', 'graceful', '--canary-stages', '5:1m']);
  assert.match(stages.message, /--canary-stages and --rollback-on apply to --strategy canary, not graceful/);
  const cb = await parse(['circuit-breaker', 'activate']);
  assert.match(cb.message, /give exactly one of --all and --agent <name>/);
});

test('cli errors - a bad value through the real process exits 2 with error: and the reason', async () => {
  const r = await runCli(['queue', 'drain', '--timeout', '60'], { env: clean });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: --timeout takes a duration such as 250ms, 30s, 10m or 1h, got "60" \(add a unit/m);
});

test('cli main - server start and server status are both in the tree, with their own options', async () => {
  const server = (await buildProgram()).commands.find((c) => c.name() === 'server');
  const start = server?.commands.find((c) => c.name() === 'start');
  const status = server?.commands.find((c) => c.name() === 'status');
  assert.ok(start?.options.some((o) => o.long === '--data-dir'));
  assert.ok(status?.options.some((o) => o.long === '--api-url'));
});
