/**
 * `--set key=value`: one key, as a dotted path (`messaging.queue_size`), and a value read as YAML, so
 * `--set runtime.workers=4` is a number, `--set observability.metrics.enabled=false` a boolean and
 * `--set 'coordination.cluster.seeds=[10.0.0.1:7946, 10.0.0.2:7946]'` a list. No `${VAR}`
 * substitution here: the shell has done it. Later --set arguments win over earlier ones.
 */
import { parseDocument } from 'yaml';
import { formatPath, type ConfigIssue, type ConfigPath } from './issues.js';
import { put } from './merge.js';

export interface SetOverride {
  readonly path: readonly string[];
  readonly value: unknown;
  /** The argument as given, for messages. */
  readonly arg: string;
  readonly index: number;
}

const KEY_RE = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;

export function parseSets(sets: readonly string[]): { overrides: SetOverride[]; issues: ConfigIssue[] } {
  const overrides: SetOverride[] = [];
  const issues: ConfigIssue[] = [];
  sets.forEach((arg, index) => {
    const where = { set: arg, index };
    const eq = arg.indexOf('=');
    const key = eq < 0 ? arg : arg.slice(0, eq).trim();
    if (eq < 0 || !KEY_RE.test(key)) {
      issues.push({ where, message: 'write key=value with a dotted key, for example --set messaging.queue_size=5000' });
      return;
    }
    const doc = parseDocument(arg.slice(eq + 1), { prettyErrors: false });
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem !== undefined) {
      issues.push({ where, message: `${key}: the value is not valid YAML: ${problem.message.split('\n')[0]}` });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      issues.push({ where, message: `${key}: the value is not valid YAML: ${(e as Error).message}` });
      return;
    }
    overrides.push({ path: key.split('.'), value, arg, index });
  });
  return { overrides, issues };
}

/** Writes the overrides into `data` (the file's tree, or null for no file); returns the new tree. */
export function applySets(data: unknown, overrides: readonly SetOverride[]): { data: unknown; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  let root = data ?? {};
  for (const o of overrides) {
    if (!isPlainObject(root)) {
      issues.push({ where: { set: o.arg, index: o.index }, message: `cannot set ${o.path.join('.')}: the configuration is not a mapping` });
      continue;
    }
    const blocked = writeAt(root, o.path, o.value);
    if (blocked !== undefined) {
      issues.push({ where: { set: o.arg, index: o.index }, message: `cannot set ${o.path.join('.')}: ${formatPath(blocked)} is a value, not a mapping of keys` });
    }
    root = root as Record<string, unknown>;
  }
  return { data: root, issues };
}

/** Sets path to value, creating mappings on the way; returns the path of a non-mapping in the way. */
function writeAt(root: Record<string, unknown>, path: readonly string[], value: unknown): ConfigPath | undefined {
  let node = root;
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i] as string;
    const next = Object.hasOwn(node, seg) ? node[seg] : undefined;
    if (next === undefined || next === null) {
      const created: Record<string, unknown> = {};
      put(node, seg, created);
      node = created;
    } else if (isPlainObject(next)) {
      node = next;
    } else {
      return path.slice(0, i + 1);
    }
  }
  put(node, path[path.length - 1] as string, value);
  return undefined;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
