/** The `caxton` command line. One file per command group registers its commands here. */
import { Command, CommanderError } from 'commander';
import { registerServer } from './server.js';

export async function main(argv: string[]): Promise<void> {
  const program = new Command('caxton')
    .description('Caxton: a server for multi-agent systems')
    .version('0.2.0')
    .showSuggestionAfterError(true)
    .exitOverride();
  registerServer(program);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode);
    const err = e as Error & { code?: string; hint?: string };
    process.stderr.write(`error: ${err.message}\n${err.hint === undefined ? '' : `hint: ${err.hint}\n`}`);
    process.exit(1);
  }
}
