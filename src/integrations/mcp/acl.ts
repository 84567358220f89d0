/**
 * Who may use one MCP server (integrations.mcp.servers[].allow): agent name patterns (`*` any run of
 * characters, `?` one) and `capability:<name>` entries, compiled once. Empty: nobody.
 *
 * The name checked is the one the host knows, never what a message claims: the bridge asks only about
 * agents of this node (a worker stamps an agent's sender and refuses any other), see ./bridge.ts.
 */

const CAPABILITY_PREFIX = 'capability:';

export class ToolAcl {
  readonly #patterns: readonly RegExp[];
  readonly #capabilities: ReadonlySet<string>;

  constructor(allow: readonly string[]) {
    const patterns: RegExp[] = [];
    const capabilities = new Set<string>();
    for (const entry of allow) {
      if (entry.startsWith(CAPABILITY_PREFIX)) capabilities.add(entry.slice(CAPABILITY_PREFIX.length));
      else patterns.push(globToRegExp(entry));
    }
    this.#patterns = patterns;
    this.#capabilities = capabilities;
  }

  /** Whether agent `name`, which registered `capabilities`, may use the server. */
  allows(name: string, capabilities: () => readonly string[]): boolean {
    for (const p of this.#patterns) if (p.test(name)) return true;
    if (this.#capabilities.size === 0) return false;
    for (const c of capabilities()) if (this.#capabilities.has(c)) return true;
    return false;
  }
}

export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}
