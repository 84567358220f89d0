/**
 * `${VAR}` and `${VAR:-default}` in config values.
 *
 * Substitution happens after YAML parsing, inside each scalar value, so a variable can never add
 * keys or structure (a value of "a: b" stays the string "a: b") and every position still points into
 * the file as written. A plain (unquoted) scalar is then re-read as a YAML scalar, so that
 * `port: ${PORT:-8080}` gives the number 8080 and `enabled: ${X:-true}` a boolean; only numbers and
 * booleans are taken from that re-read, anything else keeps the substituted text exactly. Quoted
 * scalars, and keys whose schema type is a string (`node.id: ${HOST_ID}` with HOST_ID=1234 is the
 * string "1234": the operator cannot quote a variable's value), stay strings. Keys and comments are
 * never substituted.
 *
 * `${VAR}` is an error when VAR is unset (an empty value is a value). `${VAR:-default}` takes the
 * default when VAR is unset or empty, as in the shell. `$${` writes a literal `${`. The default ends
 * at the first `}`.
 */
import { isMap, isScalar, isSeq, parseDocument, type Document, type LineCounter, type Scalar } from 'yaml';
import { formatPath, type ConfigIssue, type ConfigPath } from './issues.js';

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface SubstitutionResult {
  readonly issues: ConfigIssue[];
  /** Keys whose value could not be substituted: schema errors about them would only repeat the issue. */
  readonly unresolved: ConfigPath[];
}

/** Substitutes in place in every scalar value of `doc`. */
export function substituteEnv(
  doc: Document,
  text: string,
  lineCounter: LineCounter,
  file: string,
  env: NodeJS.ProcessEnv,
  isTextKey: (path: ConfigPath) => boolean,
): SubstitutionResult {
  const issues: ConfigIssue[] = [];
  const unresolved: ConfigPath[] = [];
  walkScalars(doc.contents, [], (node, path) => {
    if (typeof node.value !== 'string' || !node.value.includes('${')) return;
    const r = expand(node.value, env);
    if ('errors' in r) {
      const raw = node.range === undefined || node.range === null ? '' : text.slice(node.range[0], node.range[1]);
      let searchFrom = 0;
      for (const e of r.errors) {
        // Point at the reference itself when it appears verbatim in the source (it does unless escapes intervene).
        const inRaw = raw.indexOf(e.ref, searchFrom);
        if (inRaw >= 0) searchFrom = inRaw + e.ref.length;
        const offset = (node.range?.[0] ?? 0) + Math.max(0, inRaw);
        const { line, col } = lineCounter.linePos(offset);
        issues.push({ path, where: { file, line, col }, message: `${formatPath(path)}: ${e.message}` });
      }
      unresolved.push(path);
      return;
    }
    node.value = node.type === 'PLAIN' && !isTextKey(path) ? retype(r.value) : r.value;
  });
  return { issues, unresolved };
}

type Expansion = { readonly value: string } | { readonly errors: { readonly ref: string; readonly message: string }[] };

/** Expands the references in one string. */
export function expand(input: string, env: NodeJS.ProcessEnv): Expansion {
  let out = '';
  const errors: { ref: string; message: string }[] = [];
  let i = 0;
  while (i < input.length) {
    const at = input.indexOf('${', i);
    if (at < 0) {
      out += input.slice(i);
      break;
    }
    if (at > 0 && input[at - 1] === '$') {
      // `$${` is an escaped `${`: drop one `$`, keep the rest literally.
      out += input.slice(i, at - 1) + '${';
      i = at + 2;
      continue;
    }
    out += input.slice(i, at);
    const end = input.indexOf('}', at + 2);
    if (end < 0) {
      errors.push({ ref: '${', message: `unterminated \${ in ${JSON.stringify(input)}: write \${VAR} or \${VAR:-default} (or $\${ for a literal \${)` });
      break;
    }
    const ref = input.slice(at, end + 1);
    const body = input.slice(at + 2, end);
    const sep = body.indexOf(':-');
    const name = sep < 0 ? body : body.slice(0, sep);
    if (!NAME_RE.test(name)) {
      errors.push({ ref, message: `${ref} is not a variable reference: write \${VAR} or \${VAR:-default}, VAR being letters, digits and _ (not starting with a digit)` });
    } else if (sep >= 0) {
      const v = env[name];
      out += v === undefined || v === '' ? body.slice(sep + 2) : v;
    } else {
      const v = env[name];
      if (v === undefined) errors.push({ ref, message: `environment variable ${name} is not set (referenced as ${ref}); set it, or give a default with \${${name}:-default}` });
      else out += v;
    }
    i = end + 1;
  }
  return errors.length > 0 ? { errors } : { value: out };
}

/** A plain scalar's substituted text, as YAML would have read it had it been written there: numbers and booleans only. */
function retype(text: string): string | number | boolean {
  const doc = parseDocument(text);
  if (doc.errors.length > 0 || doc.warnings.length > 0 || !isScalar(doc.contents)) return text;
  const v = doc.contents.value;
  return typeof v === 'number' || typeof v === 'boolean' ? v : text;
}

/** Calls `fn` for every scalar in value position (not keys), with its path. Aliases are skipped: their anchor is visited where it is written. */
export function walkScalars(node: unknown, path: ConfigPath, fn: (node: Scalar, path: ConfigPath) => void): void {
  if (isMap(node)) {
    for (const pair of node.items) walkScalars(pair.value, [...path, keyText(pair.key)], fn);
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => walkScalars(item, [...path, i], fn));
  } else if (isScalar(node)) {
    fn(node, path);
  }
}

/** A map key as the config tree names it (the same text `toJS` uses for the object key). */
export function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}
