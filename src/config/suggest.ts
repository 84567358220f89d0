/**
 * "Did you mean" for unknown keys: a key from the 0.1.x config that moved, the same key name in
 * another section, or a near-miss spelling of a sibling; failing all three, the keys allowed there.
 */
import type { TSchema } from '@sinclair/typebox';
import { formatPath, type ConfigPath } from './issues.js';
import { leafPaths, propertiesAt } from './paths.js';

/** Keys of the 0.1.x spec's config (section 9) that live elsewhere here: [new key, what changed]. */
const MOVED: Readonly<Record<string, readonly [string, string?]>> = {
  'server.host': ['server.api_addr', 'host and port are one key there, "host:port"'],
  'server.port': ['server.api_addr', 'host and port are one key there, "host:port"'],
  'server.metrics_port': ['server.metrics_addr', 'a "host:port"'],
  'runtime.default_agent_timeout': ['runtime.max_call_duration'],
  'runtime.max_execution_time': ['runtime.max_call_duration'],
  'messaging.retry_attempts': ['messaging.max_deliveries'],
  'messaging.delivery_timeout': ['messaging.redeliver_after'],
  'security.rate_limiting': ['security.api.rate_limit'],
  'security.authentication': ['security.api.auth_enabled'],
  'coordination.cluster.swim': ['coordination.cluster', 'suspicion_mult, gossip_fanout, ... sit directly under it'],
};

/** The text after "unknown key x.y": ` (did you mean x.z?)` or ` (allowed here: a, b, c)`. */
export function suggestKey(root: TSchema, path: ConfigPath): string {
  const dotted = formatPath(path);
  const moved = Object.hasOwn(MOVED, dotted) ? MOVED[dotted] : undefined;
  if (moved !== undefined) return ` (did you mean ${moved[0]}?${moved[1] === undefined ? '' : ` ${moved[1]}`})`;
  const name = String(path[path.length - 1]);
  const parent = path.slice(0, -1);
  const siblings = Object.keys(propertiesAt(root, parent) ?? {});
  const close = siblings
    .map((s) => ({ s, d: editDistance(name.toLowerCase(), s) }))
    .filter(({ s, d }) => d <= Math.max(1, Math.floor(Math.min(name.length, s.length) / 3)))
    .sort((a, b) => a.d - b.d)[0];
  if (close !== undefined) return ` (did you mean ${formatPath([...parent, close.s])}?)`;
  const elsewhere = leafPaths(root).filter((p) => p[p.length - 1] === name);
  if (elsewhere.length > 0) return ` (did you mean ${elsewhere.map(formatPath).join(' or ')}?)`;
  return siblings.length > 0 ? ` (allowed here: ${siblings.join(', ')})` : '';
}

/** Optimal string alignment distance: Levenshtein plus adjacent swaps ("prot" → "port" is 1). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, ((d[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = v;
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}
