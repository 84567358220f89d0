/**
 * `caxton security init-ca|gen-cert|gen-client-cert`: the built-in CA (docs/security.md). They run
 * here, on files, with no server: the CA key should live on the operator's machine, not on a node.
 * `revoke` and `revoked` are the exception: they ask a node's API, since the revocation list lives in
 * the cluster.
 *
 * Each takes `--output DIR` (the runbook's spelling), so the global `--output <format>` cannot be
 * theirs; `-o json` still works: they carry `-o` alone.
 */
import { type Command, Option } from 'commander';
import { ROLE_NAMES } from '../../api/auth.js';
import { isCaxtonError } from '../../errors.js';
import { resolve } from 'node:path';
import { type PairPaths, caPaths, pairPaths, prepareOutput, readCaDir, writePair } from '../../security/ca-files.js';
import { CA_DAYS, CLIENT_DAYS, NODE_DAYS, createCa, describeCert, issueClientCert, issueNodeCert } from '../../security/pki.js';
import { destructive } from '../destructive.js';
import { context, markLocal, outputFormat } from '../context.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE, usageError } from '../errors.js';
import { type OutputFormat, countFooter, renderFields, renderJson, renderTable, stdout } from '../output.js';
import { intOption } from '../parse.js';
import { ok } from './common.js';
import { registerCertCommands } from './certs.js';

interface Common {
  output: string;
  days?: number;
  force?: boolean;
  o?: OutputFormat;
}

