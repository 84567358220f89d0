/**
 * `caxton new agent NAME --lang L [--template T] [--dir PATH]`: a new agent project from a template
 * (src/scaffold). Local: no server, no credentials; only `-o json` of the global options.
 */
import { Command, Option } from 'commander';
import { relative } from 'node:path';
import {
  DEFAULT_TEMPLATE, LANGUAGES, ScaffoldError, TEMPLATES, describeTemplates, newAgentProject, type NewAgentResult,
} from '../../scaffold/index.js';
import { outputFormat } from '../context.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE } from '../errors.js';
import { renderJson, stdout } from '../output.js';
import { ok } from './common.js';

interface NewAgentFlags {
  lang: string;
  template: string;
  dir?: string;
}

export function registerNew(program: Command): Command {
  const group = program.command('new').description('create a new project from a template (`caxton new agent`)');
  group
    .command('agent')
    .description('create an agent project that builds with one command and has a README and a passing test')
    .argument('<name>', 'the agent\'s name: a-z, 0-9 and -, starting with a letter (at most 63)')
    .addOption(new Option('--lang <lang>', 'the language').choices(LANGUAGES).makeOptionMandatory())
    .addOption(new Option('--template <template>', 'what the agent does').choices(TEMPLATES).default(DEFAULT_TEMPLATE))
    .option('--dir <dir>', 'where to create it (must not exist, or be empty); default ./<name>')
    .addHelpText('after', () => `\nTemplates in this installation:\n${describeTemplates()}\n\nThe guide: docs/first-agent.md\n`)
    .action((name: string, flags: NewAgentFlags, cmd: Command) => {
      const format = outputFormat(cmd);
      let r: NewAgentResult;
      try {
        r = newAgentProject({ name, lang: flags.lang, template: flags.template, dir: flags.dir });
      } catch (e) {
        if (!(e instanceof ScaffoldError)) throw e;
        // A full target or missing templates: the command line was fine, the operation was not possible.
        const failed = e.problem === 'target' || e.problem === 'no-templates';
        throw new CliError(e.message, {
          hint: e.hint,
          code: e.problem === 'target' ? 'CAXTON_CLI_DIR_NOT_EMPTY' : e.problem === 'no-templates' ? 'CAXTON_CLI_NO_TEMPLATES' : 'CAXTON_CLI_USAGE',
          exitCode: failed ? EXIT_FAILURE : EXIT_USAGE,
        });
      }
      stdout.write(format === 'json' ? renderJson(r) : human(r));
    });
  return group;
}

function human(r: NewAgentResult): string {
  const rel = relative(process.cwd(), r.dir);
  const shown = rel === '' ? '.' : rel.startsWith('..') ? r.dir : rel;
  const next: [string, string][] = [
    [`cd ${shown}`, ''],
    ['npm install', r.lang === 'assemblyscript' ? 'the SDK, the compiler and the test harness (caxton/testing)' : 'the test harness (caxton/testing)'],
  ];
  if (r.manifest !== undefined) next.push([r.manifest.build.join(' '), `builds ${r.manifest.wasm}`]);
  next.push(['npm test', 'builds, then runs test/agent.test.mjs']);
  next.push(['caxton dev', 'runs it on a local node and upgrades it on every change']);
  const width = Math.max(...next.map(([c]) => c.length)) + 2;
  return (
    ok(`created ${r.lang} agent ${r.name} (template ${r.template}) in ${shown}`) +
    r.files.map((f) => `  ${f}\n`).join('') +
    `\nNext:\n${next.map(([c, why]) => `  ${why === '' ? c : `${c.padEnd(width)}# ${why}`}\n`).join('')}`
  );
}
