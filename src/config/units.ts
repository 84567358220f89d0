/**
 * Sizes and durations as an operator writes them ("64MiB", "250ms", "1h30m") and as code uses them
 * (whole bytes, whole milliseconds).
 *
 * Sizes: a bare number is bytes. SI units are powers of 1000 (KB, MB, GB, TB, or just K, M, G, T) and
 * IEC units powers of 1024 (KiB, MiB, GiB, TiB, or Ki, Mi, Gi, Ti), as in Kubernetes, so "64MB" and
 * "64MiB" mean what they say on the tin; units are case-insensitive (there are no bits here to confuse
 * them with). Durations: a bare number is milliseconds; units ms, s, m, h, d, lower case, and they may
 * be chained ("1h30m"). Either may have a fraction ("1.5GiB", "0.5s") as long as the result is whole.
 */
import { CaxtonError } from '../errors.js';

/** What a check returns: the converted value, or why the input is not one. */
export type UnitResult = { readonly value: number } | { readonly error: string };

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  ki: 1024,
  kib: 1024,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  ti: 1024 ** 4,
  tib: 1024 ** 4,
};

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export const SIZE_UNIT_LIST = 'B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)';
export const DURATION_UNIT_LIST = 'ms, s, m, h, d';

const SIZE_RE = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/;
const DURATION_PART_RE = /(\d+(?:\.\d+)?)\s*([A-Za-zµ]*)\s*/y;

/** Converts a size to whole bytes. */
export function checkSize(input: unknown): UnitResult {
  if (typeof input === 'number') return wholeNumber(input, 'bytes');
  if (typeof input !== 'string') return { error: 'not a number or a string' };
  const m = SIZE_RE.exec(input);
  if (m === null) return { error: `write a number of bytes or a number with a unit: ${SIZE_UNIT_LIST}` };
  const factor = SIZE_UNITS[(m[2] ?? '').toLowerCase()];
  if (factor === undefined) return { error: `unknown size unit "${m[2]}"; use ${SIZE_UNIT_LIST}` };
  return wholeNumber(Number(m[1]) * factor, 'bytes');
}

/** Converts a duration to whole milliseconds. */
export function checkDuration(input: unknown): UnitResult {
  if (typeof input === 'number') return wholeNumber(input, 'milliseconds');
  if (typeof input !== 'string') return { error: 'not a number or a string' };
  const text = input.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return wholeNumber(Number(text), 'milliseconds');
  if (text === '') return { error: `write a number of milliseconds or a number with a unit: ${DURATION_UNIT_LIST}` };
  let total = 0;
  DURATION_PART_RE.lastIndex = 0;
  while (DURATION_PART_RE.lastIndex < text.length) {
    const m = DURATION_PART_RE.exec(text);
    if (m === null) return { error: `write a number with a unit (${DURATION_UNIT_LIST}), for example 250ms, 5s or 1h30m` };
    const unit = m[2] ?? '';
    const factor = DURATION_UNITS[unit];
    if (factor === undefined) {
      // ns/us exist elsewhere (Go); say why they are refused rather than only that they are.
      const why = /^(ns|us|µs)$/.test(unit) ? '; durations have millisecond resolution' : '';
      return { error: unit === '' ? `"${m[1]}" has no unit; use ${DURATION_UNIT_LIST}` : `unknown duration unit "${unit}"; use ${DURATION_UNIT_LIST}${why}` };
    }
    total += Number(m[1]) * factor;
  }
  return wholeNumber(total, 'milliseconds');
}

function wholeNumber(n: number, unit: string): UnitResult {
  if (!Number.isFinite(n) || n < 0) return { error: `must be 0 or more ${unit}` };
  // Floating-point products such as 0.1 * 1000 must not fail as "not whole"; anything within a
  // millionth of an integer is that integer.
  const rounded = Math.round(n);
  if (Math.abs(n - rounded) > 1e-6) return { error: `is ${n} ${unit}, not a whole number of ${unit}` };
  if (!Number.isSafeInteger(rounded)) return { error: `is too large` };
  return { value: rounded };
}

/** Like checkSize, for callers that want an exception (CLI flags). Throws CAXTON_ERR_CONFIG_INVALID naming the input. */
export function parseSize(input: number | string): number {
  const r = checkSize(input);
  if ('error' in r) throw new CaxtonError('CAXTON_ERR_CONFIG_INVALID', `${JSON.stringify(input)} is not a size: ${r.error}`);
  return r.value;
}

/** Like checkDuration, for callers that want an exception (CLI flags). Throws CAXTON_ERR_CONFIG_INVALID naming the input. */
export function parseDuration(input: number | string): number {
  const r = checkDuration(input);
  if ('error' in r) throw new CaxtonError('CAXTON_ERR_CONFIG_INVALID', `${JSON.stringify(input)} is not a duration: ${r.error}`);
  return r.value;
}

/** Bytes in the largest IEC unit that divides them exactly ("64MiB", "1500B"), for messages. */
export function formatBytes(bytes: number): string {
  for (const [unit, f] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= f && bytes % f === 0) return `${bytes / f}${unit}`;
  }
  return `${bytes}B`;
}

/** Milliseconds in the largest unit that divides them exactly ("5s", "1500ms"), for messages. */
export function formatMs(ms: number): string {
  for (const [unit, f] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= f && ms % f === 0) return `${ms / f}${unit}`;
  }
  return `${ms}ms`;
}
