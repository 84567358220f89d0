/** The `caxton` command line. One file per command group registers its commands here. */
import { Command, CommanderError } from 'commander';
import { registerAgent } from './commands/agent.js';
import { registerAudit } from './commands/audit.js';
import { registerBackup, registerClusterBackup } from './commands/backup.js';
import { registerTools } from './commands/tools.js';
import { registerMcp } from './commands/mcp.js';
import { registerCircuitBreaker } from './commands/circuit-breaker.js';
import { registerCluster } from './commands/cluster.js';
import { registerConfig } from './commands/config.js';
import { registerDebug } from './commands/debug.js';
import { registerDev } from './commands/dev.js';
import { registerEmergency } from './commands/emergency.js';
import { registerKey } from './commands/key.js';
import { registerMessage } from './commands/message.js';
import { registerNew } from './commands/new.js';
import { registerQueue } from './commands/queue.js';
import { registerResources } from './commands/resources.js';
import { registerSecurity } from './commands/security.js';
import { registerWaitReady } from './commands/wait-ready.js';
import { registerServerStatus } from './commands/server-status.js';
import { registerServer } from './server.js';
import { registerCompletion } from './completion.js';
import { applyGlobalOptions, currentFormat, markLocal, presetFormat } from './context.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE } from './errors.js';
import { renderJson, stdout } from './output.js';
import { findUnknownCommand, reportUnknownCommandsHere, unknownCommandError } from './unknown-command.js';
import { VERSION } from '../version.js';

const QUICK_START = `
Quick start:
  caxton new agent hello --lang assemblyscript         a new agent project (docs/first-agent.md)
  caxton server start                                  run a node here (data in ./.caxton)
  caxton deploy build/agents/echo.wasm --name echo     deploy an agent
  caxton agent list                                    list agents
  caxton dev my-agent                                  build, deploy, and upgrade on every change
  caxton message send --to echo --performative request --content '"hi"' --wait-reply
  caxton completion bash                               shell completion (also zsh, fish)

The CLI finds the API at --api-url, CAXTON_API_URL or http://127.0.0.1:8080, and its key in
--api-key, CAXTON_API_KEY or <data-dir>/admin.key. Every command takes -o json. Docs: docs/cli.md
`;

/**
 * The whole command tree. `server start` (./server.js) loads the node and its config schema only
 * when it runs, so building the tree stays cheap for every other command.
 */
export async function buildProgram(): Promise<Command> {
  const program = new Command('caxton')
    .description('Caxton: a server for multi-agent systems')
    .version(VERSION)
    .showSuggestionAfterError(true)
    .exitOverride();
  program.addHelpText('after', QUICK_START);

  const server = registerServer(program);
  for (const c of server.commands) markLocal(c);
  // `caxton server --data-dir x start` would take x as the global option (where the CLI reads the
  // admin key), not as the node's data dir: refused instead, as an option the group does not have.
  markLocal(server, ['apiUrl', 'apiKey', 'caCert', 'clientCert', 'clientKey', 'output']);
  registerServerStatus(server);
  // Reads the node's configuration, not the CLI's connection: none of the global options.
  markLocal(registerWaitReady(server));

  registerAgent(program);
  registerDev(program);
  registerMessage(program);
  registerQueue(program);
  registerResources(program);
  registerDebug(program);
  registerConfig(program);
  registerCircuitBreaker(program);
  registerEmergency(program);
  registerKey(program);
  registerAudit(program);
  registerTools(program);
  registerMcp(program);
  registerCluster(program);
  registerBackup(program);
  const clusterGroup = program.commands.find((c) => c.name() === 'cluster');
  if (clusterGroup !== undefined) registerClusterBackup(clusterGroup);
  registerSecurity(program);
  // Writes files here, talks to no server: of the global options only -o json.
  const newGroup = registerNew(program);
  markLocal(newGroup, ['output']);
  for (const c of newGroup.commands) markLocal(c, ['output']);
  const { completion } = registerCompletion(program);
  markLocal(completion);
  const validate = program.commands.find((c) => c.name() === 'config')?.commands.find((c) => c.name() === 'validate');
  if (validate !== undefined) markLocal(validate, ['output']);

  applyGlobalOptions(program);
  reportUnknownCommandsHere(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = await buildProgram();
  let acting = false;
  program.hook('preAction', () => {
    acting = true;
  });
  try {
    if (argv.length <= 2) {
      // Bare `caxton`: the help with its quick start, on stdout, as a success.
      program.outputHelp();
      return;
    }
    // Errors raised before a command's action sets the format are printed as JSON too with -o json.
    presetFormat(argv.slice(2));
    // Before commander parses options: an option of a command that does not exist is not the problem.
    const unknown = findUnknownCommand(program, argv.slice(2));
    if (unknown !== undefined) throw unknownCommandError(unknown);
    await program.parseAsync(argv);
  } catch (e) {
    // Commander has printed its own message (an unknown option with "Did you mean ...?", a missing
    // argument) on stderr; with -o json it goes to stdout in the one error shape too.
    if (e instanceof CommanderError) {
      if (e.exitCode !== 0 && currentFormat() === 'json' && !stdout.written) {
        process.stdout.write(renderJson({ error: { code: 'CAXTON_CLI_USAGE', message: e.message.replace(/^error: /, ''), details: { commander: e.code } } }));
      }
      process.exit(e.exitCode === 0 ? 0 : EXIT_USAGE);
    }
    const err = e as Error & { hint?: unknown };
    const exitCode = e instanceof CliError ? e.exitCode : acting ? EXIT_FAILURE : EXIT_USAGE;
    const hint = typeof err.hint === 'string' ? err.hint : undefined;
    process.stderr.write(`error: ${err.message}\n${hint === undefined ? '' : `hint: ${hint}\n`}`);
    if (process.env['CAXTON_DEBUG'] !== undefined && err.stack !== undefined) process.stderr.write(`${err.stack}\n`);
    if (currentFormat() === 'json' && !stdout.written) {
      const body = e instanceof CliError ? e.toJSON() : { error: { code: 'CAXTON_CLI_ERROR', message: err.message, ...(hint === undefined ? {} : { hint }) } };
      process.stdout.write(renderJson(body));
    }
    process.exit(exitCode);
  }
}
