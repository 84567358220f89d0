/**
 * `caxton tools list` and `caxton tools call`: the node's MCP servers (docs/tools.md). Servers are
 * declared in the node's config file only; these commands look and test, they cannot add one.
 */
import type { Command } from 'commander';
import { context } from '../context.js';
import { countFooter, renderTable } from '../output.js';
import { parseObjectArg } from '../parse.js';

interface ToolServerView {
  name: string;
  transport: string;
  state: string;
  tools: { name: string; description: string | null }[];
  allow: string[];
  in_flight: number;
  restarts: number;
  last_error: string | null;
}

interface ToolCallView {
  server: string;
  tool: string;
  result: { content?: { type: string; text?: string }[]; structuredContent?: unknown; isError?: boolean };
}

export function registerTools(program: Command): void {
  const tools = program.command('tools').description('the MCP servers that give agents their tools (declared in the node\'s config file)');
  tools
    .command('list')
    .alias('ls')
    .description('the MCP servers, their state, their tools and which agents may use them')
    .option('--server <name>', 'only this server')
    .action(async (opts: { server?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const r = await ctx.client.get<{ node: string; servers: ToolServerView[] }>('/tools', opts.server === undefined ? {} : { server: opts.server });
      ctx.print(r, () => {
        if (r.servers.length === 0) return 'No MCP servers: the node\'s configuration lists none (integrations.mcp.servers, docs/tools.md).\n';
        const table = renderTable(
          ['SERVER', 'TRANSPORT', 'STATE', 'TOOLS', 'ALLOWED', 'IN FLIGHT', 'RESTARTS', 'LAST ERROR'],
          r.servers.map((s) => [s.name, s.transport, s.state, String(s.tools.length), s.allow.length === 0 ? '(none)' : s.allow.join(' '), String(s.in_flight), String(s.restarts), s.last_error ?? '']),
        );
        const detail = r.servers
          .filter((s) => s.tools.length > 0)
          .map((s) => `\n${s.name}:\n${s.tools.map((t) => `  ${t.name}${t.description === null ? '' : `  ${t.description.split('\n')[0]}`}`).join('\n')}\n`)
          .join('');
        return `${table}${countFooter(r.servers.length, 'server')}\n${opts.server === undefined ? '' : detail}`;
      });
    });
  tools
    .command('call')
    .description('call a tool as an operator, to test it (audited as tool.call; needs the operator role)')
    .argument('<server>', 'the MCP server')
    .argument('<tool>', 'the tool')
    .option('--args <json>', 'the arguments: a JSON object, or @file.json / @file.yaml', '{}')
    .action(async (server: string, tool: string, opts: { args: string }, cmd: Command) => {
      const ctx = context(cmd);
      const args = parseObjectArg(opts.args, '--args');
      const r = await ctx.client.post<ToolCallView>(`/tools/${encodeURIComponent(server)}/${encodeURIComponent(tool)}`, { arguments: args });
      ctx.print(r, () => {
        const parts = (r.result.content ?? []).map((c) => (c.type === 'text' ? (c.text ?? '') : `[${c.type}]`));
        if (r.result.structuredContent !== undefined) parts.push(JSON.stringify(r.result.structuredContent, null, 2));
        return `${parts.join('\n')}\n`;
      });
    });
}
