/** Benchmark results: a table on stdout and JSON in bench/results/. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { availableParallelism, cpus, totalmem } from 'node:os';

export interface Row {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The DESIGN.md budget, as text, when there is one. */
  readonly budget?: string;
  /** Whether the value meets the budget (undefined when there is none). */
  readonly ok?: boolean;
  readonly note?: string;
}

export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export function sortedCopy(xs: number[]): Float64Array {
  return Float64Array.from(xs).sort();
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1000) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export function printAndSave(rows: Row[], file = 'latest.json'): string {
  const w = [Math.max(...rows.map((r) => r.name.length), 6), 12, 6, 24];
  const line = (a: string, b: string, c: string, d: string, e: string) =>
    `${a.padEnd(w[0]!)}  ${b.padStart(w[1]!)}  ${c.padEnd(w[2]!)}  ${d.padEnd(w[3]!)}  ${e}`;
  const out = [line('metric', 'value', 'unit', 'budget (DESIGN.md)', ''), line('-'.repeat(w[0]!), '-'.repeat(w[1]!), '-'.repeat(w[2]!), '-'.repeat(w[3]!), '--')];
  for (const r of rows) {
    out.push(line(r.name, fmt(r.value), r.unit, r.budget ?? '', r.ok === undefined ? (r.note ?? '') : `${r.ok ? 'ok' : 'OVER'}${r.note ? ` ${r.note}` : ''}`));
  }
  const text = out.join('\n');
  process.stdout.write(`${text}\n`);
  const dir = join(fileURLToPath(new URL('.', import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, file);
  writeFileSync(
    path,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        cpus: availableParallelism(),
        cpu: cpus()[0]?.model,
        memoryBytes: totalmem(),
        rows,
      },
      null,
      2,
    ),
  );
  process.stdout.write(`\nwritten to ${path}\n`);
  return path;
}
