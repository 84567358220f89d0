/**
 * Caxton as an MCP server (`caxton mcp serve`, docs/tools.md "Caxton as an MCP server"): an MCP client
 * (an IDE, an assistant) drives a node through its REST API, with the caller's API key. Each tool is
 * one or two API calls; the API checks the key's role on every call, so a tool that changes state
 * answers the API's CAXTON_ERR_API_FORBIDDEN (as a tool error) to a key without the role. Each tool
 * says which permission it needs, and read-only tools are marked so.
 *
 * Built on the SDK's low-level Server with JSON Schemas: the tool list is data, and nothing here needs
 * a schema library.
 */
import { readFileSync } from 'node:fs';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { ApiClient } from './client.js';
import { CliError } from './errors.js';
import { VERSION } from '../version.js';

/** The largest text a tool answers with (a metrics page, a long trace): cut beyond, with a note. */
const MAX_TEXT = 200_000;

interface ToolDef {
  readonly tool: Tool;
  readonly run: (api: ApiClient, args: Record<string, unknown>) => Promise<unknown>;
}

const str = (description: string) => ({ type: 'string', description, minLength: 1 });

const TOOLS: readonly ToolDef[] = [
  {
    tool: {
      name: 'list_agents',
      description: 'The agents of the node (of the cluster, on a clustered node): name, state, node, restarts, messages. Needs the read permission (any role).',
      inputSchema: { type: 'object', properties: { state: str('only agents in this state: running, suspended, failed, ...') } },
      annotations: { readOnlyHint: true },
    },
    run: (api, a) => api.get('/agents', typeof a['state'] === 'string' ? { state: a['state'] } : {}),
  },
  {
    tool: {
      name: 'deploy_agent',
      description: 'Deploys a WebAssembly agent: from a .wasm file on this machine (wasm_file) or base64 bytes (wasm_base64). Needs the deploy permission (developer or admin role).',
      inputSchema: {
        type: 'object',
        properties: {
          name: str('the agent\'s name, unique on the node'),
          wasm_file: str('path of the .wasm file, on the machine that runs caxton mcp serve'),
          wasm_base64: str('the module\'s bytes in base64, instead of wasm_file'),
          config: { type: 'object', description: 'the configuration handed to agent_init' },
          start: { type: 'boolean', description: 'start taking messages at once (default true)' },
        },
        required: ['name'],
      },
      annotations: { readOnlyHint: false, destructiveHint: false },
    },
    run: (api, a) => {
      const module = typeof a['wasm_base64'] === 'string' ? a['wasm_base64'] : typeof a['wasm_file'] === 'string' ? readWasm(a['wasm_file']) : undefined;
      if (module === undefined) throw new CliError('deploy_agent needs wasm_file (a path) or wasm_base64 (the bytes)', { code: 'CAXTON_CLI_USAGE' });
      return api.post('/agents', { name: a['name'], module, ...(a['config'] === undefined ? {} : { config: a['config'] }), ...(a['start'] === undefined ? {} : { start: a['start'] }) }, { timeoutMs: 180_000 });
    },
  },
  {
    tool: {
      name: 'suspend_agent',
      description: 'Suspends an agent: it keeps its state and queued messages and handles none until resumed. Needs the control permission (operator or admin role).',
      inputSchema: { type: 'object', properties: { name: str('the agent') }, required: ['name'] },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
    },
    run: (api, a) => api.post(`/agents/${encodeURIComponent(String(a['name']))}/suspend`),
  },
  {
    tool: {
      name: 'resume_agent',
      description: 'Resumes a suspended agent. Needs the control permission (operator or admin role).',
      inputSchema: { type: 'object', properties: { name: str('the agent') }, required: ['name'] },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
    },
    run: (api, a) => api.post(`/agents/${encodeURIComponent(String(a['name']))}/resume`),
  },
  {
    tool: {
      name: 'send_message',
      description:
        'Sends a FIPA-ACL message to an agent (receiver) or a capability, and by default waits for the reply. Needs the send permission (developer, operator or admin role).',
      inputSchema: {
        type: 'object',
        properties: {
          receiver: str('the agent'),
          capability: str('a capability instead of a receiver'),
          performative: { type: 'string', description: 'request, inform, query-ref, ... (default request)' },
          content: { description: 'the content: any JSON value but null and ""' },
          conversation_id: str('the conversation (default: a new one)'),
          wait_reply: { type: 'boolean', description: 'wait for the reply (default true)' },
          timeout_ms: { type: 'integer', minimum: 1, maximum: 300_000, description: 'how long to wait for it (default 30000)' },
        },
        required: ['content'],
      },
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    run: (api, a) => {
      const wait = a['wait_reply'] !== false;
      const msg: Record<string, unknown> = { performative: a['performative'] ?? 'request', content: a['content'] };
      for (const k of ['receiver', 'capability', 'conversation_id'] as const) if (a[k] !== undefined) msg[k] = a[k];
      const timeout = typeof a['timeout_ms'] === 'number' ? a['timeout_ms'] : 30_000;
      const q = wait ? `?wait_reply=true&timeout_ms=${timeout}` : '';
      return api.post(`/messages${q}`, msg, { timeoutMs: timeout + 10_000 });
    },
  },
  {
    tool: {
      name: 'get_trace',
      description: 'The trace of a conversation: its messages in order, with sender, receiver, performative and what happened to each. Needs the read permission.',
      inputSchema: { type: 'object', properties: { conversation_id: str('the conversation') }, required: ['conversation_id'] },
      annotations: { readOnlyHint: true },
    },
    run: (api, a) => api.get(`/conversations/${encodeURIComponent(String(a['conversation_id']))}`),
  },
  {
    tool: {
      name: 'read_metrics',
      description: 'The node\'s Prometheus metrics (text format), optionally only the lines whose metric name starts with a prefix (e.g. caxton_agent_, caxton_tool_). Needs the read permission.',
      inputSchema: { type: 'object', properties: { prefix: str('only metrics whose name starts with this') } },
      annotations: { readOnlyHint: true },
    },
    run: async (api, a) => {
      // Through the API (its key, its TLS, its host), not the node's Prometheus listener, which is
      // unauthenticated and may be on a loopback address of another machine.
      const text = await (await api.send('GET', '/metrics')).text();
      const prefix = typeof a['prefix'] === 'string' ? a['prefix'] : '';
      if (prefix === '') return text;
      return text
        .split('\n')
        .filter((l) => l.startsWith(prefix) || l.startsWith(`# HELP ${prefix}`) || l.startsWith(`# TYPE ${prefix}`))
        .join('\n');
    },
  },
];

/** The MCP server over `transport`, answering with `api` (the caller's key). Resolves once it is connected. */
export async function serveMcp(api: ApiClient, transport: Transport): Promise<Server> {
  const server = new Server({ name: 'caxton', version: VERSION }, { capabilities: { tools: {} }, instructions: 'Caxton: a server for multi-agent systems. These tools drive one node through its API with your API key; state-changing tools need its role.' });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: TOOLS.map((t) => t.tool) }));
  server.setRequestHandler(CallToolRequestSchema, async (req): Promise<CallToolResult> => {
    const def = TOOLS.find((t) => t.tool.name === req.params.name);
    if (def === undefined) return errorResult(`no tool named ${req.params.name}; the tools are ${TOOLS.map((t) => t.tool.name).join(', ')}`);
    try {
      const out = await def.run(api, req.params.arguments ?? {});
      return { content: [{ type: 'text', text: cut(typeof out === 'string' ? out : JSON.stringify(out, null, 2)) }] };
    } catch (e) {
      // The API's refusal (a role the key lacks, an unknown agent, ...) is the tool's error, with its code.
      const err = e as { code?: unknown; message?: unknown; hint?: unknown };
      const code = typeof err.code === 'string' ? `${err.code}: ` : '';
      const hint = typeof err.hint === 'string' ? `\n${err.hint}` : '';
      return errorResult(`${code}${String(err.message ?? e)}${hint}`);
    }
  });
  await server.connect(transport);
  return server;
}

function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

function cut(text: string): string {
  return text.length <= MAX_TEXT ? text : `${text.slice(0, MAX_TEXT)}\n… (${text.length - MAX_TEXT} more characters not shown)`;
}

function readWasm(path: string): string {
  try {
    return readFileSync(path).toString('base64');
  } catch (e) {
    throw new CliError(`cannot read ${path}: ${(e as Error).message}`, { code: 'CAXTON_CLI_USAGE' });
  }
}
