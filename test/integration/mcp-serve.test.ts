/**
 * `caxton mcp serve` driven by the MCP SDK's own client over stdio, against a real server process:
 * the tool list, list/deploy/suspend/resume agents, a message and its reply, the conversation's
 * trace, the metrics; and a viewer's key refused the tools that change state.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { api, startServer, type RunningServer } from '../helpers/server.js';
import { caxtonArgs } from '../helpers/caxton-command.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
let srv: RunningServer;

before(async () => {
  // The node's own Prometheus listener is off: read_metrics must reach the metrics through the API
  // (its key, TLS and host), as it must for a node on another machine.
  srv = await startServer({ args: ['--set', 'observability.metrics.enabled=false'] });
  assert.equal(srv.metricsUrl, '', 'the Prometheus listener is off');
});

after(async () => {
  const code = await srv.stop();
  srv.cleanup();
  assert.equal(code, 0);
});

/** `caxton mcp serve` as an MCP client starts it: a child process, with the key in its environment. */
async function connect(key: string): Promise<Client> {
  const client = new Client({ name: 'test-ide', version: '1.0.0' });
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '', CAXTON_API_URL: srv.apiUrl, CAXTON_API_KEY: key };
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [...caxtonArgs, 'mcp', 'serve'], env, cwd: root, stderr: 'pipe' }));
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<{ text: string; isError: boolean }> {
  const r = (await client.callTool({ name, arguments: args }, undefined, { timeout: 60_000 })) as CallToolResult;
  const first = r.content[0];
  return { text: first?.type === 'text' ? first.text : '', isError: r.isError === true };
}

test('mcp serve - an MCP client drives the node: agents, a message and its reply, the trace, the metrics', async () => {
  const client = await connect(srv.adminKey);
  try {
    const tools = (await client.listTools()).tools;
    assert.deepEqual(tools.map((t) => t.name), ['list_agents', 'deploy_agent', 'suspend_agent', 'resume_agent', 'send_message', 'get_trace', 'read_metrics']);
    assert.equal(tools.find((t) => t.name === 'list_agents')?.annotations?.readOnlyHint, true);

    const deployed = await call(client, 'deploy_agent', { name: 'echo', wasm_file: join(root, 'build', 'agents', 'echo.wasm') });
    assert.equal(deployed.isError, false, deployed.text);
    assert.equal(JSON.parse(deployed.text).state, 'running');
    const list = JSON.parse((await call(client, 'list_agents')).text) as { agents: { name: string; state: string }[] };
    assert.deepEqual(list.agents.map((a) => `${a.name}:${a.state}`), ['echo:running']);

    const sent = await call(client, 'send_message', { receiver: 'echo', content: { hello: 'mcp' }, conversation_id: 'conv-mcp-1' });
    assert.equal(sent.isError, false, sent.text);
    const reply = JSON.parse(sent.text) as { reply: { performative: string; content: unknown; sender: string } };
    assert.deepEqual([reply.reply.performative, reply.reply.sender, reply.reply.content], ['inform', 'echo', { hello: 'mcp' }]);
    const trace = await call(client, 'get_trace', { conversation_id: 'conv-mcp-1' });
    assert.equal(trace.isError, false, trace.text);
    assert.match(trace.text, /conv-mcp-1/);
    assert.match(trace.text, /"inform"/);

    assert.equal((await call(client, 'suspend_agent', { name: 'echo' })).isError, false);
    assert.equal((await api(srv, 'GET', '/agents/echo')).body.state, 'suspended');
    assert.equal((await call(client, 'resume_agent', { name: 'echo' })).isError, false);
    assert.equal((await api(srv, 'GET', '/agents/echo')).body.state, 'running');

    const metrics = await call(client, 'read_metrics', { prefix: 'caxton_agent_' });
    assert.equal(metrics.isError, false, metrics.text);
    assert.match(metrics.text, /^caxton_agent_crashes_total 0$/m);
    assert.ok(!/^caxton_cluster_/m.test(metrics.text), 'only the prefix asked for');

    const unknown = await call(client, 'suspend_agent', { name: 'nobody' });
    assert.equal(unknown.isError, true);
    assert.match(unknown.text, /CAXTON_ERR_AGENT_NOT_FOUND/);
  } finally {
    await client.close();
  }
});

test('mcp serve - a viewer\'s key reads, and is refused the tools that change state', async () => {
  const created = await api(srv, 'POST', '/keys', { name: 'ide-viewer', role: 'viewer' });
  assert.equal(created.status, 201);
  const client = await connect(created.body.key as string);
  try {
    const list = await call(client, 'list_agents');
    assert.equal(list.isError, false, list.text);
    const metrics = await call(client, 'read_metrics', { prefix: 'caxton_agent_' });
    assert.equal(metrics.isError, false, metrics.text);
    assert.match(metrics.text, /^caxton_agent_crashes_total 0$/m);
    for (const [tool, args] of [
      ['suspend_agent', { name: 'echo' }],
      ['deploy_agent', { name: 'echo2', wasm_file: join(root, 'build', 'agents', 'echo.wasm') }],
      ['send_message', { receiver: 'echo', content: 'x' }],
    ] as const) {
      const r = await call(client, tool, args);
      assert.equal(r.isError, true, `${tool}: ${r.text}`);
      assert.match(r.text, /CAXTON_ERR_API_FORBIDDEN/, tool);
    }
    assert.equal((await api(srv, 'GET', '/agents/echo')).body.state, 'running');
  } finally {
    await client.close();
  }
});
