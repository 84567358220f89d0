import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommanderError, type Command } from 'commander';
import { buildProgram } from '../../../src/cli/main.js';
import { DESTRUCTIVE_WORDS, isDestructive } from '../../../src/cli/destructive.js';
import { findUnknownCommand, suggestCommands, unknownCommandError } from '../../../src/cli/unknown-command.js';
import { CliError, EXIT_USAGE } from '../../../src/cli/errors.js';
import { globalOptions } from '../../../src/cli/context.js';

const program = await buildProgram();

/** Every command below the program with its path, hidden ones included. */
function walk(cmd: Command, path: string[] = []): { cmd: Command; path: string[] }[] {
  return cmd.commands.flatMap((c) => [{ cmd: c, path: [...path, c.name()] }, ...walk(c, [...path, c.name()])]);
}
const all = walk(program);
const groups = [{ cmd: program, path: [] as string[] }, ...all.filter((x) => x.cmd.commands.length > 0)];

/** Misspellings of a word: each letter dropped, doubled, replaced, and each neighbouring pair swapped. */
function typos(word: string): string[] {
  const out = new Set<string>();
  for (let i = 0; i < word.length; i++) {
    out.add(word.slice(0, i) + word.slice(i + 1));
    out.add(word.slice(0, i) + word[i] + word.slice(i));
    out.add(`${word.slice(0, i)}x${word.slice(i + 1)}`);
    if (i + 1 < word.length) out.add(word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2));
  }
  out.delete(word);
  return [...out];
}

test('cli unknown commands - found at every level before option parsing, past the options and their values', () => {
  for (const { cmd, path } of groups) {
    const u = findUnknownCommand(program, [...path, 'zzzz', '--output', '/some/dir']);
    assert.equal(u?.parent, cmd, path.join(' '));
    assert.equal(u?.word, 'zzzz');
  }
  assert.equal(findUnknownCommand(program, ['-o', 'json', 'agnt', 'list'])?.word, 'agnt', 'a global option\'s value is not a command');
  assert.equal(findUnknownCommand(program, ['--api-url=http://x', 'bogus'])?.word, 'bogus');
  assert.equal(findUnknownCommand(program, ['agent', 'list', '--state', 'running']), undefined);
  assert.equal(findUnknownCommand(program, ['agents', 'ls']), undefined, 'aliases are commands');
  assert.equal(findUnknownCommand(program, ['agent', 'deploy', 'anything', 'goes']), undefined, 'arguments of a command are not commands');
  assert.equal(findUnknownCommand(program, ['help', 'agent']), undefined);
  assert.equal(findUnknownCommand(program, ['--version']), undefined);
});

test('cli unknown commands - every command of the runbook is a command (none is still to come)', () => {
  const runbook = [
    ['backup', 'create', '--type', 'full'], ['backup', 'verify', '--id', 'backup-20240115-0200'], ['backup', 'restore', '--id', 'x', '--target', '/var/lib/caxton/'],
    ['cluster', 'upgrade', 'start', '--version', 'v1.2.0'], ['cluster', 'upgrade', 'status'], ['cluster', 'upgrade', 'rollback'],
    ['cluster', 'stop', '--all'], ['cluster', 'start', '--verify'], ['cluster', 'rolling-restart', '--reason', 'cert-rotation'],
    ['emergency', 'stop', '--cluster'],
  ];
  for (const args of runbook) assert.equal(findUnknownCommand(program, args), undefined, args.join(' '));
});

test('cli unknown commands - a plain unknown command names the closest commands and lists the rest', () => {
  const e = unknownCommandError(findUnknownCommand(program, ['agent', 'lsit'])!);
  assert.equal(e.code, 'CAXTON_CLI_UNKNOWN_COMMAND');
  assert.equal(e.message, "unknown command 'lsit'\n(Did you mean list?)");
  assert.match(e.hint ?? '', /^The caxton agent commands are: deploy, list, inspect, .*; see `caxton agent --help`\.$/);
  assert.deepEqual(suggestCommands(program, 'agnt'), ['agent']);
  assert.deepEqual(suggestCommands(all.find((x) => x.path.join(' ') === 'agent')!.cmd, 'insp'), ['inspect']);
});

