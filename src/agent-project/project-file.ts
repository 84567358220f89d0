/**
 * An agent project's `caxton.agent.json` (contract B of issue 16, written by `caxton new agent`):
 * what to run to build the agent, where the built module lands, and which paths hold its sources.
 *
 *   { "name": "echo", "lang": "assemblyscript", "build": ["npm", "run", "build"],
 *     "wasm": "build/echo.wasm", "watch": ["assembly", "package.json"] }
 *
 * Read and validated in one place, so that `caxton dev` and anything else that builds a project
 * report a bad file the same way: naming the file, the field and the fix.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { CliError } from '../cli/errors.js';
import { AGENT_NAME_RULE, isAgentName } from '../messaging/message-schema.js';

export const PROJECT_FILE = 'caxton.agent.json';
export const PROJECT_LANGS = ['assemblyscript', 'c', 'rust'] as const;
export type ProjectLang = (typeof PROJECT_LANGS)[number];

/** A validated project file; paths are absolute (resolved against the project dir). */
export interface AgentProject {
  /** The project directory, absolute. */
  readonly dir: string;
  /** The project file, absolute. */
  readonly file: string;
  /** The agent's name on the node. */
  readonly name: string;
  readonly lang: ProjectLang;
  /** argv run in `dir` to build, without a shell. */
  readonly build: readonly [string, ...string[]];
  /** The built module, absolute. */
  readonly wasm: string;
  /** Files and directories whose changes trigger a rebuild, absolute. */
  readonly watch: readonly string[];
}

const FIELDS = ['name', 'lang', 'build', 'wasm', 'watch'] as const;

const EXAMPLE = '{"name": "echo", "lang": "assemblyscript", "build": ["npm", "run", "build"], "wasm": "build/echo.wasm", "watch": ["assembly"]}';

/** The error for a project file that cannot be used: code CAXTON_CLI_PROJECT_INVALID, exit 1. */
export function projectError(file: string, message: string, hint: string, field?: string): CliError {
  return new CliError(`${file}: ${message}`, {
    code: 'CAXTON_CLI_PROJECT_INVALID',
    hint,
    details: { file, ...(field === undefined ? {} : { field }) },
  });
}

/** Reads and validates `<dir>/caxton.agent.json`. Throws a CliError naming the file and the field. */
export function readProjectFile(dir: string): AgentProject {
  const root = resolve(dir);
  const file = join(root, PROJECT_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw projectError(file, 'no such file: this directory is not an agent project', `Run the command in an agent project (one created by \`caxton new agent NAME\`), pass its directory, or write a ${PROJECT_FILE} like ${EXAMPLE}.`);
    }
    throw projectError(file, `cannot be read (${code ?? (e as Error).message})`, 'Check the file\'s permissions.');
  }
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (e) {
    throw projectError(file, `is not valid JSON: ${(e as Error).message}`, `Fix the JSON; the file looks like ${EXAMPLE}.`);
  }
  return validateProject(value, root, file);
}

/** Validates a parsed project file (exported for tests and for callers that hold the JSON already). */
export function validateProject(value: unknown, dir: string, file: string = join(dir, PROJECT_FILE)): AgentProject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw projectError(file, `must be a JSON object, got ${describe(value)}`, `The file looks like ${EXAMPLE}.`);
  }
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      throw projectError(file, `unknown field "${key}"`, `The fields are ${FIELDS.join(', ')}; remove "${key}" or fix its spelling.`, key);
    }
  }
  for (const key of FIELDS) {
    if (o[key] === undefined) throw projectError(file, `the field "${key}" is missing`, `Add it; the file looks like ${EXAMPLE}.`, key);
  }
  const name = o['name'];
  if (!isAgentName(name)) {
    throw projectError(file, `"name" must be an agent name (${AGENT_NAME_RULE}), got ${describe(name)}`, 'It is the agent\'s name on the node, e.g. "echo".', 'name');
  }
  const lang = o['lang'];
  if (typeof lang !== 'string' || !(PROJECT_LANGS as readonly string[]).includes(lang)) {
    throw projectError(file, `"lang" must be one of ${PROJECT_LANGS.join(', ')}, got ${describe(lang)}`, 'It names the agent\'s source language.', 'lang');
  }
  const build = o['build'];
  if (!Array.isArray(build) || build.length === 0 || !build.every((a) => typeof a === 'string') || build[0] === '') {
    throw projectError(
      file,
      `"build" must be a non-empty array of strings (a command and its arguments, run without a shell), got ${describe(build)}`,
      'e.g. ["npm", "run", "build"], ["make"] or ["cargo", "build", "--release"]; for a shell pipeline, put it in a script and run that.',
      'build',
    );
  }
  const wasm = relativePath(o['wasm'], file, 'wasm', '"wasm" is the built module, e.g. "build/echo.wasm".');
  const watch = o['watch'];
  if (!Array.isArray(watch) || watch.length === 0) {
    throw projectError(file, `"watch" must be a non-empty array of paths, got ${describe(watch)}`, 'List the files and directories that hold the sources, e.g. ["assembly", "package.json"].', 'watch');
  }
  const watched = watch.map((w, i) => relativePath(w, file, `watch[${i}]`, '"watch" lists the files and directories that hold the sources, e.g. ["assembly", "package.json"].'));
  return {
    dir,
    file,
    name,
    lang: lang as ProjectLang,
    build: build as [string, ...string[]],
    wasm: resolve(dir, wasm),
    watch: watched.map((w) => resolve(dir, w)),
  };
}

/** A path relative to the project dir (so that a project can be moved or cloned elsewhere). */
function relativePath(v: unknown, file: string, field: string, hint: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw projectError(file, `"${field}" must be a non-empty path, got ${describe(v)}`, hint, field);
  if (isAbsolute(v)) throw projectError(file, `"${field}" must be relative to the project directory, got the absolute path ${JSON.stringify(v)}`, hint, field);
  return v;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length === 0 ? 'an empty array' : `the array ${truncate(JSON.stringify(v))}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${truncate(JSON.stringify(v))}`;
}

function truncate(s: string): string {
  return s.length > 60 ? `${s.slice(0, 59)}…` : s;
}
