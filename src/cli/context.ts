/**
 * The global options (`--api-url`, `--api-key`, `--data-dir`, `--ca-cert`, `--client-cert`,
 * `--client-key`, `-o/--output`) and what a command's
 * action gets from them. The options are accepted before the command (`caxton -o json agent list`),
 * between a group and its subcommand (`caxton agent -o json list`) and after it (`caxton agent list
 * -o json`): the program and every group have them with positional parsing (a group's options end at
 * its subcommand, so a subcommand's own `--output <file>` stays its own), and every command that
 * talks to the API gets its own copy, so they show in its `--help` too.
 */
import { type Command, Option } from 'commander';
import { ApiClient } from './client.js';
import { type Connection, resolveConnection } from './credentials.js';
import { tlsFetch } from './tls-fetch.js';
import { type OutputFormat, type Out, renderJson, stdout } from './output.js';

export type GlobalKey = 'apiUrl' | 'apiKey' | 'dataDir' | 'caCert' | 'clientCert' | 'clientKey' | 'output';

const GLOBAL_OPTIONS: readonly { key: GlobalKey; make: () => Option }[] = [
  { key: 'apiUrl', make: () => new Option('--api-url <url>', 'the node\'s API (env CAXTON_API_URL; default http://127.0.0.1:8080)') },
  { key: 'apiKey', make: () => new Option('--api-key <key>', 'API key (env CAXTON_API_KEY; default: the admin.key in the data dir)') },
  { key: 'dataDir', make: () => new Option('--data-dir <dir>', 'data dir of a local node, to read its admin.key (env CAXTON_DATA_DIR; default ./.caxton)') },
  { key: 'caCert', make: () => new Option('--ca-cert <file>', 'CA certificate (PEM) that issued an https:// API\'s certificate (env CAXTON_CA_CERT; default: the system\'s CAs)') },
  { key: 'clientCert', make: () => new Option('--client-cert <file>', 'client certificate (PEM) for an API that asks for one (env CAXTON_CLIENT_CERT)') },
  { key: 'clientKey', make: () => new Option('--client-key <file>', 'private key of --client-cert, mode 0600 (env CAXTON_CLIENT_KEY)') },
  { key: 'output', make: () => new Option('-o, --output <format>', 'table or json (default table)').choices(['table', 'json']) },
];

/** Which global options each command carries (a command's own `--output` or `--data-dir` wins). */
const carried = new WeakMap<Command, Set<GlobalKey>>();
/**
 * Commands that do not talk to the API, with the few global options they still take (e.g. `server
 * start`: none), and groups that carry only some (the `server` group: not `--data-dir`, which
 * `server start` has as its own).
 */
const localCommands = new WeakMap<Command, ReadonlySet<GlobalKey>>();

export function markLocal(cmd: Command, keep: readonly GlobalKey[] = []): Command {
  localCommands.set(cmd, new Set(keep));
  return cmd;
}

/** Adds the global options to the program and to every group and leaf command below it. */
export function applyGlobalOptions(program: Command): void {
  const walk = (cmd: Command): void => {
    if (cmd.commands.length === 0) {
      addTo(cmd, localCommands.get(cmd));
      return;
    }
    cmd.enablePositionalOptions();
    addTo(cmd, localCommands.get(cmd));
    for (const sub of cmd.commands) walk(sub);
  };
  walk(program);
}

function addTo(cmd: Command, only?: ReadonlySet<GlobalKey>): void {
  const keys = new Set<GlobalKey>();
  for (const g of GLOBAL_OPTIONS) {
    if (only !== undefined && !only.has(g.key)) continue;
    const opt = g.make();
    const taken = cmd.options.some((o) => o.long === opt.long || (opt.short !== undefined && o.short === opt.short));
    if (taken) continue;
    cmd.addOption(opt);
    keys.add(g.key);
  }
  carried.set(cmd, keys);
}

export interface GlobalOptions {
  apiUrl?: string;
  apiKey?: string;
  dataDir?: string;
  caCert?: string;
  clientCert?: string;
  clientKey?: string;
  output?: OutputFormat;
}

/** The global options in effect for `cmd`: its own copy first, then its ancestors'. */
export function globalOptions(cmd: Command): GlobalOptions {
  const result: GlobalOptions = {};
  for (let c: Command | null = cmd; c !== null; c = c.parent) {
    const keys = carried.get(c);
    if (keys === undefined) continue;
    const opts = c.opts<Record<string, unknown>>();
    for (const key of keys) {
      const v = opts[key];
      if (result[key] === undefined && typeof v === 'string') (result as Record<string, string>)[key] = v;
    }
  }
  return result;
}

let activeFormat: OutputFormat = 'table';

/** The output format of the command running now (main uses it to print errors as JSON). */
export function currentFormat(): OutputFormat {
  return activeFormat;
}

/**
 * The output format the command line asks for (`-o json`, `--output=json`, `-ojson`; the last one
 * given, before `--`), read from the words before commander parses them, so that an error raised
 * before a command's action sets the format (an unknown command, a bad argument, commander's own
 * usage errors) is printed as JSON too. A command's own `--output <file>` (debug dump) counts only if
 * the file is named json or table; its action sets the real format.
 */
export function presetFormat(args: readonly string[]): OutputFormat {
  let format: OutputFormat = 'table';
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') break;
    let value: string | undefined;
    if (a === '-o' || a === '--output') value = args[++i];
    else if (a.startsWith('--output=')) value = a.slice('--output='.length);
    else if (a.startsWith('-o') && !a.startsWith('--')) value = a.slice(2);
    if (value === 'json' || value === 'table') format = value;
  }
  activeFormat = format;
  return format;
}

export interface Context {
  readonly format: OutputFormat;
  readonly json: boolean;
  readonly connection: Connection;
  readonly client: ApiClient;
  readonly out: Out;
  /** Prints `value` as JSON with `-o json`, else the human text (computed only then). */
  print(value: unknown, human: () => string): void;
}

export function context(cmd: Command, env: NodeJS.ProcessEnv = process.env, opts: { readonly caCertAlsoIssuer?: boolean } = {}): Context {
  const g = globalOptions(cmd);
  const format: OutputFormat = g.output ?? 'table';
  activeFormat = format;
  let connection = resolveConnection(g, env);
  // `security rotate-certs --ca-cert ca.crt --ca-key ca.key` (the runbook's form): --ca-cert names the
  // issuing CA; it also trusts an https:// API, and is simply not needed for an http:// one.
  if (opts.caCertAlsoIssuer === true && connection.tls !== undefined && !/^https:\/\//i.test(connection.apiUrl)) {
    const { caCert: _issuer, ...rest } = connection.tls;
    connection = { ...connection, tls: Object.keys(rest).length === 0 ? undefined : rest };
  }
  const client = new ApiClient(connection, connection.tls === undefined ? fetch : tlsFetch(connection));
  const out = stdout;
  return {
    format,
    json: format === 'json',
    connection,
    client,
    out,
    print(value, human) {
      out.write(format === 'json' ? renderJson(value) : human());
    },
  };
}

/**
 * Only the output format, for commands that need no server. `own` is a command's own format option,
 * for those whose `--output` means something else (`security init-ca --output DIR` takes `-o json`).
 */
export function outputFormat(cmd: Command, own?: OutputFormat): OutputFormat {
  activeFormat = own ?? globalOptions(cmd).output ?? 'table';
  return activeFormat;
}
