/** MCP servers for the tool tests: the real ones from npm, and a misbehaving one of ours. */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parseConfigText } from '../../../src/config/index.js';
import type { McpServerOptions } from '../../../src/integrations/mcp/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** @modelcontextprotocol/server-everything (stdio by default). */
export const EVERYTHING_BIN = join(root, 'node_modules', '.bin', 'mcp-server-everything');
/** @modelcontextprotocol/server-memory: a knowledge graph kept in a JSON file (MEMORY_FILE_PATH). */
export const MEMORY_BIN = join(root, 'node_modules', '.bin', 'mcp-server-memory');
/** ./misbehaving-server.mjs: crashes, garbage, floods and slowness on request. */
export const MISBEHAVING = join(root, 'test', 'helpers', 'mcp', 'misbehaving-server.mjs');

/** The servers of an `integrations.mcp.servers` YAML list, resolved as the node gets them from its config file. */
export function mcpServers(yamlList: string, env: NodeJS.ProcessEnv = {}): readonly McpServerOptions[] {
  const indented = yamlList
    .trim()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
  return parseConfigText(`integrations:\n  mcp:\n    servers:\n${indented}\n`, 'test.yaml', env).resolved.integrations.mcp.servers;
}
