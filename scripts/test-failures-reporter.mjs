// A node:test reporter that `npm test` runs beside TAP: after TAP's summary it repeats each failed
// test, with its file and the first line of its error, so that the end of a long run's output (all a
// CI excerpt may keep) names what failed. Prints nothing when everything passed.
import { relative } from 'node:path';

const MAX_LINES = 50;

export default async function* failures(source) {
  const failed = [];
  for await (const event of source) {
    if (event.type !== 'test:fail') continue;
    const d = event.data;
    const error = d.details?.error;
    const message = String(error?.cause?.message ?? error?.message ?? '').split('\n')[0].slice(0, 300);
    const file = d.file === undefined ? '?' : relative(process.cwd(), d.file);
    failed.push(`${file}: ${'  '.repeat(d.nesting)}${d.name}: ${message}`);
  }
  if (failed.length === 0) return;
  const shown = failed.slice(0, MAX_LINES).map((f) => `#   ${f}`);
  if (failed.length > MAX_LINES) shown.push(`#   ... and ${failed.length - MAX_LINES} more`);
  yield `# failed (${failed.length}):\n${shown.join('\n')}\n`;
}
