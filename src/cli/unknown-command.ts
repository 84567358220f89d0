/**
 * Unknown commands, found before commander parses any option. Commander resolves the command path
 * and parses options as it goes, so `caxton backup create --output FILE` failed on the global
 * `--output <format>` ("must be table or json") before it could say that `backup` does not exist.
 * This walks the words first: an unknown one gets "unknown command" with the closest existing
 * commands (never a destructive one).
 */
import type { Command, Option } from 'commander';
import { CliError, EXIT_USAGE } from './errors.js';
import { isDestructive } from './destructive.js';
import { similar } from './parse.js';

export interface UnknownCommand {
  /** The command whose subcommand is unknown (the program for the first word). */
  readonly parent: Command;
  readonly word: string;
}

/**
 * The first word of `args` (argv without node and script) that names no command, if any. Options
 * are looked up on the command reached so far and its ancestors (the global options are on every
 * group), so their values are not taken for commands; an option no one has, met before the
 * subcommand, ends the walk: commander reports it.
 */
export function findUnknownCommand(program: Command, args: readonly string[]): UnknownCommand | undefined {
  let cmd = program;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    // After `--` commander takes the words as operands (the first is still a group's subcommand); a
    // word it cannot dispatch reaches unknownCommandsReportedHere's listener.
    if (a === '--') return undefined;
    if (a.startsWith('-') && a !== '-') {
      const takes = optionValue(cmd, a, args[i + 1]);
      if (takes === undefined) {
        if (cmd.commands.length > 0) return undefined;
        continue;
      }
      if (takes) i++;
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

/**
 * Whether option word `a`, an option of `cmd` or of one of its ancestors, consumes the next word as
 * its value; undefined when none of them has it.
 */
function optionValue(cmd: Command, a: string, next: string | undefined): boolean | undefined {
  if (a === '-h' || a === '--help') return false; // commander's help option, not in .options
  const inline = a.startsWith('--') ? a.includes('=') : a.length > 2; // --opt=value, -ovalue
  const flag = a.startsWith('--') ? a.split('=', 1)[0] : a.slice(0, 2);
  for (let c: Command | null = cmd; c !== null; c = c.parent) {
    const opt = c.options.find((o: Option) => o.long === flag || o.short === flag);
    if (opt === undefined) continue;
    if (inline) return false;
    if (opt.required) return true;
    return opt.optional && next !== undefined && !next.startsWith('-');
  }
  return undefined;
}

/**
 * Makes every group report an unknown subcommand that commander itself meets (after `--`, past an
 * option commander parses) with unknownCommandError, so commander never suggests commands (it would
 * suggest destructive ones) while it still suggests options.
 */
export function reportUnknownCommandsHere(program: Command): void {
  const walk = (cmd: Command): void => {
    if (cmd.commands.length === 0) return;
    cmd.on('command:*', (operands: string[]) => {
      throw unknownCommandError({ parent: cmd, word: operands[0] ?? '' });
    });
    for (const sub of cmd.commands) walk(sub);
  };
  walk(program);
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
  const close = suggestCommands(u.parent, u.word);
  // Commander's wording, which scripts may already look for.
  const mean = close.length === 0 ? '' : close.length === 1 ? `\n(Did you mean ${close[0]}?)` : `\n(Did you mean one of ${close.join(', ')}?)`;
  return new CliError(`unknown command '${u.word}'${mean}`, {
    code: 'CAXTON_CLI_UNKNOWN_COMMAND',
    exitCode: EXIT_USAGE,
    hint: `${where === 'caxton' ? 'The commands are' : `The ${where} commands are`}: ${available.join(', ')}; ${seeHelp}.`,
  });
}
