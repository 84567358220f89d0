/** `caxton config diff|validate|get`: configuration drift, local validation, the running config. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { context, outputFormat } from '../context.js';
import { CliError } from '../errors.js';
import { countFooter, renderJson, renderTable, stdout } from '../output.js';
import { ok } from './common.js';

interface Difference {
  key: string;
  running: unknown;
  baseline: unknown;
}

export function registerConfig(program: Command): void {
  const config = program.command('config').description('node configuration: drift, validation, the running values');

  config
    .command('diff')
    .description('compare the running configuration with a baseline file (drift)')
    .requiredOption('--baseline <file>', 'the YAML configuration to compare with, e.g. /etc/caxton/config.yaml')
    .option('--exit-code', 'exit 1 when there are differences (like git diff --exit-code)')
    .action(async (opts: { baseline: string; exitCode?: boolean }, cmd: Command) => {
      const ctx = context(cmd);
      const yaml = readText(opts.baseline);
      const r = await ctx.client.post<{ differences: Difference[] }>('/config/diff', { yaml, file: opts.baseline });
      ctx.print(r, () =>
        r.differences.length === 0
          ? ok(`no drift: the running configuration matches ${opts.baseline}`)
          : renderTable(['KEY', 'RUNNING', 'BASELINE'], r.differences.map((d) => [d.key, show(d.running), show(d.baseline)])) +
            `${countFooter(r.differences.length, 'difference')} from ${opts.baseline}\n`,
      );
      if (opts.exitCode === true && r.differences.length > 0) process.exitCode = 1;
    });

  config
    .command('validate')
    .description('check a configuration file without a server (schema, units, cross-key rules)')
    .argument('<file>', 'the YAML configuration file')
    .option('--set <key=value>', 'an override to check with it, as `server start --set` (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--no-env', 'do not substitute ${VAR} references from the environment (they count as unset)')
    .action(async (file: string, opts: { set?: string[]; env: boolean }, cmd: Command) => {
      const format = outputFormat(cmd);
      readText(file); // a clear error for a missing file before the loader's
      // Loaded here, not at start-up: only this command needs the config loader.
      const { loadConfig } = await import('../../config/index.js');
      loadConfig({ file, sets: opts.set ?? [], env: opts.env ? process.env : {} });
      stdout.write(format === 'json' ? renderJson({ valid: true, file }) : ok(`${file} is a valid Caxton configuration`));
    });

  config
    .command('get')
    .description('print the running configuration, or one section of it (secrets show as ***)')
    .argument('[section]', 'a dotted key, e.g. messaging or security.api')
    .action(async (section: string | undefined, _opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const all = await ctx.client.get<Record<string, unknown>>('/config');
      let value: unknown = all;
      if (section !== undefined) {
        for (const part of section.split('.')) {
          if (value === null || typeof value !== 'object' || !(part in (value as object))) {
            throw new CliError(`the running configuration has no key ${section}`, {
              hint: `Top-level sections: ${Object.keys(all).join(', ')}.`,
              code: 'CAXTON_CLI_NO_KEY',
            });
          }
          value = (value as Record<string, unknown>)[part];
        }
      }
      const { stringify } = await import('yaml');
      ctx.print(value, () => (typeof value === 'object' && value !== null ? stringify(value) : `${String(value)}\n`));
    });
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`, { code: 'CAXTON_CLI_FILE' });
  }
}

function show(v: unknown): string {
  if (v === undefined) return '(unset)';
  return typeof v === 'string' ? v : JSON.stringify(v);
}
