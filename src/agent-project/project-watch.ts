/**
 * Watches an agent project's source paths and reports changes in batches: one call after the
 * changes stop for `debounceMs` (an editor's save, `git checkout` or a formatter touches many files
 * at once, and one rebuild is enough for all of them).
 *
 * fs.watch's `recursive` option is not usable on Linux in Node 20, so directories are walked and each
 * gets its own non-recursive watcher; a directory created later is added when it appears. A watched
 * file is watched through its directory, by name, so that an editor that saves by writing a new file
 * and renaming it over the old one (a new inode) is still seen.
 */
import { type FSWatcher, readdirSync, statSync, watch } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import type { AgentProject } from './project-file.js';

/** Quiet time after the last change before a batch is reported, ms. */
export const DEFAULT_DEBOUNCE_MS = 150;
/** Directories watched at most (each costs an inotify watch; the default per-user limit is 8192 on older kernels). */
export const MAX_WATCHED_DIRS = 4000;

export interface WatchOptions {
  /** Absolute paths: directories (watched with everything below them) and files. */
  readonly paths: readonly string[];
  /** Paths whose changes do not count, and directories not walked (build outputs, node_modules). */
  readonly ignore?: (path: string) => boolean;
  /** @default DEFAULT_DEBOUNCE_MS */
  readonly debounceMs?: number;
  /** The changed paths of one batch (absolute, each once, in the order first seen). */
  readonly onChange: (changed: readonly string[]) => void;
  /** Something that cannot be watched (a missing directory, too many directories); watching goes on. */
  readonly onWarning?: (text: string) => void;
}

interface Watched {
  readonly watcher: FSWatcher;
  /** The whole directory (a watched tree), or only these names in it (watched files). */
  all: boolean;
  readonly names: Set<string>;
}

export class ProjectWatcher {
  readonly #opts: WatchOptions;
  readonly #dirs = new Map<string, Watched>();
  readonly #pending = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #warnedLimit = false;

  constructor(opts: WatchOptions) {
    this.#opts = opts;
    for (const p of opts.paths) this.#add(p);
  }

  /** How many directories have a watcher (for tests and the start line). */
  get watchedDirs(): number {
    return this.#dirs.size;
  }

  /** Stops every watcher and drops a batch not yet reported. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#pending.clear();
    for (const w of this.#dirs.values()) w.watcher.close();
    this.#dirs.clear();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #ignored(path: string): boolean {
    return this.#opts.ignore?.(path) === true;
  }

  #add(path: string): void {
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      isDir = false; // not there yet: watched by name in its directory, so its creation counts
    }
    if (isDir) this.#addTree(path);
    else this.#addFile(path);
  }

  #addFile(path: string): void {
    const dir = dirname(path);
    const existing = this.#dirs.get(dir);
    if (existing !== undefined) {
      existing.names.add(basename(path));
      return;
    }
    this.#watchDir(dir, false)?.names.add(basename(path));
  }

  #addTree(root: string): void {
    if (this.#ignored(root)) return;
    const stack = [root];
    while (stack.length > 0) {
      const dir = stack.pop() as string;
      const w = this.#dirs.get(dir);
      if (w !== undefined) w.all = true;
      else if (this.#watchDir(dir, true) === undefined) continue;
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        continue; // removed while walking: its parent's watcher reports that
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory() && !this.#ignored(p)) stack.push(p);
      }
    }
  }

  #watchDir(dir: string, all: boolean): Watched | undefined {
    if (this.#dirs.size >= MAX_WATCHED_DIRS) {
      if (!this.#warnedLimit) this.#opts.onWarning?.(`more than ${MAX_WATCHED_DIRS} directories to watch: changes below ${dir} and further ones are not seen; narrow "watch" in caxton.agent.json`);
      this.#warnedLimit = true;
      return undefined;
    }
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, { persistent: true }, (event, name) => this.#event(dir, event, name));
    } catch (e) {
      this.#opts.onWarning?.(`cannot watch ${dir}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (e as Error).message}`);
      return undefined;
    }
    // A watched directory that is removed ends its watcher with an error on some platforms.
    watcher.on('error', () => this.#forget(dir));
    const w: Watched = { watcher, all, names: new Set() };
    this.#dirs.set(dir, w);
    return w;
  }

  #forget(dir: string): void {
    for (const [d, w] of this.#dirs) {
      if (d === dir || d.startsWith(dir + sep)) {
        w.watcher.close();
        this.#dirs.delete(d);
      }
    }
  }

  #event(dir: string, event: string, name: string | Buffer | null): void {
    if (this.#closed) return;
    const w = this.#dirs.get(dir);
    if (w === undefined) return;
    const path = name === null ? dir : join(dir, name.toString());
    if (!w.all && !w.names.has(basename(path))) return;
    if (this.#ignored(path)) return;
    if (event === 'rename' && w.all) {
      // Created or removed: a new directory is walked and watched, a removed one forgotten.
      let isDir = false;
      try {
        isDir = statSync(path).isDirectory();
      } catch {
        this.#forget(path);
      }
      if (isDir) this.#addTree(path);
    }
    this.#pending.add(path);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#flush(), this.#opts.debounceMs ?? DEFAULT_DEBOUNCE_MS);
  }

  #flush(): void {
    this.#timer = undefined;
    if (this.#closed || this.#pending.size === 0) return;
    const changed = [...this.#pending];
    this.#pending.clear();
    this.#opts.onChange(changed);
  }
}

/** Directory names never walked: dependencies and version control. */
const NEVER_WALKED = new Set(['node_modules', '.git']);

/**
 * What a project's watcher ignores: node_modules and .git anywhere, the build's output directory
 * (the first directory of "wasm", e.g. build/ or target/, so that writing the module does not trigger
 * the next build), the given extra directories (a dev node's data dir), and editors' swap and backup
 * files.
 */
export function projectIgnore(project: AgentProject, extraDirs: readonly string[] = []): (path: string) => boolean {
  const rel = relative(project.dir, project.wasm);
  const first = rel.split(sep)[0];
  const outputs = [...extraDirs];
  if (first !== undefined && first !== rel && first !== '..' && first !== '') outputs.push(join(project.dir, first));
  outputs.push(project.wasm);
  return (path) => {
    if (outputs.some((o) => path === o || path.startsWith(o + sep))) return true;
    const rel = relative(project.dir, path);
    if (rel.split(sep).some((part) => NEVER_WALKED.has(part))) return true;
    const name = basename(path);
    return name.endsWith('~') || name.startsWith('.#') || /\.sw[a-px]$/.test(name) || name === '4913';
  };
}
