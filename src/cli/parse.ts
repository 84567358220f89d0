/** Parsers for option values: durations, canary stages, rollback conditions, message content. */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { createRequire } from 'node:module';
import { CliError, EXIT_USAGE, usageError } from './errors.js';
import { requireAddress, type AddressUse } from '../config/address.js';
import { isCaxtonError } from '../errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration such as `250ms`, `30s`, `10m`, `1h`, `1.5s` or `1h30m`, in milliseconds. `0` alone is
 * allowed; any other number needs a unit.
 */
export function parseDuration(text: string, flag = 'duration'): number {
  const s = text.trim();
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos === 0 || pos !== s.length || !Number.isFinite(total)) {
    const bare = /^\d+(\.\d+)?$/.test(s) ? ` (add a unit: ${s}ms, ${s}s, ${s}m or ${s}h)` : '';
    throw usageError(`${flag} takes a duration such as 250ms, 30s, 10m or 1h, got "${text}"${bare}`);
  }
  return Math.round(total);
}

/** A commander argParser for a duration option, in ms. */
export function durationOption(flag: string): (value: string) => number {
  return (value) => parseDuration(value, flag);
}

/** A commander argParser for a whole number of at least `min`. */
export function intOption(flag: string, min = 0): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw usageError(`${flag} takes a whole number of at least ${min}, got "${value}"`);
    }
    return n;
  };
}

export interface CanaryStage {
  percent: number;
  duration_ms: number;
}

/** `"5:5m,25:10m,50:10m"`: percent of traffic, then how long that stage lasts. */
export function parseCanaryStages(text: string): CanaryStage[] {
  const parts = text.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw usageError('--canary-stages is empty', 'Give stages as percent:duration, e.g. "5:5m,25:10m,50:10m".');
  const stages: CanaryStage[] = [];
  for (const part of parts) {
    const m = /^(\d+(?:\.\d+)?)%?:(.+)$/.exec(part);
    if (m === null) {
      throw usageError(`--canary-stages: "${part}" is not percent:duration`, 'Give stages as percent:duration, e.g. "5:5m,25:10m,50:10m".');
    }
    const percent = Number(m[1]);
    if (!(percent >= 1 && percent <= 100)) throw usageError(`--canary-stages: ${m[1]}% is not a percentage from 1 to 100`);
    const previous = stages[stages.length - 1];
    if (previous !== undefined && percent <= previous.percent) {
      throw usageError(`--canary-stages: percentages must increase, ${percent}% follows ${previous.percent}%`);
    }
    stages.push({ percent, duration_ms: parseDuration(m[2]!, `--canary-stages (stage "${part}")`) });
  }
  return stages;
}

export interface RollbackLimits {
  max_error_rate?: number;
  max_p99_ms?: number;
  min_samples?: number;
}

/**
 * `"error_rate>1%,p99>100ms"`: the canary is rolled back when a condition holds. Error rates are a
 * percentage (`1%`) or a fraction (`0.01`); P99 is a duration (`100ms`, `0.5s`) or a number of ms.
 * `min_samples>=N` sets how many messages the canary must see before the limits are judged.
 */
export function parseRollbackOn(text: string): RollbackLimits {
  const limits: RollbackLimits = {};
  const parts = text.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw usageError('--rollback-on is empty', 'Give conditions such as "error_rate>1%,p99>100ms".');
  for (const part of parts) {
    const m = /^([a-z0-9_]+)\s*(>=|>|=)\s*(.+)$/i.exec(part);
    if (m === null) {
      throw usageError(`--rollback-on: "${part}" is not a condition`, 'Write conditions as error_rate>1%, p99>100ms or min_samples>=20, separated by commas.');
    }
    const key = m[1]!.toLowerCase();
    const value = m[3]!.trim();
    switch (key) {
      case 'error_rate':
      case 'errors': {
        const pct = /^(\d+(?:\.\d+)?)%$/.exec(value);
        const rate = pct !== null ? Number(pct[1]) / 100 : Number(value);
        if (!Number.isFinite(rate) || rate < 0 || rate > 1 || value === '') {
          throw usageError(`--rollback-on: error_rate takes a percentage (1%) or a fraction from 0 to 1, got "${value}"`);
        }
        limits.max_error_rate = rate;
        break;
      }
      case 'p99':
      case 'p99_latency':
      case 'latency_p99': {
        const ms = /^\d+(\.\d+)?$/.test(value) ? Number(value) : parseDuration(value, '--rollback-on p99');
        if (!(ms > 0)) throw usageError(`--rollback-on: p99 must be above 0, got "${value}"`);
        limits.max_p99_ms = ms;
        break;
      }
      case 'min_samples':
      case 'samples': {
        const n = Number(value);
        if (!Number.isSafeInteger(n) || n < 1) throw usageError(`--rollback-on: min_samples takes a whole number of at least 1, got "${value}"`);
        limits.min_samples = n;
        break;
      }
      default:
        throw usageError(`--rollback-on: unknown condition "${m[1]}"`, 'Conditions are error_rate (e.g. error_rate>1%), p99 (e.g. p99>100ms) and min_samples (e.g. min_samples>=20).');
    }
  }
  return limits;
}

