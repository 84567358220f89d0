// An MCP server over stdio that misbehaves on request, for the bridge's tests (test/integration/tools.test.ts):
//   ok      -> "fine"                       pid    -> this process's pid (a restart changes it)
//   crash   -> the process exits (code 3) without answering
//   garbage -> writes a line that is not JSON-RPC to stdout
//   flood   -> writes 9 MiB to stdout without a line break
//   slow    -> answers after 3 s
//   deaf    -> stops reading stdin, then sends 120 pings with 100 KB ids (their answers pile up at the node)
//   chatty  -> writes 20,000 small notifications at once (more messages per second than the node takes)
//   bigline -> writes one line of 8 MiB + 16 bytes
//   fat     -> writes five valid 7 MiB notifications at once (more bytes per second than the node takes)
//   storm   -> sends notifications/tools/list_changed 2,000 times, then answers "stormed"
//   lists   -> how many tools/list requests it was sent so far
//   tally   -> how many times tally was called, this call included (a call that ran twice shows)
//   hugeerror -> answers its call with a JSON-RPC error (-32603) whose message is 2 MB (written by hand: the SDK
//              would wrap a thrown error as a tool result)
//   helper  -> starts a helper process that shares its stdio (as npx or a shell wrapper would) and answers its pid
//   leak    -> writes MISBEHAVING_SECRET to stderr, and fails with an error whose message holds it
//              (the node must show only *** for it; it also writes it to stderr when it starts)
//   shaped  -> structuredContent {"s": "a"} against an outputSchema whose pattern says ^b$ (its own
//              check, zod, does not look at the pattern: a server whose schema the node must not run)
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';
import { spawn } from 'node:child_process';

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
server.registerTool('deaf', { description: 'never reads its stdin again' }, async () => {
  process.stdin.pause();
  setInterval(() => {}, 1000); // alive with stdin paused (nothing else would keep it running)
  const id = 'i'.repeat(100 * 1024);
  for (let i = 0; i < 120; i++) process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', id: `${id}${i}`, method: 'ping' })}\n`);
  return new Promise(() => {});
});
server.registerTool('chatty', { description: 'too many messages' }, async () => {
  process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/chatter' })}\n`.repeat(20_000));
  return new Promise(() => {});
});
server.registerTool('bigline', { description: 'one line past the limit' }, async () => {
  process.stdout.write(`${'x'.repeat(8 * 1024 * 1024 + 16)}\n`);
  return new Promise(() => {});
});
server.registerTool('fat', { description: 'too many bytes per second' }, async () => {
  const line = `${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/fat', params: { pad: 'p'.repeat(7 * 1024 * 1024) } })}\n`;
  // 35 MB: more than the node allows a server in a second (32 MiB; its test lowers that to 12 MiB).
  for (let i = 0; i < 5; i++) process.stdout.write(line);
  return new Promise(() => {});
});
let lists = 0;
let hugeErrorId;
process.stdin.on('data', (chunk) => {
  const text = chunk.toString('utf8');
  lists += text.split('"method":"tools/list"').length - 1;
  const call = /\{[^\n]*"name":"hugeerror"[^\n]*\}/.exec(text);
  if (call !== null) hugeErrorId = JSON.parse(call[0]).id;
});
server.registerTool('hugeerror', { description: 'a 2 MB JSON-RPC error' }, async () => {
  process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', id: hugeErrorId, error: { code: -32603, message: `E${'e'.repeat(2_000_000)}` } })}\n`);
  return new Promise(() => {});
});
server.registerTool('storm', { description: 'says its tools changed, many times' }, async () => {
  for (let i = 0; i < 2000; i++) server.sendToolListChanged();
  return text('stormed');
});
let tallies = 0;
server.registerTool('tally', { description: 'counts its calls' }, async () => text(String(++tallies)));
server.registerTool('lists', { description: 'tools/list requests so far' }, async () => text(String(lists)));
server.registerTool('shaped', { description: 'structured content its schema refuses', outputSchema: { s: z.string().meta({ pattern: '^b$' }) } }, async () => ({
  content: [{ type: 'text', text: 'a' }],
  structuredContent: { s: 'a' },
}));
server.registerTool('leak', { description: 'tells its secret' }, async () => {
  process.stderr.write(`leaking ${process.env.MISBEHAVING_SECRET}\n`);
  throw new Error(`the secret is ${process.env.MISBEHAVING_SECRET}`);
});
server.registerTool('helper', { description: 'a helper process holding its stdio' }, async () => {
  const helper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'inherit' });
  return text(String(helper.pid));
});
if (process.env.MISBEHAVING_SECRET !== undefined) process.stderr.write(`starting with secret ${process.env.MISBEHAVING_SECRET}\n`);
await server.connect(new StdioServerTransport());
