/**
 * `caxton security cert-status` and `rotate-certs` (docs/security.md): unlike the other `security`
 * commands they talk to a node's API, which answers for every node of the cluster.
 */
import { type Command, Option } from 'commander';
import { issueNodeCert, NODE_DAYS } from '../../security/pki.js';
import { readCaDir, readCaFiles } from '../../security/ca-files.js';
import { isCaxtonError } from '../../errors.js';
import type { ApiClient } from '../client.js';
import { context } from '../context.js';
import { CliError, usageError } from '../errors.js';
import { renderTable, stdout } from '../output.js';
import { intOption } from '../parse.js';
import { ok, sleep } from './common.js';
import { politely } from '../poll.js';

/** A certificate expiring within this many days is a warning (the runbook's threshold), and exit 1. */
export const WARN_DAYS = 30;
/** How long rotate-certs waits for a node to report its new certificate, ms. */
const CONFIRM_MS = 30_000;

interface CertView {
  subject: string;
  issuer: string;
  serial: string;
  not_after: string;
  days_left: number;
  fingerprint: string;
  sans: string[];
}

interface CertsResponse {
  nodes: { node: string; cert: CertView | null; api_cert: CertView | null }[];
  missing: { node: string; code: string | null; reason: string }[];
}

export function registerCertCommands(security: Command): void {
  security
    .command('cert-status')
    .description(`every node's certificates (node certificate for mTLS, API certificate for HTTPS): subject, issuer, not-after, days left, fingerprint; exit 1 when one expires within ${WARN_DAYS} days or a node did not answer`)
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const r = await ctx.client.get<CertsResponse>('/security/certs');
      const warnings = certWarnings(r);
      ctx.print({ ...r, warnings }, () => {
        const rows = r.nodes.flatMap((n) => [
          ...(n.cert === null ? [] : [certRow(n.node, 'node', n.cert)]),
          ...(n.api_cert === null ? [] : [certRow(n.node, 'api', n.api_cert)]),
          ...(n.cert === null && n.api_cert === null ? [[n.node, 'none', 'mTLS and HTTPS are off', '', '', '', '']] : []),
        ]);
        return renderTable(['NODE', 'CERT', 'SUBJECT', 'ISSUER', 'NOT-AFTER', 'DAYS-LEFT', 'FINGERPRINT'], rows) + warnings.map((w) => `WARNING: ${w}\n`).join('');
      });
      if (warnings.length > 0) process.exitCode = 1;
    });

  security
    .command('rotate-certs')
    .description('issue every node a new node certificate from the CA and install it, one node at a time, without a restart (each node reloads it)')
    .option('--ca <dir>', 'the directory holding ca.crt and ca.key (from `caxton security init-ca`): the CA the nodes trust')
    .option('--ca-key <file>', 'the CA\'s private key, with the CA certificate given by --ca-cert (the runbook\'s form; instead of --ca)')
    .addOption(new Option('--days <n>', `validity in days (default ${NODE_DAYS})`).argParser(intOption('--days', 1)))
    .action(async (opts: { ca?: string; caKey?: string; days?: number }, cmd: Command) => {
      const caCert = (cmd.optsWithGlobals() as { caCert?: string }).caCert;
      if ((opts.ca === undefined) === (opts.caKey === undefined) || (opts.caKey !== undefined && caCert === undefined)) {
        throw usageError('give the CA as --ca <dir>, or as --ca-cert <file> --ca-key <file>', 'caxton security rotate-certs --ca /etc/caxton/certs, or --ca-cert /etc/caxton/ca.crt --ca-key /etc/caxton/ca.key');
      }
      const ctx = context(cmd, process.env, { caCertAlsoIssuer: opts.caKey !== undefined });
      const ca = opts.ca !== undefined ? readCa(opts.ca) : readCa({ cert: caCert as string, key: opts.caKey as string });
      const before = await ctx.client.get<CertsResponse>('/security/certs');
      if (before.missing.length > 0) {
        throw new CliError(`not every node answered: ${before.missing.map((m) => `${m.node} (${m.reason})`).join(', ')}`, { hint: 'Rotate when every node is up: `caxton cluster status` shows them.', code: 'CAXTON_CLI_NODES_MISSING' });
      }
      const off = before.nodes.filter((n) => n.cert === null).map((n) => n.node);
      if (off.length > 0) {
        throw new CliError(`${off.join(', ')} ${off.length === 1 ? 'runs' : 'run'} without mTLS between nodes: no node certificate to rotate`, { hint: 'Turn on security.cluster.mtls on every node first (docs/security.md).', code: 'CAXTON_ERR_TLS_NOT_ENABLED' });
      }
      const rotated: { node: string; serial: string; fingerprint: string; not_after: string; old_fingerprint: string }[] = [];
      for (const n of before.nodes) {
        const old = n.cert as CertView;
        // The same names as now: the node id comes first, the other DNS and IP names follow.
        const sans = old.sans.map((s) => s.replace(/^(DNS|IP):/, '')).filter((s) => s !== n.node);
        const issued = await issueNodeCert(ca, { nodeId: n.node, sans, ...(opts.days === undefined ? {} : { days: opts.days }) });
        await ctx.client.post('/security/node-cert', { node: n.node, cert: issued.certPem, key: issued.keyPem });
        const now = await confirm(ctx.client, n.node, issued.fingerprint);
        const entry = { node: n.node, serial: issued.serial, fingerprint: issued.fingerprint, not_after: now.not_after, old_fingerprint: old.fingerprint };
        rotated.push(entry);
        if (!ctx.json) stdout.write(ok(`${n.node}: new certificate in use, serial ${entry.serial}, not after ${entry.not_after}, fingerprint ${entry.fingerprint}`));
      }
      if (ctx.json) ctx.print({ rotated, count: rotated.length }, () => '');
      else stdout.write(ok(`rotated ${rotated.length} node certificate${rotated.length === 1 ? '' : 's'}`));
    });
}

