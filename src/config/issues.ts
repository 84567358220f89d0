/**
 * Config problems, and how they become one CAXTON_ERR_CONFIG_INVALID. Each problem is found in one
 * place (YAML parser, env substitution, --set, schema, cross-key checks) with the key it concerns;
 * ./locate.ts then finds where that key was written. All of them are reported at once, one per line,
 * in file order, so an operator fixes a file in one pass.
 */
import { CaxtonError } from '../errors.js';

/** A key's position in the config tree: `['messaging', 'queue_size']`, `['coordination', 'cluster', 'seeds', 1]`. */
export type ConfigPath = readonly (string | number)[];

/** Where a problem was written: a file position, a file (position unknown) or a --set argument. */
export type Where =
  | { readonly file: string; readonly line: number; readonly col: number }
  | { readonly file: string }
  | { readonly set: string; readonly index: number };

export interface ConfigIssue {
  /** The whole text after the location, naming the key: `messaging.queue_size must be ..., got "lots"`. */
  readonly message: string;
  /** The key concerned, for locating it and for details.errors[].key. */
  readonly path?: ConfigPath;
  /** Further keys the problem involves (cross-key checks); the first one the operator wrote is reported. */
  readonly alsoPaths?: readonly ConfigPath[];
  /** Point at the key itself (unknown keys) rather than at its value. */
  readonly at?: 'key' | 'value';
  /** Set when the finder already knows the place (YAML syntax errors, --set arguments). */
  readonly where?: Where;
}

/** One reported problem: what the API returns in details.errors and the CLI prints as a line. */
export interface ConfigErrorEntry {
  readonly file?: string;
  readonly line?: number;
  readonly col?: number;
  readonly set?: string;
  /** Dotted key ('' when the problem is not about one key, e.g. a YAML syntax error). */
  readonly key: string;
  readonly message: string;
}

/** `messaging.queue_size`, `coordination.cluster.seeds[1]`; the root is `(top level)`. */
export function formatPath(path: ConfigPath): string {
  if (path.length === 0) return '(top level)';
  let out = '';
  for (const seg of path) {
    // A key from a hostile file may hold anything, newlines included: quote what is not a plain name.
    const name = typeof seg === 'number' ? `[${seg}]` : /^[A-Za-z0-9_-]+$/.test(seg) ? seg : JSON.stringify(seg);
    out += typeof seg === 'number' || out === '' ? name : `.${name}`;
  }
  return out;
}

export function formatEntry(e: ConfigErrorEntry): string {
  if (e.set !== undefined) return `--set ${/^[\x20-\x7e]*$/.test(e.set) ? e.set : JSON.stringify(e.set)}: ${e.message}`;
  if (e.line !== undefined) return `${e.file}:${e.line}:${e.col}: ${e.message}`;
  return e.file === undefined ? e.message : `${e.file}: ${e.message}`;
}

/** The single error every config failure ends in; the message has one line per problem. */
export function configError(entries: readonly ConfigErrorEntry[]): CaxtonError {
  return new CaxtonError('CAXTON_ERR_CONFIG_INVALID', entries.map(formatEntry).join('\n'), { errors: entries });
}

/** Shows a value the way the operator wrote it, shortened: `"lots"`, `12`, `a mapping`. */
export function showValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}
