/** `npm run bench`: runs every benchmark group, prints one table and writes bench/results/latest.json. */
import { printAndSave, type Row } from './report.js';
import { sandboxBenchmarks } from './sandbox.bench.js';
import { messagingBenchmarks } from './messaging.bench.js';
import { apiBenchmarks } from './api.bench.js';

const groups: Record<string, () => Promise<Row[]>> = {
  sandbox: sandboxBenchmarks,
  messaging: messagingBenchmarks,
  api: apiBenchmarks,
};

const wanted = process.argv.slice(2);
const rows: Row[] = [];
for (const [name, run] of Object.entries(groups)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  process.stderr.write(`running ${name} benchmarks...\n`);
  rows.push(...(await run()));
}
printAndSave(rows);
