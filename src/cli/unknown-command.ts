/**
 * Unknown commands, found before commander parses any option. Commander resolves the command path
 * and parses options as it goes, so `caxton security init-ca --output DIR` failed on the global
 * `--output <format>` ("must be table or json") before it could say that `security` does not exist.
 * This walks the words first: an unknown one gets "unknown command" with the closest existing
 * commands (never a destructive one), or, for a runbook command still to come, what it comes with.
 */
import type { Command, Option } from 'commander';
import { CliError, EXIT_USAGE } from './errors.js';
import { isDestructive } from './destructive.js';
import { similar } from './parse.js';
import { plannedUnder } from './planned.js';

export interface UnknownCommand {
  /** The command whose subcommand is unknown (the program for the first word). */
  readonly parent: Command;
  readonly word: string;
}

/** The first word of `args` (argv without node and script) that names no command, if any. */
export function findUnknownCommand(program: Command, args: readonly string[]): UnknownCommand | undefined {
  let cmd = program;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') return undefined;
    if (a.startsWith('-') && a !== '-') {
      if (takesNextWord(cmd, a, args[i + 1])) i++;
      continue;
    }
    // A command without subcommands takes the rest as its arguments.
    if (cmd.commands.length === 0) return undefined;
    // Commander's own `help [command]`.
    if (a === 'help') return undefined;
    const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
    if (sub === undefined) return { parent: cmd, word: a };
    cmd = sub;
  }
  return undefined;
}

/** Whether option word `a` of `cmd` consumes the next word as its value. */
function takesNextWord(cmd: Command, a: string, next: string | undefined): boolean {
  if (a.startsWith('--') && a.includes('=')) return false;
  const opt = cmd.options.find((o: Option) => o.long === a || o.short === a);
  if (opt === undefined) return false;
  if (opt.required) return true;
  return opt.optional && next !== undefined && !next.startsWith('-');
}

/** The full path of `cmd` below the program, e.g. `cluster keys`. */
function pathOf(cmd: Command): string[] {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent != null; c = c.parent) names.unshift(c.name());
  return names;
}

/** Subcommands of `parent` worth suggesting for `word`: the closest by spelling, none destructive. */
export function suggestCommands(parent: Command, word: string): string[] {
  const candidates = parent.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden && !isDestructive(c));
  const names = candidates.flatMap((c) => [c.name(), ...c.aliases()]);
  return similar(word, names);
}

export function unknownCommandError(u: UnknownCommand): CliError {
  const at = pathOf(u.parent);
  const full = ['caxton', ...at, u.word].join(' ');
  const where = ['caxton', ...at].join(' ');
  const available = u.parent.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden).map((c) => c.name());
  const seeHelp = `see \`${where} --help\``;
  const planned = plannedUnder([...at, u.word].join(' '));
  if (planned !== undefined) {
    const list = planned.commands.map((c) => `caxton ${c}`).join(', ');
    const one = planned.commands.length === 1 && planned.commands[0] === [...at, u.word].join(' ');
    return new CliError(
      `${full} is not available in this version: ${one ? 'it arrives' : `the ${[...at, u.word].join(' ')} commands the runbook lists (${list}) arrive`} with ${planned.area.arrives}`,
      {
        code: 'CAXTON_CLI_NOT_AVAILABLE',
        exitCode: EXIT_USAGE,
        hint: `${planned.area.meanwhile === undefined ? '' : `Meanwhile: ${planned.area.meanwhile}. `}The ${at.length === 0 ? '' : `${where} `}commands this version has: ${available.join(', ')}; ${seeHelp}.`,
      },
    );
  }
  const close = suggestCommands(u.parent, u.word);
  // Commander's wording, which scripts may already look for.
  const mean = close.length === 0 ? '' : close.length === 1 ? `\n(Did you mean ${close[0]}?)` : `\n(Did you mean one of ${close.join(', ')}?)`;
  return new CliError(`unknown command '${u.word}'${mean}`, {
    code: 'CAXTON_CLI_UNKNOWN_COMMAND',
    exitCode: EXIT_USAGE,
    hint: `${where === 'caxton' ? 'The commands are' : `The ${where} commands are`}: ${available.join(', ')}; ${seeHelp}.`,
  });
}
