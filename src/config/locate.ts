/**
 * Finds where a key was written: the --set argument that set it last, or its line and column in the
 * YAML file (from the parser's source ranges), so every message starts with a place to go and fix.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import { keyText } from './env.js';
import { formatPath, type ConfigErrorEntry, type ConfigIssue, type ConfigPath, type Where } from './issues.js';
import type { SetOverride } from './overrides.js';

export interface Sources {
  /** The file's name as given, or undefined when there is no file. */
  readonly file: string | undefined;
  readonly doc: Document | undefined;
  readonly lineCounter: LineCounter | undefined;
  readonly sets: readonly SetOverride[];
}

/** A located issue, with its place in reading order: file lines first, then the file as a whole, then --set arguments in order. */
export interface Located {
  readonly entry: ConfigErrorEntry;
  readonly order: readonly [number, number, number];
}

export function locate(issue: ConfigIssue, src: Sources): Located {
  const key = issue.path === undefined ? '' : formatPath(issue.path);
  const where = issue.where ?? findWhere([issue.path ?? [], ...(issue.alsoPaths ?? [])], issue.at ?? 'value', src);
  if ('set' in where) return { entry: { set: where.set, key, message: issue.message }, order: [2, where.index, 0] };
  if ('line' in where) return { entry: { ...where, key, message: issue.message }, order: [0, where.line, where.col] };
  return { entry: { file: where.file, key, message: issue.message }, order: [1, 0, 0] };
}

function findWhere(paths: readonly ConfigPath[], at: 'key' | 'value', src: Sources): Where {
  // The first of the involved keys that the operator wrote, --set first since it wins over the file.
  for (const path of paths) {
    const set = setFor(path, src.sets);
    if (set !== undefined) return { set: set.arg, index: set.index };
    const pos = filePosition(path, at, src, true);
    if (pos !== undefined) return pos;
    // Not in the file: a --set below this key created it (`--set node.x.y=1` makes the unknown key node.x).
    const creator = src.sets.findLast((s) => s.path.length > path.length && path.every((seg, i) => String(seg) === s.path[i]));
    if (creator !== undefined) return { set: creator.arg, index: creator.index };
  }
  return filePosition(paths[0] ?? [], at, src, false) ?? { file: src.file ?? '(defaults)' };
}

/** The last --set whose key is `path` or one of its ancestors (it replaced everything below). */
function setFor(path: ConfigPath, sets: readonly SetOverride[]): SetOverride | undefined {
  let found: SetOverride | undefined;
  for (const s of sets) {
    if (s.path.length <= path.length && s.path.every((seg, i) => seg === String(path[i]))) found = s;
  }
  return found;
}

/** Line and column of the key (or its value) in the file; `exact` false settles for the nearest written ancestor. */
function filePosition(path: ConfigPath, at: 'key' | 'value', src: Sources, exact: boolean): Where | undefined {
  if (src.doc === undefined || src.lineCounter === undefined || src.file === undefined) return undefined;
  let node: unknown = src.doc.contents;
  let offset = rangeStart(node);
  for (const [i, seg] of path.entries()) {
    node = isAlias(node) ? node.resolve(src.doc) : node;
    let keyOffset: number | undefined;
    let next: unknown;
    if (isMap(node) && typeof seg === 'string') {
      const pair = node.items.findLast((p) => keyText(p.key) === seg);
      if (pair !== undefined) {
        keyOffset = rangeStart(pair.key);
        next = pair.value;
      }
    } else if (isSeq(node) && typeof seg === 'number') {
      next = node.items[seg];
      keyOffset = rangeStart(next);
    }
    if (keyOffset === undefined) {
      if (exact) return undefined;
      break;
    }
    offset = at === 'key' && i === path.length - 1 ? keyOffset : (rangeStart(next) ?? keyOffset);
    node = next;
  }
  if (offset === undefined) return exact ? undefined : { file: src.file };
  const { line, col } = src.lineCounter.linePos(offset);
  return { file: src.file, line, col };
}

function rangeStart(node: unknown): number | undefined {
  if (node === null || node === undefined || typeof node !== 'object') return undefined;
  if (!(isScalar(node) || isMap(node) || isSeq(node) || isAlias(node))) return undefined;
  return (node as Node).range?.[0];
}
