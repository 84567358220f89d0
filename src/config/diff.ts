/**
 * `caxton config diff` and `caxton config show`: flat differences between two configs, and a copy
 * with secrets masked: every key named like a secret, and every value of an MCP server's `env` and
 * `headers` (which hold the tokens ${VAR} substituted), wherever a config is shown.
 */
import { CaxtonConfigSchema, type CaxtonConfig } from './schema.js';
import { formatPath } from './issues.js';
import type { UnitSpec } from './kinds.js';
import { leafPaths, schemaAt, valueAt } from './paths.js';
import { checkDuration, checkSize } from './units.js';

export interface ConfigDifference {
  /** Dotted key, e.g. `messaging.queue_size`. */
  readonly key: string;
  readonly running: unknown;
  readonly baseline: unknown;
}

export const REDACTED = '***';

/** Keys whose values are secrets: any key whose name contains key, secret, password or token. */
const SECRET_KEY_RE = /key|secret|password|token/i;

export function isSecretKey(name: string): boolean {
  return SECRET_KEY_RE.test(name);
}

/** Mappings whose every value is a secret whatever its name (an MCP server's env and headers): the names show, the values do not. */
const SECRET_MAPPINGS = new Set(['env', 'headers']);

/**
 * Every key whose value differs, in schema order. Sizes and durations are compared by what they
 * mean ("64MiB" equals 67108864; "1m" equals "60s"), lists of unique items regardless of order.
 * Values are shown as written; secrets are masked unless `redact` is false.
 */
export function diffConfig(running: CaxtonConfig, baseline: CaxtonConfig, options: { redact?: boolean } = {}): ConfigDifference[] {
  const redact = options.redact ?? true;
  const out: ConfigDifference[] = [];
  for (const path of leafPaths(CaxtonConfigSchema)) {
    const a = valueAt(running, path);
    const b = valueAt(baseline, path);
    if (same(path, a, b)) continue;
    const secret = redact && path.some(isSecretKey);
    // A list of mappings (integrations.mcp.servers) is one value here: its secrets are inside it.
    const shown = (v: unknown) => (secret ? mask(v) : redact ? redactValue(v, false) : v);
    out.push({ key: formatPath(path), running: shown(a), baseline: shown(b) });
  }
  return out;
}

/** A deep copy with the value of every secret key (and everything below one) replaced by "***"; empty values stay empty so "not set" still shows. */
export function redactConfig<T>(config: T): T {
  return redactValue(config, false) as T;
}

function redactValue(v: unknown, secret: boolean): unknown {
  if (Array.isArray(v)) return v.map((x) => redactValue(x, secret));
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => {
        if (SECRET_MAPPINGS.has(k) && x !== null && typeof x === 'object' && !Array.isArray(x)) {
          return [k, Object.fromEntries(Object.entries(x).map(([name, value]) => [name, mask(value)]))];
        }
        return [k, redactValue(x, secret || isSecretKey(k))];
      }),
    );
  }
  return secret ? mask(v) : v;
}

function mask(v: unknown): unknown {
  return v === null || v === undefined || v === '' ? v : REDACTED;
}

function same(path: readonly string[], a: unknown, b: unknown): boolean {
  const schema = schemaAt(CaxtonConfigSchema, path);
  const unit = schema?.['unit'] as UnitSpec | undefined;
  if (unit !== undefined) {
    const check = unit.kind === 'bytes' ? checkSize : checkDuration;
    const x = check(a);
    const y = check(b);
    if ('value' in x && 'value' in y) return x.value === y.value;
  }
  if (Array.isArray(a) && Array.isArray(b) && schema?.['uniqueItems'] === true) {
    return JSON.stringify([...a].map(String).sort()) === JSON.stringify([...b].map(String).sort());
  }
  return JSON.stringify(a) === JSON.stringify(b);
}