/** The CA that issues, with a hint that says what --ca is when it is not there. */
function readCa(where: string | { readonly cert: string; readonly key: string }): ReturnType<typeof readCaDir> {
  try {
    return typeof where === 'string' ? readCaDir(where) : readCaFiles(where);
  } catch (e) {
    if (isCaxtonError(e)) throw new CliError(e.message, { code: e.code, hint: `--ca takes the directory where \`caxton security init-ca --output DIR\` wrote ca.crt and ca.key (the key mode 0600): the CA the nodes' security.cluster.mtls.ca_cert holds.`, ...(e.details === undefined ? {} : { details: { ...e.details } }), cause: e });
    throw e;
  }
}

/** Waits until `node` reports `fingerprint` as its node certificate (it reloads before it answers; this checks). */
async function confirm(client: ApiClient, node: string, fingerprint: string): Promise<CertView> {
  const deadline = Date.now() + CONFIRM_MS;
  let seen = 'nothing';
  for (;;) {
    const r = await politely(() => client.get<CertsResponse>('/security/certs'), deadline);
    const c = r.nodes.find((x) => x.node === node)?.cert;
    if (c?.fingerprint === fingerprint) return c;
    seen = c === undefined ? 'no answer' : c === null ? 'no certificate' : `fingerprint ${c.fingerprint}`;
    if (Date.now() > deadline) {
      throw new CliError(`${node} did not report its new certificate within ${CONFIRM_MS / 1000} s (it reports ${seen})`, { hint: `Check ${node}'s log for "certificate reload refused".`, code: 'CAXTON_CLI_ROTATION_UNCONFIRMED' });
    }
    await sleep(250);
  }
}

/** The runbook's warnings: a certificate under WARN_DAYS days, and a node that did not answer. */
export function certWarnings(r: CertsResponse): string[] {
  const out: string[] = [];
  for (const n of r.nodes) {
    for (const [what, c] of [['node', n.cert], ['api', n.api_cert]] as const) {
      if (c === null) continue;
      if (c.days_left < 0) out.push(`${n.node} ${what} certificate has expired (not after ${c.not_after})`);
      else if (c.days_left < WARN_DAYS) out.push(`${n.node} ${what} certificate expires in ${c.days_left} days (not after ${c.not_after}); rotate it: caxton security rotate-certs --ca <ca dir>`);
    }
  }
  for (const m of r.missing) out.push(`${m.node} did not answer: ${m.reason}`);
  return out;
}

function certRow(node: string, what: string, c: CertView): string[] {
  return [node, what, c.subject, c.issuer, c.not_after, String(c.days_left), c.fingerprint];
}
