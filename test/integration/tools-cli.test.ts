/**
 * The tools through the CLI and the API against a real server process whose config file lists
 * server-everything: `caxton tools list` and `tools call`, the operator role, the audit entry, the
 * secret in the config masked by `config show`, and the MCP server process ended with the node.
 * A second server (test/helpers/mcp/misbehaving-server.mjs) gets a secret through ${VAR} and tells
 * it on stderr and in a tool error: the node's logs and answers show `***` for it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, runCli, startServer, type CliResult, type RunningServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { EVERYTHING_BIN, MISBEHAVING } from '../helpers/mcp/servers.js';

let srv: RunningServer;
/** The MCP server's process, which the node must end when it stops. */
let mcpPid = 0;
const files = tempDir('caxton-tools-cli-');

before(async () => {
  const config = join(files.path, 'caxton.yaml');
  writeFileSync(
    config,
    `integrations:
  mcp:
    servers:
      - name: everything
        transport: stdio
        command: ${EVERYTHING_BIN}
        env:
          EVERYTHING_TOKEN: \${EVERYTHING_TOKEN}
        allow: ["assistant-*", "capability:notes"]
        timeout: 5s
      - name: leaky
        transport: stdio
        command: ${process.execPath}
        args: ["${MISBEHAVING}"]
        env:
          MISBEHAVING_SECRET: \${LEAKY_SECRET}
        allow: []
`,
  );
  srv = await startServer({ args: ['--config', config], env: { EVERYTHING_TOKEN: 'sk-live-abcdef123456', LEAKY_SECRET: 'leaky-pass-98765' } });
});

after(async () => {
  const code = await srv.stop();
  srv.cleanup();
  files.cleanup();
  assert.equal(code, 0, 'the server stops cleanly');
  assert.ok(mcpPid > 0);
  assert.throws(() => process.kill(mcpPid, 0), /ESRCH/, 'the MCP server process ended with the node');
});

function cx(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { dataDir: srv.dataDir, env: { CAXTON_API_URL: srv.apiUrl, CAXTON_API_KEY: '', ...env } });
}

async function ok(args: string[], env?: Record<string, string>): Promise<string> {
  const r = await cx(args, env);
  assert.equal(r.code, 0, `caxton ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

/** The servers once ready (the first start loads the npm package). */
async function ready(): Promise<void> {
  const until = Date.now() + 20_000;
  for (;;) {
    const r = await api(srv, 'GET', '/tools');
    const servers = (r.body.servers ?? []) as { state: string }[];
    if (servers.length === 2 && servers.every((s) => s.state === 'ready')) return;
    if (Date.now() > until) assert.fail(`the server is not ready: ${JSON.stringify(r.body)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

test('tools-cli - tools list shows the server, its state, tools and who may use them', async () => {
  await ready();
  const out = await ok(['tools', 'list']);
  assert.match(out, /^SERVER\s+TRANSPORT\s+STATE\s+TOOLS\s+ALLOWED/m);
  assert.match(out, /^everything\s+stdio\s+ready\s+\d+\s+assistant-\* capability:notes\s+0\s+0/m);
  const one = await ok(['tools', 'list', '--server', 'everything']);
  assert.match(one, /^ {2}echo {2}\S/m);
  const json = JSON.parse(await ok(['tools', 'list', '-o', 'json'])) as { servers: { name: string; pid: number; tools: { name: string; input_schema: unknown }[] }[] };
  mcpPid = json.servers[0]?.pid ?? 0;
  assert.ok(json.servers[0]?.tools.some((t) => t.name === 'get-sum' && typeof t.input_schema === 'object'));
  const none = await cx(['tools', 'list', '--server', 'nope']);
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /no MCP server named nope on this node \(servers: everything, leaky\)/);
});

test('tools-cli - tools call runs a tool as an operator, and is audited as the key', async () => {
  await ready();
  assert.equal(await ok(['tools', 'call', 'everything', 'echo', '--args', '{"message":"hi"}']), 'Echo: hi\n');
  const sum = JSON.parse(await ok(['tools', 'call', 'everything', 'get-sum', '--args', '{"a":1,"b":2}', '-o', 'json'])) as { result: { content: { text: string }[] } };
  assert.match(sum.result.content[0]?.text ?? '', /The sum of 1 and 2 is 3/);
  const bad = await cx(['tools', 'call', 'everything', 'get-sum', '--args', '{"a":"x"}']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /tool get-sum of MCP server everything reported an error: .*Invalid arguments/);
  const notJson = await cx(['tools', 'call', 'everything', 'echo', '--args', '{oops']);
  assert.notEqual(notJson.code, 0);
  assert.match(notJson.stderr, /--args is not valid JSON/);
  const audit = JSON.parse(await ok(['audit', 'list', '--action', 'tool.*', '-o', 'json'])) as { entries: { actor_kind: string; target: string; result: string }[] };
  assert.deepEqual(audit.entries.map((e) => `${e.actor_kind} ${e.target} ${e.result}`), ['key everything/echo ok', 'key everything/get-sum ok', 'key everything/get-sum error']);
});

test('tools-cli - only operators and admins call tools; a viewer lists them', async () => {
  const created = await api(srv, 'POST', '/keys', { name: 'dev', role: 'developer' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const key = created.body.key as string;
  const r = await api(srv, 'POST', '/tools/everything/echo', { arguments: { message: 'x' } }, key);
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, 'CAXTON_ERR_API_FORBIDDEN');
  assert.equal((await api(srv, 'GET', '/tools', undefined, key)).status, 200);
  // No route adds a server: servers come from the config file only.
  assert.equal((await api(srv, 'POST', '/tools', { name: 'evil', transport: 'stdio', command: '/bin/sh' })).status, 404);
});

test('tools-cli - config get masks the env value that ${VAR} filled in', async () => {
  const out = await ok(['config', 'get', 'integrations', '-o', 'json']);
  assert.ok(!out.includes('sk-live-abcdef123456'), out);
  assert.match(out, /"EVERYTHING_TOKEN": "\*\*\*"/);
  assert.ok(!srv.logs().includes('sk-live-abcdef123456'), 'no log line holds the secret');
});

test('tools-cli - a server that tells its secret on stderr and in a tool error: the logs and the answer show only ***', async () => {
  await ready();
  const leak = await cx(['tools', 'call', 'leaky', 'leak']);
  assert.notEqual(leak.code, 0);
  assert.match(leak.stderr, /tool leak of MCP server leaky reported an error: .*the secret is \*\*\*/);
  assert.ok(!leak.stderr.includes('leaky-pass-98765') && !leak.stdout.includes('leaky-pass-98765'), leak.stderr);
  // Its stderr reaches the node's log, masked: at its start, and during the call.
  const until = Date.now() + 10_000;
  while (!srv.logs().includes('leaking ***') && Date.now() < until) await new Promise((res) => setTimeout(res, 100));
  const logs = srv.logs();
  assert.match(logs, /"stderr":"starting with secret \*\*\*"/);
  assert.match(logs, /"stderr":"leaking \*\*\*"/);
  assert.ok(!logs.includes('leaky-pass-98765'), `no log line holds the secret: ${logs.split('\n').filter((l) => l.includes('leaky-pass-98765')).join('\n')}`);
});
