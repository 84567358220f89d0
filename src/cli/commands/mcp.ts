/**
 * `caxton mcp serve`: Caxton as an MCP server over stdio (../mcp-server.ts), for an MCP client that
 * starts it as a child process — an IDE or an assistant — with the caller's API key (the usual
 * --api-url / --api-key / CAXTON_API_KEY). stdout is the protocol: nothing else is printed there.
 */
import type { Command } from 'commander';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { context } from '../context.js';
import { serveMcp } from '../mcp-server.js';

export function registerMcp(program: Command): void {
  const mcp = program.command('mcp').description('Caxton as an MCP server, for IDEs and assistants');
  mcp
    .command('serve')
    .description('serve MCP over stdio: tools to list, deploy, suspend and resume agents, send a message and wait for the reply, read a trace and the metrics, with this API key (its role decides what may change)')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const server = await serveMcp(ctx.client, new StdioServerTransport());
      process.stderr.write('caxton mcp serve: ready on stdio\n');
      // Until the client closes our stdin (it ends the session that way).
      await new Promise<void>((resolve) => {
        process.stdin.once('end', resolve);
        process.stdin.once('close', resolve);
        server.onclose = () => resolve();
      });
      await server.close();
    });
}
