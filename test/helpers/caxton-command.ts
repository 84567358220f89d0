/**
 * How a test runs the `caxton` command in a child process: the node arguments that come after
 * `process.execPath`.
 *
 * From dist/ through bin/caxton.js, as an installed caxton runs, when the build is current (`npm ci`
 * and `npm run build` make it so); from source under tsx when a file of src/ is newer than its build
 * output, so that a test never runs code older than the tree. The difference is the suite's largest
 * single cost: a server start took 3.9 s of wall time and 5.8 s of CPU under tsx (tsx's hooks load in
 * the main thread and again in every worker thread), 2.1 s from dist/; a CLI call 1.4 s against 0.7 s.
 *
 * CAXTON_TEST_FROM=source or =dist forces one (dist/ must exist).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin', 'caxton.js');
const sourceEntry = join(root, 'test', 'helpers', 'cli-entry.ts');
/** tsx by its file URL: some tests run the CLI in another directory, where a bare `--import tsx` does not resolve. */
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** The first src/ file whose dist/ output is missing or older, or undefined when the build is current. */
export function staleSource(): string | undefined {
  const src = join(root, 'src');
  const dist = join(root, 'dist');
  const walk = (dir: string): string | undefined => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        const found = walk(path);
        if (found !== undefined) return found;
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const out = join(dist, relative(src, path)).replace(/\.ts$/, '.js');
        if (!existsSync(out) || statSync(out).mtimeMs < statSync(path).mtimeMs) return relative(root, path);
      }
    }
    return undefined;
  };
  return walk(src);
}

function chooseDist(): boolean {
  const forced = process.env['CAXTON_TEST_FROM'];
  if (forced === 'source') return false;
  if (forced === 'dist') {
    if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) throw new Error('CAXTON_TEST_FROM=dist, but dist/ is not built: run `npm run build`');
    return true;
  }
  if (forced !== undefined && forced !== '') throw new Error(`CAXTON_TEST_FROM must be "source" or "dist", not "${forced}"`);
  return staleSource() === undefined;
}

/** True when child processes run the built CLI (dist/), false when they run the sources under tsx. */
export const fromDist: boolean = chooseDist();

/** The node arguments, after the node binary, that run `caxton` (its words follow them). */
export const caxtonArgs: readonly string[] = fromDist ? [bin] : ['--import', tsx, sourceEntry];
