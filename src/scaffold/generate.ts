/**
 * `caxton new agent`: writes a new agent project from a template (layout in ./templates.ts). Every
 * file of templates/agent/<lang>/_base and of the template (which wins on the same path) is copied
 * with the placeholders replaced in its contents:
 *
 *   {{name}}         the agent name as given
 *   {{crate_name}}   the name with '-' replaced by '_'
 *   {{caxton_root}}  the caxton package the CLI runs from (for `file:` dependencies)
 *   {{sdk_dir}}      the language's SDK in it (sdk/assemblyscript, sdk/c, sdk/rust)
 *
 * A file named `_gitignore` is written as `.gitignore`: npm leaves .gitignore files out of a packed
 * package, so the installed templates could not carry one under its real name.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import {
  BASE_DIR, CAXTON_ROOT, LANGUAGES, SDK_DIRS, TEMPLATES, TEMPLATES_DIR, availableTemplates, isLanguage, type Language,
} from './templates.js';

/** Agent names a project may have: also a valid npm package name, C identifier stem and crate name. */
export const PROJECT_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export const DEFAULT_TEMPLATE = 'echo';

export type ScaffoldProblem = 'name' | 'lang' | 'template' | 'no-templates' | 'target';

/** Why a project was not created; `problem` tells a usage error from a refusal of the target. */
export class ScaffoldError extends Error {
  readonly problem: ScaffoldProblem;
  readonly hint: string;
  constructor(problem: ScaffoldProblem, message: string, hint: string) {
    super(message);
    this.name = 'ScaffoldError';
    this.problem = problem;
    this.hint = hint;
  }
}

export interface NewAgentOptions {
  readonly name: string;
  readonly lang: string;
  /** Default: echo. */
  readonly template?: string | undefined;
  /** The project directory (created; may exist if empty). Default: ./<name>. Relative to `cwd`. */
  readonly dir?: string | undefined;
  /** Default: process.cwd(). */
  readonly cwd?: string;
  /** Default: templates/agent of this package (tests point it elsewhere). */
  readonly templatesDir?: string;
  /** Default: this package's root. */
  readonly caxtonRoot?: string;
}

export interface NewAgentResult {
  readonly name: string;
  readonly lang: Language;
  readonly template: string;
  /** Absolute path of the project. */
  readonly dir: string;
  /** The files written, relative to `dir`, '/'-separated, sorted. */
  readonly files: string[];
  /** The project's caxton.agent.json as written (undefined if the template has none). */
  readonly manifest: AgentManifest | undefined;
}

/**
 * caxton.agent.json, at the root of every project: how to build it (an argv run in the project
 * directory, no shell), where the module lands, and what to watch for changes (`caxton dev` reads it).
 */
export interface AgentManifest {
  readonly name: string;
  readonly lang: Language;
  readonly build: string[];
  readonly wasm: string;
  readonly watch: string[];
}

export function checkName(name: string): void {
  if (PROJECT_NAME.test(name)) return;
  throw new ScaffoldError(
    'name',
    `invalid agent name ${JSON.stringify(name)}: it must start with a lower-case letter and have at most 63 characters from a-z, 0-9 and -`,
    'Pick a name like echo, price-bot or bidder-2: it becomes the agent\'s name, the npm package name, the crate name (with _) and the .wasm file name.',
  );
}

/** Every file of the template: relative path (as written, '/'-separated) -> source file. */
function templateFiles(langDir: string, template: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (root: string, dir: string): void => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, d.name);
      if (d.isDirectory()) walk(root, p);
      else if (d.isFile()) {
        const parts = relative(root, p).split(sep);
        if (parts[parts.length - 1] === '_gitignore') parts[parts.length - 1] = '.gitignore';
        files.set(parts.join('/'), p);
      }
    }
  };
  const base = join(langDir, BASE_DIR);
  if (existsSync(base)) walk(base, base);
  walk(join(langDir, template), join(langDir, template)); // after _base: its files win
  return files;
}