/** Message content: JSON when it parses as JSON, otherwise the text itself as a JSON string. */
export function parseContent(text: string): unknown {
  if (text === '') throw usageError('--content is empty', 'Content is required: a JSON value such as \'{"op":"add","args":[2,3]}\', or text.');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A JSON object given inline, or `@file` (JSON, or YAML for .yaml/.yml files). */
export function parseObjectArg(text: string, flag: string): Record<string, unknown> {
  let source = text;
  let value: unknown;
  let isYaml = false;
  if (text.startsWith('@')) {
    const file = text.slice(1);
    try {
      source = readFileSync(file, 'utf8');
    } catch (e) {
      throw usageError(`${flag}: cannot read ${file}: ${(e as Error).message}`);
    }
    isYaml = ['.yaml', '.yml'].includes(extname(file).toLowerCase());
  }
  try {
    value = isYaml ? (loadYaml().parse(source) as unknown) : (JSON.parse(source) as unknown);
  } catch (e) {
    throw usageError(`${flag} is not valid ${isYaml ? 'YAML' : 'JSON'}: ${(e as Error).message}`, `Pass a JSON object such as '{"key":"value"}', or @file.json / @file.yaml.`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw usageError(`${flag} must be a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  }
  return value as Record<string, unknown>;
}

/** The yaml package, loaded on first use (only @file.yaml needs it). */
function loadYaml(): typeof import('yaml') {
  return createRequire(import.meta.url)('yaml') as typeof import('yaml');
}

/** Checks a user-supplied regular expression before it goes to the server. */
export function checkRegex(pattern: string, flag: string): string {
  try {
    new RegExp(pattern);
  } catch (e) {
    throw usageError(`${flag} is not a valid regular expression: ${(e as Error).message}`);
  }
  return pattern;
}

/**
 * The candidate nearest to `input` by edit distance (a transposition counts as one edit, as in
 * `similar`), if it is close enough to be a likely typo.
 */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = transpositionDistance(input, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

/**
 * The candidates closest to `input` by spelling: those at the smallest edit distance (a transposition
 * counts as one edit, at most 3), if at least 40 % alike, plus those it is the beginning of (`insp`
 * for inspect). Sorted. The same measure as commander's own suggestions.
 */
export function similar(input: string, candidates: readonly string[]): string[] {
  let best: string[] = [];
  let bestDistance = 4;
  for (const c of new Set(candidates)) {
    if (c.length <= 1) continue;
    const d = transpositionDistance(input, c);
    const length = Math.max(input.length, c.length);
    if ((length - d) / length <= 0.4) continue;
    if (d < bestDistance) {
      bestDistance = d;
      best = [c];
    } else if (d === bestDistance) {
      best.push(c);
    }
  }
  const prefixed = input.length >= 2 ? candidates.filter((c) => c.startsWith(input)) : [];
  return [...new Set([...best, ...prefixed])].sort((a, b) => a.localeCompare(b));
}

/** Edit distance where swapping two neighbouring letters is one edit (optimal string alignment). */
function transpositionDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min((d[i - 1] as number[])[j]! + 1, (d[i] as number[])[j - 1]! + 1, (d[i - 1] as number[])[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, (d[i - 2] as number[])[j - 2]! + 1);
      (d[i] as number[])[j] = v;
    }
  }
  return (d[a.length] as number[])[b.length]!;
}

/**
 * Checks a `host:port` argument with the parser every address goes through (src/config/address.ts),
 * so the CLI refuses a bad one with the node's own words before asking it. The node resolves names.
 */
export function checkAddressArg(text: string, where: string, use: AddressUse = 'peer'): string {
  try {
    requireAddress(text, where, use);
  } catch (e) {
    if (!isCaxtonError(e)) throw e;
    throw new CliError(e.message, { code: e.code, hint: e.hint, exitCode: EXIT_USAGE, ...(e.details === undefined ? {} : { details: { ...e.details } }) });
  }
  return text;
}
