/**
 * Where the agent project templates of `caxton new agent` live and what they offer. Layout
 * (docs/first-agent.md; the contract shared with the Rust SDK's templates):
 *
 *   templates/agent/<lang>/_base/...        files every template of that language gets
 *   templates/agent/<lang>/<template>/...   the template's own files (a file here replaces the _base
 *                                           file of the same path)
 *
 * The directory is found next to the package the CLI runs from (src/ under tsx, dist/ when built or
 * installed), so the installed package must ship templates/ (package.json has no "files" list, so it
 * does).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The languages `caxton new agent --lang` accepts. */
export const LANGUAGES = ['assemblyscript', 'c', 'rust'] as const;
export type Language = (typeof LANGUAGES)[number];

/** The templates `--template` accepts (a language may not have every one yet). */
export const TEMPLATES = ['echo', 'request-reply', 'contract-net-bidder', 'subscriber'] as const;
export type TemplateName = (typeof TEMPLATES)[number];

/** The directory a language's shared files live in. */
export const BASE_DIR = '_base';

/** The root of the caxton package: two levels above this file in src/scaffold or dist/scaffold. */
export const CAXTON_ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

/** templates/agent of the caxton package. */
export const TEMPLATES_DIR = join(CAXTON_ROOT, 'templates', 'agent');

/** Where each language's SDK is, relative to the caxton root ({{sdk_dir}}). */
export const SDK_DIRS: Readonly<Record<Language, string>> = {
  assemblyscript: 'sdk/assemblyscript',
  c: 'sdk/c',
  rust: 'sdk/rust',
};

export function isLanguage(s: string): s is Language {
  return (LANGUAGES as readonly string[]).includes(s);
}

export function isTemplateName(s: string): s is TemplateName {
  return (TEMPLATES as readonly string[]).includes(s);
}

/** The templates present for `lang` under `root`, in the order of TEMPLATES (unknown names after, sorted). */
export function availableTemplates(lang: string, root = TEMPLATES_DIR): string[] {
  const dir = join(root, lang);
  if (!existsSync(dir)) return [];
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== BASE_DIR)
    .map((d) => d.name);
  const rank = (n: string): number => {
    const i = (TEMPLATES as readonly string[]).indexOf(n);
    return i < 0 ? TEMPLATES.length : i;
  };
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** One line per language: what `caxton new agent --help` and the refusals print. */
export function describeTemplates(root = TEMPLATES_DIR): string {
  return LANGUAGES.map((lang) => {
    const names = availableTemplates(lang, root);
    return `  ${lang.padEnd(15)}${names.length === 0 ? '(no templates in this installation)' : names.join(', ')}`;
  }).join('\n');
}
