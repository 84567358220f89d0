/**
 * The releases directory (docs/operations.md, "Upgrading Caxton"): one complete install of Caxton per
 * version, and `current` (a symbolic link to the running one) and `previous` (the one before it):
 *
 *     <releases>/0.3.0/{package.json, bin/caxton.js, dist/, node_modules/, build/}
 *     <releases>/0.4.0/...
 *     <releases>/current  -> 0.4.0
 *     <releases>/previous -> 0.3.0
 *
 * The supervisor (src/cli/supervisor.ts) starts `<releases>/current/bin/caxton.js`; a node checks here
 * that a version is installed before it hands its agents over to switch to it.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { CaxtonError } from '../../errors.js';

/** `1.2.0`, `v1.2.0`, `1.2.0-rc.1`: a semver, the `v` optional. Also keeps a version from being a path. */
export const VERSION_PATTERN = '^v?\\d{1,6}\\.\\d{1,6}\\.\\d{1,6}(-[0-9A-Za-z.-]{1,64})?$';
const VERSION_RE = new RegExp(VERSION_PATTERN);

export const CURRENT = 'current';
export const PREVIOUS = 'previous';

/** The version as directories and package.json spell it: without the `v` (`v1.2.0` is `1.2.0`). */
export function normalizeVersion(v: string): string {
  if (!VERSION_RE.test(v)) throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', `"${v}" is not a release version: give one such as 1.2.0 or v1.2.0`);
  return v.startsWith('v') ? v.slice(1) : v;
}

/** What is missing for `version` to run from `<root>/<version>`; undefined when it is complete. */
export function releaseProblem(root: string, version: string): string | undefined {
  const dir = join(root, version);
  if (!existsSync(dir)) return `${dir} does not exist`;
  for (const f of ['package.json', join('bin', 'caxton.js'), join('dist', 'cli', 'main.js'), 'node_modules']) {
    if (!existsSync(join(dir, f))) return `${join(dir, f)} is missing`;
  }
  let found: unknown;
  try {
    found = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: unknown }).version;
  } catch (e) {
    return `${join(dir, 'package.json')} is not readable JSON (${(e as Error).message})`;
  }
  if (found !== version) return `${join(dir, 'package.json')} says version ${String(found)}, not ${version}`;
  return undefined;
}

/** Versions installed under `root` (complete ones only), sorted. */
export function installedReleases(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => (d.isDirectory() || d.isSymbolicLink()) && d.name !== CURRENT && d.name !== PREVIOUS && VERSION_RE.test(d.name) && !d.name.startsWith('v'))
    .map((d) => d.name)
    .filter((v) => releaseProblem(root, v) === undefined)
    .sort();
}

/** The version a link (`current` or `previous`) points at; undefined without the link. */
export function linkedVersion(root: string, link: string = CURRENT): string | undefined {
  const p = join(root, link);
  try {
    if (!lstatSync(p).isSymbolicLink()) return undefined;
  } catch {
    return undefined;
  }
  return basename(resolve(root, readlinkSync(p)));
}

/**
 * Points `current` at `version` and `previous` at what `current` was. Each link is replaced by a
 * rename over it, so a reader (or a crash) sees the old link or the new one, never none.
 */
export function switchCurrent(root: string, version: string): { previous: string | undefined } {
  const problem = releaseProblem(root, version);
  if (problem !== undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_UPGRADE_RELEASE_MISSING', `release ${version} is not installed: ${problem}`, { version });
  const was = linkedVersion(root, CURRENT);
  if (was !== undefined && was !== version) replaceLink(root, PREVIOUS, was);
  replaceLink(root, CURRENT, version);
  return { previous: was === version ? linkedVersion(root, PREVIOUS) : was };
}

function replaceLink(root: string, link: string, version: string): void {
  const tmp = join(root, `.${link}.${process.pid}`);
  rmSync(tmp, { force: true });
  // Relative: the directory can move (or be mounted elsewhere) as a whole.
  symlinkSync(version, tmp);
  renameSync(tmp, join(root, link));
}
