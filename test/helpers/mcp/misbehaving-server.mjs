// An MCP server over stdio that misbehaves on request, for the bridge's tests (test/integration/tools.test.ts):
//   ok      -> "fine"                       pid    -> this process's pid (a restart changes it)
//   crash   -> the process exits (code 3) without answering
//   garbage -> writes a line that is not JSON-RPC to stdout
//   flood   -> writes 9 MiB to stdout without a line break
//   slow    -> answers after 3 s
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

const server = new McpServer({ name: 'misbehaving', version: '1.0.0' });
const text = (t) => ({ content: [{ type: 'text', text: t }] });
server.registerTool('ok', { description: 'answers fine' }, async () => text('fine'));
server.registerTool('pid', { description: 'the process id' }, async () => text(String(process.pid)));
server.registerTool('crash', { description: 'exits mid-call' }, async () => {
  process.exit(3);
});
server.registerTool('garbage', { description: 'writes garbage' }, async () => {
  process.stdout.write('this is not JSON-RPC at all\n');
  return new Promise(() => {});
});
server.registerTool('flood', { description: 'floods stdout' }, async () => {
  const chunk = 'x'.repeat(1024 * 1024);
  for (let i = 0; i < 9; i++) process.stdout.write(chunk);
  return new Promise(() => {});
});
server.registerTool('slow', { description: 'answers after 3 s' }, async () => new Promise((r) => setTimeout(() => r(text('late')), 3000)));
if (process.env.MISBEHAVING_SECRET !== undefined) process.stderr.write(`starting with secret ${process.env.MISBEHAVING_SECRET}\n`);
await server.connect(new StdioServerTransport());
