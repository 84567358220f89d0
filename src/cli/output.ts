/** Human output: runbook-style tables, sizes, durations, ages; and JSON output. */
import Table from 'cli-table3';

export type OutputFormat = 'table' | 'json';

/** Where command output goes. */
export interface Out {
  write(text: string): void;
}

/** stdout, remembering whether anything was written (an error then is not printed as JSON again). */
export const stdout: Out & { written: boolean } = {
  written: false,
  write(t) {
    if (t === '') return;
    this.written = true;
    process.stdout.write(t);
  },
};

type Cell = string | number | boolean | null | undefined;

/**
 * A borderless table like the runbook's: upper-case headings, columns separated by two spaces or
 * more, no trailing blanks. Numbers and `-` for missing values.
 */
export function renderTable(head: readonly string[], rows: readonly (readonly Cell[])[], opts: { align?: ('left' | 'right')[] } = {}): string {
  const table = new Table({
    head: [...head],
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '    ',
    },
    style: { 'padding-left': 0, 'padding-right': 0, head: [], border: [], compact: true },
    ...(opts.align === undefined ? {} : { colAligns: opts.align }),
  });
  for (const row of rows) table.push(row.map((c) => (c === null || c === undefined || c === '' ? '-' : String(c))));
  return table
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n') + '\n';
}

/** A two-column KEY value listing, for one object (inspect, status). */
export function renderFields(fields: readonly (readonly [string, Cell])[]): string {
  const width = Math.max(0, ...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v === null || v === undefined || v === '' ? '-' : String(v)}`).join('\n') + '\n';
}

export function renderJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

/** `3 agents (2 running, 1 failed)`; the breakdown is left out when it adds nothing. */
export function countFooter(total: number, noun: string, byKind: Record<string, number> = {}): string {
  const word = total === 1 ? noun : pluralize(noun);
  const parts = Object.entries(byKind).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`);
  return parts.length === 0 ? `${total} ${word}` : `${total} ${word} (${parts.join(', ')})`;
}

function pluralize(noun: string): string {
  if (noun.endsWith('y') && !/[aeiou]y$/.test(noun)) return `${noun.slice(0, -1)}ies`;
  if (/(s|x|ch|sh)$/.test(noun)) return `${noun}es`;
  return `${noun}s`;
}

/** Bytes the runbook way: `512B`, `64KB`, `7.2GB`, `16GB` (powers of 1024, one decimal when it matters). */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '-';
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let v = Math.abs(bytes);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const sign = bytes < 0 ? '-' : '';
  if (i === 0) return `${sign}${v}B`;
  const text = v >= 100 ? v.toFixed(0) : v.toFixed(1).replace(/\.0$/, '');
  return `${sign}${text}${units[i]}`;
}

/** A latency in ms, compact: `16µs`, `0.5ms`, `250ms`, `1.2s`. */
export function formatLatency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms === 0) return '0ms';
  if (ms < 1) return `${Math.round(ms * 1000)}µs`;
  if (ms < 10) return `${trimZero(ms.toFixed(1))}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  return formatDuration(ms);
}

/** A duration in ms: `250ms`, `1.2s`, `45s`, `3m 12s`, `2h 5m`, `3d 4h`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${trimZero((ms / 1000).toFixed(1))}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m}m` : `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d}d` : `${d}d ${h % 24}h`;
}

/** How long ago an ISO time was: `45s ago`. */
export function formatAge(iso: string | null | undefined, now = Date.now()): string {
  if (iso === null || iso === undefined) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '-';
  return `${formatDuration(Math.max(0, Math.floor((now - t) / 1000) * 1000))} ago`;
}

/** A time since an ISO instant, without "ago" (uptime). */
export function formatSince(iso: string | null | undefined, now = Date.now()): string {
  if (iso === null || iso === undefined) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '-';
  return formatDuration(Math.max(0, Math.floor((now - t) / 1000) * 1000));
}

export function formatPercent(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  return `${trimZero(value.toFixed(digits))}%`;
}

/** A rate per second, `12.5/s`. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return '-';
  if (perSecond >= 100) return `${formatCount(perSecond)}/s`;
  return `${trimZero(perSecond.toFixed(perSecond >= 10 ? 1 : 2))}/s`;
}

/** A large count with thousands separators: `1,234,567`. */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  return Math.round(n).toLocaleString('en-US');
}

/** The first characters of a UUID or hash, like git's short ids. */
export function shortId(id: string | null | undefined, length = 8): string {
  if (id === null || id === undefined) return '-';
  return id.length > length ? id.slice(0, length) : id;
}

function trimZero(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}
