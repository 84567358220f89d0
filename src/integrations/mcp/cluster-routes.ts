/**
 * MCP servers across a cluster (docs/tools.md, "In a cluster"): a server is per node, announced in the
 * node's `mcp` tag (src/cluster/node-tags.ts). An agent uses its own node's server when there is one
 * (the router offers the message to the local bridge first); otherwise the router hands mcp:<server>
 * to an alive node that announces it, in turn, and that node's bridge answers the agent back across
 * the cluster.
 */
import type { NodeName } from '../../messaging/directory.js';
import { mcpServersOf, mcpTag } from '../../cluster/node-tags.js';
import { MCP_PREFIX } from './bridge.js';

export interface TaggedMember {
  readonly name: string;
  readonly status: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** The router's lookup (Router.routeEndpointsTo): the other alive nodes that serve mcp:<server>. */
export function mcpRoutes(members: () => readonly TaggedMember[], self: NodeName): (name: string) => readonly NodeName[] | undefined {
  return (name) => {
    if (!name.startsWith(MCP_PREFIX)) return undefined;
    const server = name.slice(MCP_PREFIX.length);
    const out: NodeName[] = [];
    for (const m of members()) if (m.name !== self && m.status === 'alive' && mcpServersOf(m.tags).includes(server)) out.push(m.name);
    return out;
  };
}

/** The server names this node's tag cannot carry (other nodes will not route to them), for a warning. */
export function unannounced(names: readonly string[]): string[] {
  return mcpTag(names).left;
}
