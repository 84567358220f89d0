/**
 * Builds a releases directory (docs/operations.md, "Upgrading Caxton") from this checkout's build, for
 * the supervisor and the cluster upgrade: each release is a copy of package.json, bin/, dist/ and
 * build/ with node_modules linked, and may be changed on the way (a bumped version, a patched file),
 * so that one test runs two builds of the server side by side.
 */
import { cpSync, existsSync, readdirSync, readFileSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../../src/version.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface ReleaseSpec {
  readonly version: string;
  /** Text replacements in the release's files (path relative to the release), applied once each; a pattern not found fails. */
  readonly patch?: readonly { readonly file: string; readonly from: string; readonly to: string }[];
}

/** The version after this checkout's (patch + 1). */
export function nextVersion(v: string = VERSION): string {
  const [maj, min, pat] = v.split('-')[0]!.split('.').map(Number) as [number, number, number];
  return `${maj}.${min}.${pat + 1}`;
}

/** Installs `spec` as `<dir>/<version>` from this checkout's build (run `npm run build` first). */
export function installRelease(dir: string, spec: ReleaseSpec): string {
  if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  // The releases run the compiled code: a test of a change in src/ must not quietly run the old build.
  const stale = newestTs(join(root, 'src'));
  if (stale !== undefined && stale.mtimeMs > statSync(join(root, 'dist', 'version.js')).mtimeMs) {
    throw new Error(`dist/ is older than ${stale.path}: run \`npx tsc -p tsconfig.build.json\` (or \`npm run build\`) first`);
  }
  const to = join(dir, spec.version);
  for (const d of ['bin', 'dist', 'build']) cpSync(join(root, d), join(to, d), { recursive: true });
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(to, 'package.json'), JSON.stringify({ ...pkg, version: spec.version }, null, 2));
  // The version a build reports is compiled in.
  const patches = [{ file: 'dist/version.js', from: `VERSION = '${VERSION}'`, to: `VERSION = '${spec.version}'` }, ...(spec.patch ?? [])];
  for (const p of patches) {
    const f = join(to, p.file);
    const text = readFileSync(f, 'utf8');
    if (!text.includes(p.from)) throw new Error(`${p.file}: "${p.from}" not found`);
    writeFileSync(f, text.replace(p.from, p.to));
  }
  symlinkSync(realpathSync(join(root, 'node_modules')), join(to, 'node_modules'));
  return to;
}

/** The most recently changed .ts file under `dir`. */
function newestTs(dir: string): { path: string; mtimeMs: number } | undefined {
  let best: { path: string; mtimeMs: number } | undefined;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.ts')) continue;
    const path = join(e.parentPath, e.name);
    const mtimeMs = statSync(path).mtimeMs;
    if (best === undefined || mtimeMs > best.mtimeMs) best = { path, mtimeMs };
  }
  return best;
}
