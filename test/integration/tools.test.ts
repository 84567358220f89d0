/**
 * Tools through MCP end to end: a real node, the tool-user example agent (built from
 * examples/tool-user with the SDK's tool helpers), and real MCP servers started by the node:
 * @modelcontextprotocol/server-everything and server-memory over stdio, an HTTP server built with the
 * SDK in this file, and test/helpers/mcp/misbehaving-server.mjs for crashes, garbage and floods.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { withNode, type NodeContext } from '../helpers/node.js';
import { Client, agentWasm, type Msg } from '../helpers/agents.js';
import { tempDir } from '../helpers/tmp.js';
import { EVERYTHING_BIN, MEMORY_BIN, MISBEHAVING, mcpServers } from '../helpers/mcp/servers.js';
import { z } from 'zod';
import { wat } from '../helpers/wat.js';
import { SqliteAgentStateStore } from '../../src/storage/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { Writable } from 'node:stream';
import { sinkAgent } from '../helpers/wat-agents.js';
import { NORMAL } from '../../src/sandbox/worker/mailbox.js';

/** Generous bound to catch a hang (a server's first start runs npm packages' module loading). */
const WAIT_MS = 20_000;

async function deployToolUser(ctx: NodeContext, name: string): Promise<void> {
  await ctx.node.deployments.deploy({ name, module: agentWasm('tool-user') });
}

/** Asks agent `via` to call `tool` of `server`, and waits for its answer (inform or failure). */
async function ask(client: Client, via: string, content: Record<string, unknown>): Promise<Msg> {
  const rw = client.send(via, 'request', content);
  return client.waitFor((m) => m.in_reply_to === rw, WAIT_MS, `the answer to ${JSON.stringify(content)}`);
}

const content = (m: Msg) => m.content as Record<string, unknown>;

/** The hostile server's flood limit in its test (bytes a second). */
const FLOOD_BYTES = 12 * 1024 * 1024;