test('cli destructive - every command named like a destructive action is marked, and the marks are the expected ones', () => {
  const marked = all.filter((x) => isDestructive(x.cmd)).map((x) => x.path.join(' ')).sort();
  for (const { cmd, path } of all) {
    if ([cmd.name(), ...cmd.aliases()].some((n) => DESTRUCTIVE_WORDS.includes(n))) assert.ok(isDestructive(cmd), `caxton ${path.join(' ')} must be marked destructive (src/cli/destructive.ts)`);
  }
  assert.deepEqual(marked, [
    'agent promote', 'agent remove', 'agent restart', 'agent rollback', 'agent stop', 'agent suspend', 'agent upgrade',
    'backup prune', 'backup restore',
    'circuit-breaker activate', 'circuit-breaker reset',
    'cluster isolate', 'cluster keys remove', 'cluster keys use', 'cluster leave', 'cluster rebuild', 'cluster remove', 'cluster resolve-partition', 'cluster restore', 'cluster shed-load', 'cluster stop',
    'cluster upgrade', 'cluster upgrade rollback', 'cluster upgrade start',
    'emergency stop', 'key revoke', 'security revoke',
  ]);
});

test('cli destructive - no misspelling of any command, at any level, is answered with a destructive one', () => {
  let checked = 0;
  for (const { cmd, path } of groups) {
    const destructiveNames = new Set(cmd.commands.filter(isDestructive).flatMap((c) => [c.name(), ...c.aliases()]));
    const words = new Set([...cmd.commands.flatMap((c) => [c.name(), ...c.aliases()]).flatMap(typos), 'rejoin', 'purge', 'undeploy', 'delet', 'kil', 'reset', 'stp']);
    for (const w of words) {
      if (cmd.commands.some((c) => c.name() === w || c.aliases().includes(w))) continue;
      const offered = suggestCommands(cmd, w);
      for (const o of offered) assert.ok(!destructiveNames.has(o), `caxton ${[...path, w].join(' ')} suggested the destructive ${o}`);
      const u = findUnknownCommand(program, [...path, w]);
      assert.equal(u?.parent, cmd);
      const message = unknownCommandError(u!).message;
      for (const d of destructiveNames) assert.ok(!new RegExp(`Did you mean[^)]*[ ,]${d}[,?]`).test(message), `caxton ${[...path, w].join(' ')}: ${message}`);
      checked++;
    }
  }
  assert.ok(checked > 1000, `${checked} misspellings checked`);
  // The case from the field: `cluster rejoin`, before it existed, offered `remove`; a typo of it now
  // offers rejoin alone, never remove or isolate.
  assert.deepEqual(suggestCommands(all.find((x) => x.path.join(' ') === 'cluster')!.cmd, 'rejion'), ['rejoin']);
});

test('cli unknown commands - a global option between a group and its subcommand is an option, with its value, at any level', () => {
  for (const args of [['agent', '-o', 'json', 'list'], ['cluster', '-o', 'json', 'members'], ['cluster', 'keys', '--output', 'json', 'list'], ['agent', '--output=json', 'list'], ['agent', '-ojson', 'list'], ['agent', '--api-url', 'http://x:1', 'list']]) {
    assert.equal(findUnknownCommand(program, args), undefined, args.join(' '));
  }
  assert.deepEqual(findUnknownCommand(program, ['agent', '-o', 'json', 'lsit'])?.word, 'lsit');
  // An option nobody has, before the subcommand: commander reports the option, not "unknown command".
  assert.equal(findUnknownCommand(program, ['agent', '--bogus', 'value', 'list']), undefined);
});

test('cli unknown commands - commander\'s own unknown commands (after --) are ours: no destructive suggestion; global options parse between group and subcommand', async () => {
  const p = await buildProgram();
  const quiet = (c: Command): void => {
    c.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
    c.commands.forEach(quiet);
  };
  quiet(p);
  await assert.rejects(p.parseAsync(['agent', '--', 'remov'], { from: 'user' }), (e: unknown) => {
    assert.ok(e instanceof CliError, String(e));
    assert.equal(e.code, 'CAXTON_CLI_UNKNOWN_COMMAND');
    assert.equal(e.exitCode, EXIT_USAGE);
    assert.doesNotMatch(e.message, /remove/);
    return true;
  });
  // Where the action would run, the options it sees: -o json from between `agent` and `list`.
  const seen: string[] = [];
  const stop = new Error('stop before the action');
  p.hook('preAction', (_t, cmd) => {
    seen.push(`${cmd.name()} ${globalOptions(cmd).output}`);
    throw stop;
  });
  for (const args of [['agent', '-o', 'json', 'list'], ['cluster', '-o', 'json', 'members'], ['debug', '-o', 'json', 'dump', '--output', 'x.tar.gz']]) {
    await assert.rejects(p.parseAsync(args, { from: 'user' }), (e: unknown) => e === stop, args.join(' '));
  }
  assert.deepEqual(seen, ['list json', 'members json', 'dump json']);
  // `server --data-dir x start` would be the CLI's --data-dir, not the node's: refused as an option.
  await assert.rejects(p.parseAsync(['server', '--data-dir', '/tmp/x', 'start'], { from: 'user' }), (e: unknown) => e instanceof CommanderError && e.code === 'commander.unknownOption');
});
