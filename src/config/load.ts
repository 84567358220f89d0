/**
 * Loading a node's configuration: defaults < cluster profile < file < --set (the CLI's explicit
 * flags such as --data-dir are applied on top by the caller). The steps, in order:
 *
 *   1. parse the YAML, keeping source positions (a syntax error stops here: nothing after it is trustworthy);
 *   2. substitute ${VAR} and ${VAR:-default} in values (./env.ts);
 *   3. apply --set key=value (./overrides.ts);
 *   4. merge over the defaults, with the chosen cluster profile's timings in between;
 *   5. validate against the schema, then the checks between keys;
 *   6. convert to the resolved form and freeze both.
 *
 * Every problem found is reported, each with its file:line:col (or --set argument) and key, in one
 * CAXTON_ERR_CONFIG_INVALID; nothing else is thrown.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { CLUSTER_PROFILE_TIMINGS, DEFAULT_CONFIG, deepFreeze } from './defaults.js';
import { substituteEnv } from './env.js';
import { configError, type ConfigIssue, type ConfigPath } from './issues.js';
import { locate, type Sources } from './locate.js';
import { mergeOver } from './merge.js';
import { applySets, parseSets, type SetOverride } from './overrides.js';
import { convertConfig, crossKeyIssues, type ResolvedConfig } from './resolve.js';
import { CaxtonConfigSchema, CLUSTER_PROFILES, type CaxtonConfig } from './schema.js';
import { schemaAt, valueAt } from './paths.js';
import { validateConfig } from './validate.js';

/** Config text larger than this is refused before parsing (it arrives over the API too). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export interface LoadOptions {
  /** YAML file to read; none = defaults (and --set). */
  readonly file?: string;
  /** `key=value` overrides, in order; later ones win. */
  readonly sets?: readonly string[];
  /** Variables for ${VAR} substitution. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * A loaded configuration, deep-frozen. Two views of the same values:
 * - `config`: as written (keys as in the file, sizes and durations as strings or numbers) — for
 *   `caxton config show`, diff and redaction. Its size and duration fields are typed `number | string`
 *   so they cannot be used as numbers by mistake.
 * - `resolved`: for code — bytes and ms with the unit in the field name, parsed addresses, "auto"
 *   worked out, and the subsystems' own option objects.
 */
export interface LoadedConfig {
  readonly config: CaxtonConfig;
  readonly resolved: ResolvedConfig;
  readonly source: { readonly file: string | undefined; readonly sets: readonly string[] };
}

/** Reads, substitutes, overrides, validates. Throws CAXTON_ERR_CONFIG_INVALID listing every problem. */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const sets = options.sets ?? [];
  if (options.file === undefined) return build(undefined, undefined, sets, env);
  let text: string;
  try {
    text = readFileSync(options.file, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw configError([{ file: options.file, key: '', message: `cannot read the configuration file: ${why}` }]);
  }
  return build(text, options.file, sets, env);
}

/**
 * Validates configuration text that did not come from a file (the API's `config diff`, `config
 * validate`). `fileName` is only used in messages. Pass the env deliberately: substituting the
 * server's own environment into text a client sent, then returning the result, would disclose it.
 */
export function parseConfigText(text: string, fileName: string, env: NodeJS.ProcessEnv): LoadedConfig {
  return build(text, fileName, [], env);
}

function build(text: string | undefined, file: string | undefined, setArgs: readonly string[], env: NodeJS.ProcessEnv): LoadedConfig {
  const issues: ConfigIssue[] = [];
  const { overrides, issues: setIssues } = parseSets(setArgs);
  issues.push(...setIssues);

  let doc: Document | undefined;
  let lineCounter: LineCounter | undefined;
  let fileData: unknown = null;
  let unresolved: ConfigPath[] = [];
  if (text !== undefined && file !== undefined) {
    if (Buffer.byteLength(text, 'utf8') > MAX_CONFIG_BYTES) {
      throw fail([{ where: { file }, message: `the configuration is larger than ${MAX_CONFIG_BYTES} bytes` }], sources(file, undefined, undefined, overrides));
    }
    lineCounter = new LineCounter();
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
    const syntax = [...doc.errors, ...doc.warnings];
    for (const e of syntax) {
      const { line, col } = lineCounter.linePos(e.pos[0]);
      // `{` is a flow indicator: [${A}, ${B}] does not parse, which the parser's own words do not make obvious.
      const lineText = text.split('\n', line)[line - 1] ?? '';
      const hint = lineText.includes('${') && /[[{]/.test(lineText.replace(/\$\{/g, '')) ? ' (inside [...] or {...}, quote values that contain ${...})' : '';
      issues.push({ where: { file, line, col }, message: `YAML: ${e.message.split('\n')[0]}${hint}` });
    }
    // A syntax error leaves no reliable tree to check further; report it with any --set problems.
    if (syntax.length > 0) throw fail(issues, sources(file, doc, lineCounter, overrides));
    const substituted = substituteEnv(doc, text, lineCounter, file, env, (path) => schemaAt(CaxtonConfigSchema, path)?.['type'] === 'string');
    issues.push(...substituted.issues);
    unresolved = substituted.unresolved;
    try {
      fileData = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      // yaml refuses alias bombs ("excessive alias count") here.
      throw fail([...issues, { where: { file }, message: `YAML: ${(e as Error).message}` }], sources(file, doc, lineCounter, overrides));
    }
  }
  const src = sources(file, doc, lineCounter, overrides);

  const applied = applySets(fileData, overrides);
  issues.push(...applied.issues);
  const merged = mergeOver(withProfile(applied.data), applied.data);

  const invalid = validateConfig(merged).filter((i) => !unresolved.some((p) => isWithin(i.path ?? [], p)));
  issues.push(...invalid);
  if (issues.length > 0) throw fail(issues, src);

  const config = merged as CaxtonConfig;
  const conflicts = crossKeyIssues(config);
  if (conflicts.length > 0) throw fail(conflicts, src);

  return deepFreeze({ config, resolved: convertConfig(config), source: { file, sets: [...setArgs] } });
}

/** The defaults with the chosen cluster profile's timings laid over them (memberlist builds WAN/Local from LAN the same way). */
function withProfile(data: unknown): unknown {
  const chosen = valueAt(data, ['coordination', 'cluster', 'profile']);
  const profile = CLUSTER_PROFILES.find((p) => p === chosen);
  if (profile === undefined || profile === 'lan') return DEFAULT_CONFIG;
  return mergeOver(DEFAULT_CONFIG, { coordination: { cluster: CLUSTER_PROFILE_TIMINGS[profile] } });
}

function isWithin(path: ConfigPath, ancestor: ConfigPath): boolean {
  return ancestor.length <= path.length && ancestor.every((seg, i) => seg === path[i]);
}

function sources(file: string | undefined, doc: Document | undefined, lineCounter: LineCounter | undefined, sets: readonly SetOverride[]): Sources {
  return { file, doc, lineCounter, sets };
}

/** Locates every issue and orders them as an operator reads a file: by line, then the --set arguments in order. */
function fail(issues: readonly ConfigIssue[], src: Sources) {
  // Array.prototype.sort is stable, so issues at the same place keep the order they were found in.
  const located = issues.map((i) => locate(i, src));
  located.sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1] || a.order[2] - b.order[2]);
  return configError(located.map((l) => l.entry));
}