export function registerSecurity(program: Command): Command {
  const security = program.command('security').description('the built-in certificate authority (CA, node and client certificates: local files, no server); the nodes\' certificates (cert-status, rotate-certs) and revocation (revoke, revoked): through a node');
  // Only -o reaches these commands: no API connection is made.
  markLocal(security, ['output']);

  local(security.command('init-ca'))
    .description(`create the cluster CA: DIR/ca.crt and DIR/ca.key (mode 0600), valid ${CA_DAYS} days by default`)
    .requiredOption('--output <dir>', 'directory to write to (created with mode 0700)')
    .option('--days <n>', `validity in days (default ${CA_DAYS})`, intOption('--days', 1))
    .option('--force', 'replace an existing ca.crt and ca.key (every certificate of the old CA stops being accepted)')
    .action((opts: Common, cmd: Command) => run(cmd, opts, async (format) => {
      const p = caPaths(opts.output);
      const ca = await createCa({ days: opts.days });
      prepareOutput(opts.output, [p.cert, p.key], opts.force === true);
      writePair(p, ca, opts.force === true);
      const d = describeCert(ca.certPem);
      const result = { ca_cert: p.cert, ca_key: p.key, subject: d.subject, serial: d.serial, fingerprint: d.fingerprint, not_after: d.notAfter };
      print(format, result, () =>
        ok(`CA created in ${opts.output}`) +
          renderFields([['certificate', p.cert], ['key', `${p.key} (mode 0600: keep it off the nodes)`], ['subject', d.subject], ['fingerprint', `SHA256 ${d.fingerprint}`], ['not after', d.notAfter]]),
      );
    }));

  local(security.command('gen-cert'))
    .description(`issue a node certificate from the CA: DIR/<node-id>.crt and DIR/<node-id>.key (mode 0600), valid ${NODE_DAYS} days by default`)
    .requiredOption('--node-id <id>', 'the node\'s node.id: the certificate\'s CN and first DNS name')
    .option('--san <name>', 'another DNS name or IP address of the node (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .requiredOption('--ca <dir>', 'the directory holding ca.crt and ca.key (from `caxton security init-ca`)')
    .requiredOption('--output <dir>', 'directory to write to (created with mode 0700)')
    .option('--days <n>', `validity in days (default ${NODE_DAYS})`, intOption('--days', 1))
    .option('--force', 'replace existing files of that name')
    .action((opts: Common & { nodeId: string; san?: string[]; ca: string }, cmd: Command) => run(cmd, opts, async (format) => {
      const ca = readCa(opts.ca);
      const p = pairPaths(opts.output, opts.nodeId);
      notTheCa(p, opts.ca);
      const issued = await issueNodeCert(ca, { nodeId: opts.nodeId, sans: opts.san ?? [], days: opts.days });
      prepareOutput(opts.output, [p.cert, p.key], opts.force === true);
      writePair(p, issued, opts.force === true);
      const d = describeCert(issued.certPem);
      const result = { node_id: opts.nodeId, cert: p.cert, key: p.key, subject: d.subject, issuer: d.issuer, sans: d.sans, serial: d.serial, fingerprint: d.fingerprint, not_after: d.notAfter };
      print(format, result, () =>
        ok(`certificate for node ${opts.nodeId} written to ${opts.output}`) +
          renderFields([['certificate', p.cert], ['key', `${p.key} (mode 0600)`], ['names', d.sans.join(', ')], ['serial', d.serial], ['fingerprint', `SHA256 ${d.fingerprint}`], ['not after', d.notAfter]]),
      );
    }));

  local(security.command('gen-client-cert'))
    .description(`issue a client certificate for the API from the CA: DIR/<name>.crt and DIR/<name>.key (mode 0600), valid ${CLIENT_DAYS} days by default; the role is its OU`)
    .requiredOption('--name <name>', 'who the certificate is for: its CN (the characters of an API key name)')
    .addOption(new Option('--role <role>', 'viewer (read), developer (deploy, send), operator (control, send) or admin').choices(ROLE_NAMES).makeOptionMandatory())
    .requiredOption('--ca <dir>', 'the directory holding ca.crt and ca.key (from `caxton security init-ca`)')
    .requiredOption('--output <dir>', 'directory to write to (created with mode 0700)')
    .option('--days <n>', `validity in days (default ${CLIENT_DAYS})`, intOption('--days', 1))
    .option('--force', 'replace existing files of that name')
    .action((opts: Common & { name: string; role: string; ca: string }, cmd: Command) => run(cmd, opts, async (format) => {
      const ca = readCa(opts.ca);
      const p = pairPaths(opts.output, opts.name);
      notTheCa(p, opts.ca);
      const issued = await issueClientCert(ca, { name: opts.name, role: opts.role, days: opts.days });
      prepareOutput(opts.output, [p.cert, p.key], opts.force === true);
      writePair(p, issued, opts.force === true);
      const d = describeCert(issued.certPem);
      const result = { name: opts.name, role: opts.role, cert: p.cert, key: p.key, subject: d.subject, issuer: d.issuer, serial: d.serial, fingerprint: d.fingerprint, not_after: d.notAfter };
      print(format, result, () =>
        ok(`client certificate for ${opts.name} (role ${opts.role}) written to ${opts.output}`) +
          renderFields([['certificate', p.cert], ['key', `${p.key} (mode 0600)`], ['subject', d.subject], ['serial', d.serial], ['fingerprint', `SHA256 ${d.fingerprint}`], ['not after', d.notAfter]]),
      );
    }));

  // These two talk to a node's API (every global option), unlike the CA commands above.
  registerCertCommands(security);
  // These two ask a node (the API, admin key): the revocation list lives in the cluster, not in files.
  destructive(security.command('revoke'))
    .description('revoke a node\'s certificates (the one it presents now and any issued for it before now) or one certificate by serial, on every node: revoked peers are refused at their next handshake and their open connections closed')
    .option('--node <name>', 'the node whose certificates to revoke')
    .option('--serial <hex>', 'the serial number of one certificate (as gen-cert and cert-status show it)')
    .option('--reason <text>', 'why, kept in the list and the logs')
    .action(async (opts: { node?: string; serial?: string; reason?: string }, cmd: Command) => {
      if ((opts.node === undefined) === (opts.serial === undefined)) throw usageError('give exactly one of --node or --serial', 'caxton security revoke --node node-3 --reason "key lost", or --serial 4F2A...');
      const ctx = context(cmd);
      const r = await ctx.client.post<{ node: string; revoked: RevokedView[] }>('/security/revoke', {
        ...(opts.node === undefined ? {} : { node: opts.node }),
        ...(opts.serial === undefined ? {} : { serial: opts.serial }),
        ...(opts.reason === undefined ? {} : { reason: opts.reason }),
      });
      ctx.print(r, () => r.revoked.map((e) => ok(`revoked ${e.node === null ? `serial ${e.serial}` : `node ${e.node} (serial ${e.serial})`} on ${r.node}; spreading to the cluster`)).join(''));
    });
  security
    .command('revoked')
    .description('the revoked certificates (the same list on every node)')
    .action(async (_opts: object, cmd: Command) => {
      const ctx = context(cmd);
      const r = await ctx.client.get<{ node: string; entries: RevokedView[] }>('/security/revoked');
      ctx.print(r, () => renderTable(['SERIAL', 'NODE', 'REVOKED AT', 'BY', 'REASON'], r.entries.map((e) => [e.serial, e.node ?? '-', e.revoked_at, e.revoked_by, e.reason])) + countFooter(r.entries.length, 'revoked certificate') + '\n');
    });

  return security;
}

interface RevokedView {
  serial: string;
  node: string | null;
  reason: string;
  revoked_at: string;
  revoked_by: string;
}

/** A local command: `-o <format>` of its own (its `--output` is a directory), no API options. */
function local(cmd: Command): Command {
  markLocal(cmd, []);
  return cmd.addOption(new Option('-o <format>', 'table or json (default table)').choices(['table', 'json']));
}

/** Hints for what these commands meet when writing, more to the point than the code's general one. */
const FILE_HINTS: Readonly<Record<string, string>> = {
  exists: 'Write to another --output directory, or pass --force to replace the files (replacing a CA makes every certificate it issued unusable).',
  unwritable: 'Give an --output directory this user can create or write to.',
  'key-permissions': 'The CA key must be readable by its owner only: chmod 600 it.',
};

async function run(cmd: Command, opts: { o?: OutputFormat }, body: (format: OutputFormat) => Promise<void>): Promise<void> {
  const format = outputFormat(cmd, opts.o);
  try {
    await body(format);
  } catch (e) {
    // The library's coded errors, as the CLI prints them (code, message, hint; JSON with -o json).
    if (isCaxtonError(e)) {
      const problem = e.details?.['problem'];
      const hint = typeof problem === 'string' ? (FILE_HINTS[problem] ?? e.hint) : e.hint;
      throw new CliError(e.message, { code: e.code, hint, details: e.details === undefined ? undefined : { ...e.details }, exitCode: e.code === 'CAXTON_ERR_PKI_INPUT' ? EXIT_USAGE : EXIT_FAILURE, cause: e });
    }
    throw e;
  }
}

function readCa(dir: string): ReturnType<typeof readCaDir> {
  try {
    return readCaDir(dir);
  } catch (e) {
    if (isCaxtonError(e, 'CAXTON_ERR_TLS_FILE') && e.details?.['problem'] === 'missing') {
      throw new CliError(e.message, { code: e.code, hint: `--ca takes the directory where \`caxton security init-ca --output DIR\` wrote ca.crt and ca.key; ${dir} has no such CA.`, details: { ...e.details }, cause: e });
    }
    throw e;
  }
}

/** A pair named `ca` written next to the CA would replace it (with --force): refused whatever the flags. */
function notTheCa(p: PairPaths, caDir: string): void {
  const ca = caPaths(caDir);
  if (resolve(p.cert) === resolve(ca.cert) || resolve(p.key) === resolve(ca.key)) {
    throw usageError(`${p.cert} and ${p.key} are the CA's own files`, 'Write the certificate to another --output directory, or give it another name.');
  }
}

function print(format: OutputFormat, value: unknown, human: () => string): void {
  stdout.write(format === 'json' ? renderJson(value) : human());
}