test('tools - an allowed agent lists tools, calls echo and get-sum, gets a tool error and a timeout, over stdio (server-everything)', async () => {
  const servers = mcpServers(`
- name: everything
  transport: stdio
  command: ${EVERYTHING_BIN}
  allow: ["caller-*"]
  timeout: 1500ms
`);
  await withNode({ mcpServers: servers }, async (ctx) => {
    await deployToolUser(ctx, 'caller-1');
    const client = new Client(ctx.node.pool);
    const list = await ask(client, 'caller-1', { server: 'everything', list: 'tools' });
    assert.equal(list.performative, 'inform', JSON.stringify(list));
    const tools = content(list)['tools'] as { name: string; inputSchema: { properties?: Record<string, unknown> } }[];
    const names = tools.map((t) => t.name);
    for (const n of ['echo', 'get-sum', 'trigger-long-running-operation']) assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
    assert.deepEqual(Object.keys(tools.find((t) => t.name === 'get-sum')?.inputSchema.properties ?? {}).sort(), ['a', 'b']);

    const echo = await ask(client, 'caller-1', { server: 'everything', tool: 'echo', arguments: { message: 'hi' } });
    assert.equal(echo.performative, 'inform', JSON.stringify(echo));
    assert.equal(content(echo)['text'], 'Echo: hi');
    assert.deepEqual(content(echo)['content'], [{ type: 'text', text: 'Echo: hi' }]);

    const sum = await ask(client, 'caller-1', { server: 'everything', tool: 'get-sum', arguments: { a: 2, b: 40 } });
    assert.match(String(content(sum)['text']), /The sum of 2 and 40 is 42/);

    // A tool error: the tool's result has isError; the failure carries its content.
    const bad = await ask(client, 'caller-1', { server: 'everything', tool: 'get-sum', arguments: { a: 'x' } });
    assert.equal(bad.performative, 'failure');
    assert.equal(content(bad)['error'], 'CAXTON_ERR_TOOL_ERROR');
    assert.match(String(content(bad)['reason']), /Invalid arguments for tool get-sum/);
    assert.ok(Array.isArray(content(bad)['content']));

    // A slow tool past the server's timeout (1.5 s): cancelled, a timeout failure; the server serves on.
    const slow = await ask(client, 'caller-1', { server: 'everything', tool: 'trigger-long-running-operation', arguments: { duration: 10, steps: 2 } });
    assert.equal(slow.performative, 'failure');
    assert.equal(content(slow)['error'], 'CAXTON_ERR_TOOL_TIMEOUT');
    // reply_by shortens the server's timeout: 300 ms here.
    const short = await ask(client, 'caller-1', { server: 'everything', tool: 'trigger-long-running-operation', arguments: { duration: 5, steps: 1 }, timeout_ms: 300 });
    assert.equal(content(short)['error'], 'CAXTON_ERR_TOOL_TIMEOUT', JSON.stringify(short));
    const again = await ask(client, 'caller-1', { server: 'everything', tool: 'echo', arguments: { message: 'still here' } });
    assert.equal(content(again)['text'], 'Echo: still here');
    assert.equal(ctx.node.tools?.list('everything')[0]?.restarts, 0);

    // Every call in the audit log: sizes, duration, outcome, no argument values (audit_arguments off).
    const audit = await ctx.call('GET', '/audit?action=tool.call&limit=100');
    assert.equal(audit.status, 200);
    const entries = audit.body.entries as { actor: string; actor_kind: string; target: string; result: string; error_code: string | null; detail: Record<string, unknown> }[];
    assert.equal(entries.length, 6, JSON.stringify(entries));
    const first = entries[0];
    assert.deepEqual([first?.actor, first?.actor_kind, first?.target, first?.result], ['caller-1', 'agent', 'everything/echo', 'ok']);
    assert.equal(first?.detail['argument_bytes'], JSON.stringify({ message: 'hi' }).length);
    assert.equal(typeof first?.detail['duration_ms'], 'number');
    assert.ok((first?.detail['result_bytes'] as number) > 0);
    assert.equal(first?.detail['arguments'], undefined);
    assert.deepEqual(entries.map((e) => e.detail['outcome']), ['ok', 'ok', 'tool_error', 'timeout', 'timeout', 'ok']);
    assert.equal(entries[2]?.error_code, 'CAXTON_ERR_TOOL_ERROR');

    // A tool call's conversation has a trace like any other: the agent's request and the server's answer.
    const convs = (await ctx.call('GET', '/conversations?limit=1000')).body.conversations as { id: string; participants: string[] }[];
    const toolConv = convs.find((c) => c.participants.includes('mcp:everything'));
    assert.ok(toolConv !== undefined, JSON.stringify(convs));
    const trace = (await ctx.call('GET', `/conversations/${toolConv.id}`)).body.trace as { from: string; to: string; performative: string }[];
    assert.deepEqual(
      trace.map((e) => `${e.from}>${e.to}:${e.performative}`).sort(),
      ['caller-1>mcp:everything:request', 'mcp:everything>caller-1:inform'].sort(),
      JSON.stringify(trace),
    );

    const metrics = await ctx.node.metrics.text();
    assert.match(metrics, /caxton_tool_calls_total\{server="everything",tool="echo",outcome="ok"\} 2/);
    assert.match(metrics, /caxton_tool_calls_total\{server="everything",tool="trigger-long-running-operation",outcome="timeout"\} 2/);
    assert.match(metrics, /caxton_tool_call_duration_seconds_count\{server="everything",tool="get-sum"\} 2/);
    assert.match(metrics, /caxton_tool_calls_in_flight\{server="everything"\} 0/);
    assert.match(metrics, /caxton_tool_server_up\{server="everything"\} 1/);
    client.close();
  });
});