export function substitute(text: string, values: Readonly<Record<string, string>>): string {
  return text.replace(/\{\{([a-z_]+)\}\}/g, (whole, key: string) => values[key] ?? whole);
}

function checkTarget(dir: string): void {
  if (!existsSync(dir)) return;
  const hint = 'Choose another --dir, or remove that directory first: `caxton new` never writes into a directory that has files.';
  if (!statSync(dir).isDirectory()) throw new ScaffoldError('target', `${dir} exists and is not a directory`, hint);
  const entries = readdirSync(dir);
  if (entries.length > 0) {
    const shown = entries.slice(0, 3).join(', ') + (entries.length > 3 ? `, ... (${entries.length} entries)` : '');
    throw new ScaffoldError('target', `${dir} is not empty (it has ${shown})`, hint);
  }
}

export function newAgentProject(opts: NewAgentOptions): NewAgentResult {
  const templatesDir = opts.templatesDir ?? TEMPLATES_DIR;
  const caxtonRoot = opts.caxtonRoot ?? CAXTON_ROOT;
  checkName(opts.name);
  if (!isLanguage(opts.lang)) {
    throw new ScaffoldError('lang', `unknown language ${JSON.stringify(opts.lang)}`, `--lang is one of ${LANGUAGES.join(', ')}.`);
  }
  const lang = opts.lang;
  const template = opts.template ?? DEFAULT_TEMPLATE;
  const available = availableTemplates(lang, templatesDir);
  if (available.length === 0) {
    const others = LANGUAGES.filter((l) => l !== lang && availableTemplates(l, templatesDir).length > 0);
    throw new ScaffoldError(
      'no-templates',
      `this installation has no ${lang} templates (nothing in ${join(templatesDir, lang)})`,
      others.length > 0 ? `Templates exist for --lang ${others.join(', ')}.` : `Reinstall caxton: its templates/agent directory is missing.`,
    );
  }
  if (!available.includes(template)) {
    throw new ScaffoldError(
      'template',
      `unknown template ${JSON.stringify(template)} for --lang ${lang}`,
      `The ${lang} templates are: ${available.join(', ')}${(TEMPLATES as readonly string[]).includes(template) ? '' : ` (--template is one of ${TEMPLATES.join(', ')})`}.`,
    );
  }

  const cwd = opts.cwd ?? process.cwd();
  const dir = resolve(cwd, opts.dir ?? opts.name);
  checkTarget(dir);
  const values = {
    name: opts.name,
    crate_name: opts.name.replace(/-/g, '_'),
    caxton_root: caxtonRoot,
    sdk_dir: join(caxtonRoot, SDK_DIRS[lang]),
  };
  const files = templateFiles(join(templatesDir, lang), template);
  const created = !existsSync(dir);
  const written: string[] = [];
  try {
    mkdirSync(dir, { recursive: true });
    for (const [rel, src] of files) {
      const out = join(dir, ...rel.split('/'));
      mkdirSync(dirname(out), { recursive: true });
      const bytes = readFileSync(src);
      // Text gets the placeholders; anything with a NUL byte is taken as binary and copied as it is.
      const data = bytes.includes(0) ? bytes : substitute(bytes.toString('utf8'), values);
      writeFileSync(out, data, { mode: statSync(src).mode & 0o777, flag: 'wx' });
      written.push(rel);
    }
  } catch (e) {
    // Leave nothing half-made: the directory we created, or the files we wrote into an empty one.
    if (created) rmSync(dir, { recursive: true, force: true });
    else for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
    throw e;
  }
  const manifestFile = join(dir, 'caxton.agent.json');
  const manifest = existsSync(manifestFile) ? (JSON.parse(readFileSync(manifestFile, 'utf8')) as AgentManifest) : undefined;
  return { name: opts.name, lang, template, dir, files: written.sort(), manifest };
}