test('tools - the allow list: a forbidden agent, a capability entry, an API client choosing an allowed sender name, an agent naming another sender', async () => {
  const servers = mcpServers(`
- name: everything
  transport: stdio
  command: ${EVERYTHING_BIN}
  allow: ["trusted*", "capability:arithmetic"]
`);
  await withNode({ mcpServers: servers }, async (ctx) => {
    await deployToolUser(ctx, 'trusted');
    await deployToolUser(ctx, 'intruder');
    const client = new Client(ctx.node.pool);
    const ok = await ask(client, 'trusted', { server: 'everything', tool: 'echo', arguments: { message: 'a' } });
    assert.equal(ok.performative, 'inform');
    const no = await ask(client, 'intruder', { server: 'everything', tool: 'echo', arguments: { message: 'b' } });
    assert.equal(no.performative, 'failure');
    assert.equal(content(no)['error'], 'CAXTON_ERR_TOOL_FORBIDDEN');
    assert.match(String(content(no)['reason']), /agent intruder may not use MCP server everything/);
    const noList = await ask(client, 'intruder', { server: 'everything', list: 'tools' });
    assert.equal(content(noList)['error'], 'CAXTON_ERR_TOOL_FORBIDDEN');

    // An API client may pick its sender name, but it is no agent of the node: refused up front (never
    // stored, never routed), even with a name the allow list matches (trusted*), at most or at least
    // once, and pointed to the operators' route.
    for (const delivery of ['at-most-once', 'at-least-once']) {
      const spoof = await ctx.call('POST', '/messages?wait_reply=true&timeout_ms=10000', { performative: 'request', delivery, sender: 'trusted-lookalike', receiver: 'mcp:everything', content: { tool: 'echo', arguments: { message: 'c' } } });
      assert.equal(spoof.status, 403, JSON.stringify(spoof.body));
      assert.equal(spoof.body.error.code, 'CAXTON_ERR_TOOL_FORBIDDEN');
      assert.match(spoof.body.error.message, /POST \/api\/v1\/tools\/everything\/<tool>/);
      assert.match(spoof.body.error.message, /caxton tools call everything/);
    }
    // ... and a client writing as the bridge (to forge a tool's answer to an agent) is refused too.
    const forged = await ctx.call('POST', '/messages', { performative: 'inform', sender: 'mcp:everything', receiver: 'trusted', content: { tool: 'echo', content: [] } });
    assert.equal(forged.status, 403, JSON.stringify(forged.body));
    assert.equal(forged.body.error.code, 'CAXTON_ERR_MESSAGE_SPOOFED');
    assert.match(forged.body.error.message, /names an MCP server/);
    // ... and the name of the allowed agent itself is refused by the API before it routes anything.
    const asAgent = await ctx.call('POST', '/messages', { performative: 'request', sender: 'trusted', receiver: 'mcp:everything', content: { tool: 'echo', arguments: {} } });
    assert.equal(asAgent.body.error.code, 'CAXTON_ERR_MESSAGE_SPOOFED');

    // An agent that writes another agent's name as sender: its host refuses to send it at all.
    const forger = await wat(`(module
      (import "caxton" "send" (func $send (param i32 i32) (result i32)))
      (import "caxton" "kv_set" (func $kvs (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 0) "rc")
      (data (i32.const 16) "{\\"performative\\":\\"request\\",\\"sender\\":\\"trusted\\",\\"receiver\\":\\"mcp:everything\\",\\"content\\":{\\"tool\\":\\"echo\\",\\"arguments\\":{}}}")
      (func (export "caxton_abi_version") (result i32) i32.const 1)
      (func (export "caxton_alloc") (param i32) (result i32) i32.const 8192)
      (func (export "handle_message") (param i32 i32) (result i32)
        (i32.store (i32.const 4096) (call $send (i32.const 16) (i32.const 105)))
        (drop (call $kvs (i32.const 0) (i32.const 2) (i32.const 4096) (i32.const 4)))
        (i32.const 0)))`);
    await ctx.node.deployments.deploy({ name: 'forger', module: forger });
    client.send('forger', 'inform', 'go');
    const store = new SqliteAgentStateStore(ctx.node.databasePath);
    const until = Date.now() + WAIT_MS;
    let rc: Uint8Array | undefined;
    while (rc === undefined && Date.now() < until) {
      rc = store.get('forger', new TextEncoder().encode('rc'));
      if (rc === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(rc !== undefined, 'the forger ran');
    assert.equal(new DataView(rc.buffer, rc.byteOffset).getInt32(0, true), -4, 'send returned ERR_INVALID_MESSAGE');

    // A capability entry: an agent that registered "arithmetic" may use the server.
    await ctx.node.deployments.deploy({ name: 'has-capability', module: agentWasm('tool-user'), config: { capability: 'arithmetic' } });
    const byCapability = await ask(client, 'has-capability', { server: 'everything', tool: 'echo', arguments: { message: 'd' } });
    assert.equal(byCapability.performative, 'inform', JSON.stringify(byCapability));
    const entries = (await ctx.call('GET', '/audit?action=tool.call')).body.entries as { actor: string; actor_kind: string; detail: { outcome: string } }[];
    // The API clients' attempts never reached the bridge (refused by the API, with an HTTP error).
    assert.deepEqual(
      entries.map((e) => `${e.actor}:${e.actor_kind}:${e.detail.outcome}`),
      ['trusted:agent:ok', 'intruder:agent:forbidden', 'has-capability:agent:ok'],
    );
    client.close();
  });
});

test('tools - server-memory keeps state between calls: entities created, then read back', async () => {
  const dir = tempDir();
  const servers = mcpServers(`
- name: memory
  transport: stdio
  command: ${MEMORY_BIN}
  env:
    MEMORY_FILE_PATH: "${join(dir.path, 'memory.jsonl')}"
  allow: ["*"]
`);
  try {
    await withNode({ mcpServers: servers }, async (ctx) => {
      await deployToolUser(ctx, 'notes');
      const client = new Client(ctx.node.pool);
      const created = await ask(client, 'notes', { server: 'memory', tool: 'create_entities', arguments: { entities: [{ name: 'Caxton', entityType: 'server', observations: ['runs wasm agents'] }] } });
      assert.equal(created.performative, 'inform', JSON.stringify(created));
      const graph = await ask(client, 'notes', { server: 'memory', tool: 'read_graph', arguments: {} });
      assert.equal(graph.performative, 'inform', JSON.stringify(graph));
      assert.match(String(content(graph)['text']), /"name": ?"Caxton"[\s\S]*runs wasm agents/);
      client.close();
    });
  } finally {
    dir.cleanup();
  }
});

/** An MCP server over Streamable HTTP, built with the SDK (stateless: a server per request). */
async function httpMcpServer(port = 0, token = 'Bearer test-token-1234'): Promise<{ server: Server; url: string; calls: () => number }> {
  let calls = 0;
  const server = createServer(async (req, res) => {
    if (req.headers.authorization !== token) {
      res.writeHead(401).end(`bad token ${String(req.headers.authorization)}`);
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length === 0 ? undefined : (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
    // One call's own HTTP error (the token echoed in it): the link is fine.
    if ((body as { params?: { name?: unknown } } | undefined)?.params?.name === 'explode') {
      res.writeHead(500).end(`exploded with ${String(req.headers.authorization)}`);
      return;
    }
    const mcp = new McpServer({ name: 'http-test', version: '1.0.0' });
    mcp.registerTool('shout', { description: 'upper-cases a word', inputSchema: { word: z.string() } }, async ({ word }) => {
      calls++;
      return { content: [{ type: 'text' as const, text: word.toUpperCase() }] };
    });
    // A response past the bridge's bound (8 MiB): the link is given up and made again.
    mcp.registerTool('flood', { description: 'answers 9 MiB' }, async () => ({ content: [{ type: 'text' as const, text: 'x'.repeat(9 * 1024 * 1024) }] }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close();
      void mcp.close();
    });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, body);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const a = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${a.port}/mcp`, calls: () => calls };
}

test('tools - Streamable HTTP: headers from ${VAR}, a call through the SDK-built server, a flooding answer cut, reconnect after it restarts, the token kept out of the logs', async () => {
  const first = await httpMcpServer();
  const port = Number(new URL(first.url).port);
  const servers = mcpServers(
    `
- name: web
  transport: http
  url: ${first.url}
  headers:
    Authorization: "Bearer \${TOKEN}"
  allow: ["*"]
`,
    { TOKEN: 'test-token-1234' },
  );
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString('utf8')), process.env['DBG'] ? process.stderr.write(c, () => cb()) : cb()) }) });
  let second: Awaited<ReturnType<typeof httpMcpServer>> | undefined;
  try {
    await withNode({ mcpServers: servers, logger }, async (ctx) => {
      await deployToolUser(ctx, 'web-user');
      const client = new Client(ctx.node.pool);
      const r = await ask(client, 'web-user', { server: 'web', tool: 'shout', arguments: { word: 'hello' } });
      assert.equal(content(r)['text'], 'HELLO', JSON.stringify(r));
      assert.equal(first.calls(), 1);
      // A 500 for one call fails that call only: no reconnect, the token masked in the reason.
      const restarts = ctx.node.tools?.list('web')[0]?.restarts;
      const exploded = await ask(client, 'web-user', { server: 'web', tool: 'explode', arguments: {} });
      assert.equal(content(exploded)['error'], 'CAXTON_ERR_TOOL_ERROR', JSON.stringify(exploded));
      assert.match(String(content(exploded)['reason']), /answered the call to explode with HTTP 500: .*exploded with \*\*\*/);
      assert.equal(ctx.node.tools?.list('web')[0]?.state, 'ready');
      assert.equal(ctx.node.tools?.list('web')[0]?.restarts, restarts);
      const flood = await ask(client, 'web-user', { server: 'web', tool: 'flood', arguments: {} });
      assert.equal(flood.performative, 'failure');
      assert.equal(content(flood)['error'], 'CAXTON_ERR_TOOL_SERVER_FAILED', JSON.stringify(flood).slice(0, 500));
      const afterFlood = Date.now() + WAIT_MS;
      let again: Msg | undefined;
      while (Date.now() < afterFlood) {
        again = await ask(client, 'web-user', { server: 'web', tool: 'shout', arguments: { word: 'calm' } });
        if (again.performative === 'inform') break;
        await new Promise((res) => setTimeout(res, 200));
      }
      assert.equal(content(again as Msg)['text'], 'CALM');
      // The server goes away: a call fails, the bridge reconnects once it is back.
      const closed = new Promise<void>((res) => first.server.close(() => res()));
      first.server.closeAllConnections(); // the client's event stream (GET) stays open otherwise
      await closed;
      const down = await ask(client, 'web-user', { server: 'web', tool: 'shout', arguments: { word: 'x' } });
      assert.equal(down.performative, 'failure');
      assert.match(String(content(down)['error']), /CAXTON_ERR_TOOL_SERVER_(FAILED|UNAVAILABLE)/);
      second = await httpMcpServer(port);
      const until = Date.now() + WAIT_MS;
      let back: Msg | undefined;
      while (Date.now() < until) {
        back = await ask(client, 'web-user', { server: 'web', tool: 'shout', arguments: { word: 'again' } });
        if (back.performative === 'inform') break;
        await new Promise((res) => setTimeout(res, 200));
      }
      assert.equal(back?.performative, 'inform', JSON.stringify(back));
      assert.equal(content(back as Msg)['text'], 'AGAIN');
      assert.ok((ctx.node.tools?.list('web')[0]?.restarts ?? 0) >= 1);
      client.close();
    });
  } finally {
    for (const s of [first.server, second?.server]) {
      s?.closeAllConnections();
      s?.close();
    }
  }
  const log = lines.join('');
  assert.match(log, /MCP server closed: it flooded the node/);
  // The SDK-built server answers the call as SSE: one event past the bound.
  assert.match(log, /it sent an event of more than 8388608 bytes on an SSE stream/);
  assert.ok(!log.includes('test-token-1234'), 'no log line holds the token');
});

test('tools - a server that crashes mid-call, answers garbage or floods stdout is closed with the reason logged and restarted; the node keeps serving', async () => {
  const servers = mcpServers(`
- name: bad
  transport: stdio
  command: ${process.execPath}
  args: ["${MISBEHAVING}"]
  env:
    MISBEHAVING_SECRET: "\${SECRET}"
  allow: ["*"]
  audit_arguments: true
`, { SECRET: 'hunter2-secret' });
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString('utf8')), cb()) }) });
  await withNode({ mcpServers: servers, logger }, async (ctx) => {
    await deployToolUser(ctx, 'victim');
    const client = new Client(ctx.node.pool);
    const pidOf = async () => {
      const until = Date.now() + WAIT_MS;
      for (;;) {
        const r = await ask(client, 'victim', { server: 'bad', tool: 'pid', arguments: {} });
        if (r.performative === 'inform') return Number(content(r)['text']);
        if (Date.now() > until) assert.fail(`the server did not come back: ${JSON.stringify(r)}`);
        await new Promise((res) => setTimeout(res, 200));
      }
    };
    for (const [tool, reason] of [
      ['crash', /exited with code 3/],
      ['garbage', /not a JSON-RPC message: "this is not JSON-RPC at all"/],
      ['flood', /without a line break/],
    ] as const) {
      const before = await pidOf();
      const r = await ask(client, 'victim', { server: 'bad', tool, arguments: { note: 'hunter2-secret' } });
      assert.equal(r.performative, 'failure', `${tool}: ${JSON.stringify(r)}`);
      assert.equal(content(r)['error'], 'CAXTON_ERR_TOOL_SERVER_FAILED', `${tool}: ${JSON.stringify(r)}`);
      assert.match(String(content(r)['reason']), reason);
      const after = await pidOf();
      assert.notEqual(after, before, `${tool}: a new process serves`);
      assert.throws(() => process.kill(before, 0), { code: 'ESRCH' }, `${tool}: the old process ${before} is gone`);
      // The node is unharmed: its API answers and the agent runs.
      assert.equal((await ctx.call('GET', '/agents/victim')).status, 200);
    }
    assert.equal(ctx.node.tools?.list('bad')[0]?.restarts, 3);
    const audit = (await ctx.call('GET', '/audit?action=tool.call&limit=1000')).body.entries as { detail: { tool: string; arguments?: string } }[];
    const crash = audit.find((e) => e.detail.tool === 'crash');
    assert.equal(crash?.detail.arguments, '{"note":"***"}', 'audit_arguments keeps the arguments, secrets masked');
    client.close();
  });
  const log = lines.join('');
  for (const why of ['exited with code 3', 'not a JSON-RPC message', 'without a line break']) assert.ok(log.includes(why), `the log says why: ${why}`);
  assert.match(log, /"stderr":"starting with secret \*\*\*","msg":"MCP server stderr"/);
  assert.ok(!log.includes('hunter2-secret'), 'the secret is in no log line');
});

test('tools - a hostile stdio server: a list_changed storm is read once or twice; its outputSchema is not run on the node; its 2 MB error is cut; its helper processes end with it; server requests with stdin unread, too many messages, a line past the limit, too many bytes a second close it, its old process gone', async () => {
  // The flood limit lowered from 32 MiB to 12 MiB a second (above bigline's 8 MiB line): a loaded
  // machine reads the pipe slower than 32 MiB/s, and then never sees a server flood it at that rate.
  const servers = mcpServers(`
- name: bad
  transport: stdio
  command: ${process.execPath}
  args: ["${MISBEHAVING}"]
  allow: ["*"]
`).map((s) => ({ ...s, maxOutputBytesPerSecond: FLOOD_BYTES }));
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString('utf8')), cb()) }) });
  await withNode({ mcpServers: servers, logger }, async (ctx) => {
    await deployToolUser(ctx, 'victim');
    const client = new Client(ctx.node.pool);
    const text = async (tool: string) => {
      const r = await ask(client, 'victim', { server: 'bad', tool, arguments: {} });
      assert.equal(r.performative, 'inform', `${tool}: ${JSON.stringify(r)}`);
      return String(content(r)['text']);
    };
    const pidOf = async () => {
      const until = Date.now() + WAIT_MS;
      for (;;) {
        const r = await ask(client, 'victim', { server: 'bad', tool: 'pid', arguments: {} });
        if (r.performative === 'inform') return Number(content(r)['text']);
        if (Date.now() > until) assert.fail(`the server did not come back: ${JSON.stringify(r)}`);
        await new Promise((res) => setTimeout(res, 200));
      }
    };
    // 2,000 notifications that the tool list changed: one read in flight, one more after it.
    await pidOf();
    const before = Number(await text('lists'));
    assert.equal(await text('storm'), 'stormed');
    let reads = 0;
    for (let i = 0; i < 10; i++) {
      await new Promise((res) => setTimeout(res, 100));
      reads = Number(await text('lists')) - before;
    }
    assert.ok(reads >= 1 && reads <= 3, `the tool list was read ${reads} times for 2,000 notifications`);

    // The server's own outputSchema is not run on the node (it could hold a catastrophic regex): its
    // structuredContent is passed on as it came, even where that schema would refuse it.
    const shaped = await ask(client, 'victim', { server: 'bad', tool: 'shaped', arguments: {} });
    assert.equal(shaped.performative, 'inform', JSON.stringify(shaped));
    assert.deepEqual(content(shaped)['structuredContent'], { s: 'a' });

    // A server's own text is cut: a 2 MB error message becomes a reason of about 1 KiB.
    const huge = await ask(client, 'victim', { server: 'bad', tool: 'hugeerror', arguments: {} });
    assert.equal(huge.performative, 'failure', JSON.stringify(huge).slice(0, 500));
    assert.equal(content(huge)['error'], 'CAXTON_ERR_TOOL_ERROR', JSON.stringify(huge).slice(0, 600));
    const why = String(content(huge)['reason']);
    assert.ok(why.length < 1200, `the reason is ${why.length} characters`);
    assert.match(why, /refused the call: MCP error -32603: Eee+… \(\d+ characters\)$/);

    const gone = (pid: number) => {
      try {
        process.kill(pid, 0);
        return false;
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'ESRCH';
      }
    };
    // A server that exits while a helper it started holds its stdout: its exit is seen, the helper killed with it.
    const helper = Number(await text('helper'));
    assert.ok(!gone(helper), 'the helper runs');
    const crashed = await ask(client, 'victim', { server: 'bad', tool: 'crash', arguments: {} });
    assert.equal(crashed.performative, 'failure', JSON.stringify(crashed));
    assert.match(String(content(crashed)['reason']), /exited with code 3/);
    const helperUntil = Date.now() + WAIT_MS;
    while (!gone(helper) && Date.now() < helperUntil) await new Promise((res) => setTimeout(res, 50));
    assert.ok(gone(helper), `the helper ${helper} is gone with its server`);

    for (const [tool, reason] of [
      ['deaf', /it does not read its stdin: \d+ bytes waited to be written to it, more than 8388608/],
      ['chatty', /more than 5000 messages to stdout within a second/],
      ['bigline', /(a line of \d+ bytes|without a line break).*more than 8388608|more than 8388608 bytes to stdout without/],
      ['fat', new RegExp(`more than ${FLOOD_BYTES} bytes to stdout within a second`)],
    ] as const) {
      const old = await pidOf();
      const r = await ask(client, 'victim', { server: 'bad', tool, arguments: {} });
      assert.equal(r.performative, 'failure', `${tool}: ${JSON.stringify(r)}`);
      assert.equal(content(r)['error'], 'CAXTON_ERR_TOOL_SERVER_FAILED', `${tool}: ${JSON.stringify(r)}`);
      assert.match(String(content(r)['reason']), reason, tool);
      const after = await pidOf();
      assert.notEqual(after, old, `${tool}: a new process serves`);
      const until = Date.now() + WAIT_MS;
      while (!gone(old) && Date.now() < until) await new Promise((res) => setTimeout(res, 50));
      assert.ok(gone(old), `${tool}: the old process ${old} is gone`);
      assert.equal((await ctx.call('GET', '/agents/victim')).status, 200);
    }
    client.close();
  });
  const log = lines.join('');
  for (const why of ['does not read its stdin', 'messages to stdout within a second', 'bytes to stdout within a second']) assert.ok(log.includes(why), `the log says why: ${why}`);
});

test('tools - limits: a second call in flight past max_concurrent_per_agent is busy, past the rate limit it is rate limited', async () => {
  const servers = mcpServers(`
- name: bad
  transport: stdio
  command: ${process.execPath}
  args: ["${MISBEHAVING}"]
  allow: ["*"]
  max_concurrent_per_agent: 1
  rate_limit: { agent_calls_per_second: 0.1, agent_burst: 2 }
`);
  await withNode({ mcpServers: servers }, async (ctx) => {
    await deployToolUser(ctx, 'eager');
    const client = new Client(ctx.node.pool);
    const slowRw = client.send('eager', 'request', { server: 'bad', tool: 'slow', arguments: {} });
    // The slow call is in flight once the bridge took it.
    const until = Date.now() + WAIT_MS;
    while ((ctx.node.tools?.list('bad')[0]?.inFlight ?? 0) < 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    const busy = await ask(client, 'eager', { server: 'bad', tool: 'ok', arguments: {} });
    assert.equal(content(busy)['error'], 'CAXTON_ERR_TOOL_BUSY', JSON.stringify(busy));
    assert.match(String(content(busy)['reason']), /eager has 1 calls in flight on MCP server bad/);
    const slow = await client.waitFor((m) => m.in_reply_to === slowRw, WAIT_MS, 'the slow answer');
    assert.equal(content(slow)['text'], 'late');
    // The agent's bucket (2, refilling 0.1/s): the slow call took one, the busy one none (busy is decided first): one more, then none.
    const third = await ask(client, 'eager', { server: 'bad', tool: 'ok', arguments: {} });
    assert.equal(third.performative, 'inform', JSON.stringify(third));
    const limited = await ask(client, 'eager', { server: 'bad', tool: 'ok', arguments: {} });
    assert.equal(content(limited)['error'], 'CAXTON_ERR_TOOL_RATE_LIMITED', JSON.stringify(limited));
    assert.ok((content(limited)['retry_in_ms'] as number) > 0);
    client.close();
  });
});

test('tools - cancel: an agent cancels its call in flight, and gets the failure that says so', async () => {
  const servers = mcpServers(`
- name: bad
  transport: stdio
  command: ${process.execPath}
  args: ["${MISBEHAVING}"]
  allow: ["canceller"]
`);
  const request = JSON.stringify({ performative: 'request', receiver: 'mcp:bad', content: { tool: 'slow', arguments: {} }, reply_with: 'r-1', conversation_id: 'c-1' });
  const cancel = JSON.stringify({ performative: 'cancel', receiver: 'mcp:bad', content: 'stop', in_reply_to: 'r-1', conversation_id: 'c-1' });
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  // Sends the request on its first message and the cancel on its second; keeps the last message it got.
  const canceller = await wat(`(module
    (import "caxton" "send" (func $send (param i32 i32) (result i32)))
    (import "caxton" "kv_set" (func $kvs (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 0) "last")
    (data (i32.const 16) "${esc(request)}")
    (data (i32.const 1024) "${esc(cancel)}")
    (global $n (mut i32) (i32.const 0))
    (func (export "caxton_abi_version") (result i32) i32.const 1)
    (func (export "caxton_alloc") (param i32) (result i32) i32.const 8192)
    (func (export "handle_message") (param $p i32) (param $len i32) (result i32)
      (drop (call $kvs (i32.const 0) (i32.const 4) (local.get $p) (local.get $len)))
      (if (i32.eqz (global.get $n)) (then (drop (call $send (i32.const 16) (i32.const ${Buffer.byteLength(request)})))))
      (if (i32.eq (global.get $n) (i32.const 1)) (then (drop (call $send (i32.const 1024) (i32.const ${Buffer.byteLength(cancel)})))))
      (global.set $n (i32.add (global.get $n) (i32.const 1)))
      (i32.const 0)))`);
  await withNode({ mcpServers: servers }, async (ctx) => {
    await ctx.node.deployments.deploy({ name: 'canceller', module: canceller });
    const client = new Client(ctx.node.pool);
    const store = new SqliteAgentStateStore(ctx.node.databasePath);
    client.send('canceller', 'inform', 'start');
    const until = Date.now() + WAIT_MS;
    while ((ctx.node.tools?.list('bad')[0]?.inFlight ?? 0) < 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.equal(ctx.node.tools?.list('bad')[0]?.inFlight, 1, 'the slow call is in flight');
    client.send('canceller', 'inform', 'cancel it');
    let last: Record<string, unknown> | undefined;
    while (Date.now() < until) {
      const v = store.get('canceller', new TextEncoder().encode('last'));
      last = v === undefined ? undefined : (JSON.parse(new TextDecoder().decode(v)) as Record<string, unknown>);
      if (last?.['sender'] === 'mcp:bad') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(last?.['performative'], 'failure', JSON.stringify(last));
    assert.equal(last?.['in_reply_to'], 'r-1');
    const c = last?.['content'] as Record<string, unknown>;
    assert.equal(c['error'], 'CAXTON_ERR_TOOL_TIMEOUT');
    assert.equal(c['cancelled'], true, JSON.stringify(c));
    assert.equal(ctx.node.tools?.list('bad')[0]?.inFlight, 0);
    client.close();
  });
});

test('tools - an at-least-once tool call is acknowledged when the bridge takes it, and its redeliveries are dropped: the tool runs once', async () => {
  const servers = mcpServers(`
- name: bad
  transport: stdio
  command: ${process.execPath}
  args: ["${MISBEHAVING}"]
  allow: ["caller-*"]
`);
  await withNode({ mcpServers: servers }, async (ctx) => {
    // The caller is an agent of the node (the bridge answers agents only); its answers are swallowed.
    await ctx.node.deployments.deploy({ name: 'caller-1', module: await sinkAgent() });
    const until = Date.now() + WAIT_MS;
    while (ctx.node.tools?.list('bad')[0]?.state !== 'ready') {
      assert.ok(Date.now() < until, 'the server is ready');
      await new Promise((res) => setTimeout(res, 50));
    }
    const json = JSON.stringify({ message_id: 'alo-tally-1', performative: 'request', sender: 'caller-1', receiver: 'mcp:bad', delivery: 'at-least-once', conversation_id: 'c-alo', reply_with: 'r-alo', content: { tool: 'tally', arguments: {} } });
    // As the node keeps an agent's at-least-once message: in the outbox until it is acknowledged.
    ctx.node.outbox.add('alo-tally-1', 'mcp:bad', json, Date.now() + 60_000);
    ctx.node.pool.router.send('caller-1', 'mcp:bad', json, NORMAL);
    // The outbox's redeliveries of the same message (an acknowledgement it did not hear in time).
    assert.equal(ctx.node.pool.router.redelivery.deliver('mcp:bad', json), true);
    assert.equal(ctx.node.pool.router.redelivery.deliver('mcp:bad', json), true);
    await new Promise((res) => setImmediate(res)); // the bridge takes messages in a microtask
    assert.equal(ctx.node.outbox.has('alo-tally-1'), false, 'acknowledged when taken');
    // Calls reach the server in the order the bridge takes them: a redelivery that ran would be counted before this one.
    const r = await ctx.node.tools?.callAsOperator('bad', 'tally', {}, { name: 'test', kind: 'key' });
    assert.deepEqual(r?.content, [{ type: 'text', text: '2' }], 'the tool ran once for the agent, once for the operator');
    const audit = (await ctx.call('GET', '/audit?action=tool.call&limit=100')).body.entries as { actor: string; target: string }[];
    assert.deepEqual(audit.map((e) => `${e.actor} ${e.target}`), ['caller-1 bad/tally', 'test bad/tally']);
  });
});
