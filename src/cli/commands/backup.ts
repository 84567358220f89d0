/**
 * `caxton backup create|list|verify|restore|prune` and `caxton cluster backup` (docs/operations.md,
 * "Backups"). create and prune ask the node (it takes the snapshot while it serves traffic); verify
 * and restore run here, reading the backup themselves, so they also work with the node stopped or
 * gone: the location comes from --from, else from the backup catalog of the target and of the data
 * dir, else from the node's catalog through the API.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { isCaxtonError } from '../../errors.js';
import type { BackupProgress, BackupResult, CatalogEntry, ListedBackup, RestoreResult, S3Options, VerifyResult } from '../../storage/backup/index.js';
import type { ClusterBackupStart, JobView } from '../../api/node-backups.js';
import { context, globalOptions, type Context } from '../context.js';
import { DEFAULT_DATA_DIR } from '../credentials.js';
import { CliError, EXIT_USAGE } from '../errors.js';
import { countFooter, formatBytes, formatDuration, renderFields, renderTable } from '../output.js';
import { bar, spinner, type Progress } from '../progress.js';
import { destructive } from '../destructive.js';
import { ok, sleep } from './common.js';

/** How often a running backup job is polled, ms. */
const POLL_MS = 500;
/** A node that cannot be asked about its job this many times in a row is reported unreachable. */
const MAX_POLL_FAILURES = 20;

interface S3Flags {
  s3Endpoint?: string;
  s3Region?: string;
  s3ForcePathStyle?: boolean;
}

export function registerBackup(program: Command): void {
  const backup = program.command('backup').description('backups of a node\'s state: create, list, verify, restore, prune (docs/operations.md, "Backups")');

  backup
    .command('create')
    .description('take a backup of the node while it serves traffic (a consistent SQLite snapshot, the keys, keyring and certificates)')
    .requiredOption('--destination <location>', 'a directory on the node (created if missing) or s3://bucket/prefix; the backup goes to <location>/<id>/')
    .option('--type <type>', 'full, or incremental (the pages changed since the node\'s last backup)', 'full')
    .option('--compress', 'gzip the database (or the changed pages)')
    .option('--include-ca-key', 'also store the CA private key (backup.ca_key; default ca.key beside the cluster CA certificate)')
    .action(async (opts: { destination: string; type: string; compress?: boolean; includeCaKey?: boolean }, cmd: Command) => {
      const ctx = context(cmd);
      const body = { type: backupType(opts.type), destination: localPath(opts.destination), compress: opts.compress === true, include_ca_key: opts.includeCaKey === true };
      const started = await ctx.client.post<JobView>('/backups', body);
      const job = await follow(ctx, [started], 'backup');
      const v = job[0] as JobView;
      if (v.state === 'failed' || v.result === undefined) throw jobError(v);
      const r = v.result;
      ctx.print(r, () => backupTable([r]) + ok(`backup ${r.id} taken in ${formatDuration(r.duration_ms)}: ${formatBytes(r.size_bytes)} stored for ${formatBytes(r.database_bytes)} of database${r.type === 'incremental' ? ` (${r.pages_stored} of ${r.page_count} pages changed since ${r.parent})` : ''}`));
    });

  s3Options(
    backup
      .command('list')
      .description('the backups this node made (its catalog; read from the data dir when the node is stopped), or those at a location with --from')
      .option('--from <location>', 'list the backups at this directory or s3://bucket/prefix instead'),
  ).action(async (opts: { from?: string } & S3Flags, cmd: Command) => {
    const ctx = context(cmd);
    let rows: (CatalogEntry | ListedBackup)[];
    if (opts.from !== undefined) {
      const { listBackups } = await import('../../storage/backup/index.js');
      rows = await library(() => listBackups(localPath(opts.from as string), s3(opts)));
    } else {
      try {
        rows = (await ctx.client.get<{ backups: CatalogEntry[] }>('/backups')).backups;
      } catch (e) {
        // The node is stopped (the runbook restores with the cluster down): its catalog is a file.
        if (!(e instanceof CliError) || e.code !== 'CAXTON_CLI_UNREACHABLE') throw e;
        const { readCatalog } = await import('../../storage/backup/index.js');
        const dataDir = resolve(globalOptions(cmd).dataDir ?? process.env['CAXTON_DATA_DIR'] ?? DEFAULT_DATA_DIR);
        if (!existsSync(join(dataDir, 'backup-catalog.json'))) throw e;
        process.stderr.write(`the node does not answer (${e.message}): the catalog of ${dataDir}\n`);
        rows = readCatalog(dataDir).sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
      }
    }
    ctx.print({ backups: rows }, () => (rows.length === 0 ? '' : backupTable(rows)) + countFooter(rows.length, 'backup') + '\n');
  });

  s3Options(
    backup
      .command('verify')
      .description('read every file of a backup (and of the backups it was built on) and check it against the manifest')
      .requiredOption('--id <id>', 'the backup, as `backup list` shows it')
      .option('--from <location>', 'where the backup is (its destination); default: the catalog of the data dir, or of the node'),
  ).action(async (opts: { id: string; from?: string } & S3Flags, cmd: Command) => {
    const ctx = context(cmd);
    const source = await locate(ctx, cmd, opts.id, opts.from, []);
    const { verifyBackup } = await import('../../storage/backup/index.js');
    const r: VerifyResult = await withBar(`verifying ${opts.id}`, (onProgress) => library(() => verifyBackup({ source, id: opts.id, s3: s3(opts), onProgress })));
    ctx.print({ ...r, ok: true }, () =>
      renderFields([
        ['backup', r.id],
        ['node', r.node],
        ['taken', r.created_at],
        ['type', r.type],
        ['chain', r.chain.join(' <- ')],
        ['files', r.files],
        ['size', formatBytes(r.bytes)],
        ['location', r.location],
      ]) + ok(`${r.id}: every file matches its manifest`),
    );
  });

  destructive(
    s3Options(
      backup
        .command('restore')
        .description('write a backup into a data dir (the node stopped); refuses a data dir a running node holds unless --force')
        .requiredOption('--id <id>', 'the backup, as `backup list` shows it')
        .requiredOption('--target <dir>', 'the data dir to write (created if missing), e.g. /var/lib/caxton')
        .option('--from <location>', 'where the backup is (its destination); default: the catalog of the target or the data dir, or of the node')
        .option('--force', 'overwrite the data dir even though a running node holds it'),
    ),
  ).action(async (opts: { id: string; target: string; from?: string; force?: boolean } & S3Flags, cmd: Command) => {
    const ctx = context(cmd);
    const target = resolve(opts.target);
    const source = await locate(ctx, cmd, opts.id, opts.from, [target]);
    const { restoreBackup } = await import('../../storage/backup/index.js');
    const r: RestoreResult = await withBar(`restoring ${opts.id}`, (onProgress) => library(() => restoreBackup({ source, id: opts.id, target, force: opts.force === true, s3: s3(opts), onProgress })));
    ctx.print(r, () =>
      renderTable(['FILE', 'WRITTEN TO', 'WAS AT'], r.files.map((f) => [f.role, f.path, f.origin])) +
        (r.forced_over_live ? 'warning: a running node holds this data dir (--force): restart it now, or it keeps running on what it had in memory\n' : '') +
        (r.files.some((f) => f.origin !== undefined) ? `TLS files are in ${resolve(target, 'certs')}: copy them back to where the config names them, or point the config there\n` : '') +
        ok(`restored ${r.id} (${r.chain.length === 1 ? 'full' : `chain ${r.chain.join(' <- ')}`}) of node ${r.node}, taken ${r.created_at}, into ${r.target}; start the node on it`),
    );
  });

  destructive(
    backup
      .command('prune')
      .description('delete the backups the retention rule does not keep (a kept incremental keeps its chain)')
      .requiredOption('--keep-last <n>', 'the N newest backups stay')
      .option('--keep-daily <d>', 'the newest backup of each of the D most recent days (UTC) stays', '0'),
  ).action(async (opts: { keepLast: string; keepDaily: string }, cmd: Command) => {
    const ctx = context(cmd);
    const r = await ctx.client.post<{ kept: string[]; removed: string[]; failed: { id: string; reason: string }[] }>('/backups/prune', { keep_last: count(opts.keepLast, '--keep-last'), keep_daily: count(opts.keepDaily, '--keep-daily') }, { timeoutMs: 600_000 });
    ctx.print(r, () =>
      renderTable(['BACKUP-ID', 'ACTION'], [...r.kept.map((id) => [id, 'kept']), ...r.removed.map((id) => [id, 'removed']), ...r.failed.map((f) => [f.id, `not removed: ${f.reason}`])]) +
        `${countFooter(r.removed.length, 'backup')} removed, ${r.kept.length} kept\n`,
    );
    if (r.failed.length > 0) throw new CliError(`${r.failed.length} backup(s) could not be removed`, { code: 'CAXTON_ERR_BACKUP_DESTINATION', hint: 'The reasons are listed above; they stay in the catalog, so the next prune tries again.' });
  });
}

/** `caxton cluster backup`: every up node takes a backup under <destination>/<node>/. */
export function registerClusterBackup(cluster: Command): void {
  cluster
    .command('backup')
    .description('every node takes a backup while it serves traffic, each under <destination>/<node>/; a node that fails is reported')
    .requiredOption('--destination <location>', 'a directory (on each node) or s3://bucket/prefix')
    .option('--type <type>', 'full or incremental', 'full')
    .option('--compress', 'gzip the databases')
    .option('--include-ca-key', 'also store the CA private key on each node that has it')
    .action(async (opts: { destination: string; type: string; compress?: boolean; includeCaKey?: boolean }, cmd: Command) => {
      const ctx = context(cmd);
      const body = { type: backupType(opts.type), destination: localPath(opts.destination), compress: opts.compress === true, include_ca_key: opts.includeCaKey === true };
      const started = await ctx.client.post<ClusterBackupStart>('/cluster/backups', body, { timeoutMs: 60_000 });
      const jobs = started.nodes.length === 0 ? [] : await follow(ctx, started.nodes, 'cluster backup');
      const failed = jobs.filter((j) => j.state !== 'done').length + started.missing.length;
      const report = { nodes: jobs, missing: started.missing, ok: failed === 0 };
      ctx.print(report, () =>
        renderTable(
          ['NODE', 'BACKUP-ID', 'STATUS', 'SIZE', 'LOCATION'],
          [
            ...jobs.map((j) => [j.node, j.result?.id, j.state === 'done' ? 'ok' : `failed: ${j.error?.code ?? ''} ${j.error?.message ?? ''}`.trim(), j.result === undefined ? undefined : formatBytes(j.result.size_bytes), j.result?.location ?? j.destination]),
            ...started.missing.map((m) => [m.node, undefined, `not reached: ${m.code ?? ''} ${m.reason}`.trim(), undefined, undefined]),
          ],
        ) + (failed === 0 ? ok(`${jobs.length} node(s) backed up`) : ''),
      );
      if (failed > 0) throw new CliError(`${failed} node(s) have no backup`, { code: 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', hint: 'Each failed node is listed with its reason; fix it and run `caxton backup create` on it, or `caxton cluster backup` again.' });
    });
}

/** Polls the jobs until each is done or failed, with a progress bar over all of them. */
async function follow(ctx: Context, jobs: readonly JobView[], what: string): Promise<JobView[]> {
  const p = spinner(`${what}: starting`);
  const current = [...jobs];
  const failures = new Map<string, number>();
  try {
    while (current.some((j) => j.state === 'running')) {
      await sleep(POLL_MS);
      for (let i = 0; i < current.length; i++) {
        const j = current[i] as JobView;
        if (j.state !== 'running') continue;
        try {
          current[i] = await ctx.client.get<JobView>(`/backups/jobs/${encodeURIComponent(j.job)}`, { node: j.node });
          failures.delete(j.job);
        } catch (e) {
          const n = (failures.get(j.job) ?? 0) + 1;
          failures.set(j.job, n);
          if (n >= MAX_POLL_FAILURES) current[i] = { ...j, state: 'failed', error: { code: e instanceof CliError ? e.code : 'CAXTON_ERR_CLUSTER_TIMEOUT', message: `could not follow the job: ${(e as Error).message}` } };
        }
      }
      const done = current.reduce((n, j) => n + j.done_bytes, 0);
      const total = current.reduce((n, j) => n + j.total_bytes, 0);
      const phases = [...new Set(current.filter((j) => j.state === 'running').map((j) => j.phase))].join(', ');
      p.update(`${what}: ${bar(total === 0 ? 0 : done / total)} ${phases} ${formatBytes(done)} of ${formatBytes(total)}`);
    }
  } finally {
    p.stop();
  }
  return current;
}

/** Runs a library call with a progress bar on the terminal. */
async function withBar<T>(text: string, work: (onProgress: (p: BackupProgress) => void) => Promise<T>): Promise<T> {
  const p: Progress = spinner(text);
  try {
    return await work((x) => p.update(`${text}: ${bar(x.totalBytes === 0 ? 0 : x.doneBytes / x.totalBytes)} ${x.phase} ${formatBytes(x.doneBytes)} of ${formatBytes(x.totalBytes)}`));
  } finally {
    p.stop();
  }
}

/**
 * Where backup `id` is: --from (a destination, or the backup's own directory), else the catalogs of
 * `dirs` and of the data dir, else the node's catalog through the API.
 */
async function locate(ctx: Context, cmd: Command, id: string, from: string | undefined, dirs: readonly string[]): Promise<string> {
  if (from !== undefined) {
    const loc = localPath(from).replace(/\/+$/, '');
    // The backup's own directory was given: its parent is the destination.
    return loc.endsWith(`/${id}`) ? loc.slice(0, -id.length - 1) : loc;
  }
  const { findInCatalogs } = await import('../../storage/backup/index.js');
  const dataDir = resolve(globalOptions(cmd).dataDir ?? process.env['CAXTON_DATA_DIR'] ?? DEFAULT_DATA_DIR);
  const found = findInCatalogs([...dirs, dataDir], id);
  if (found !== undefined) return found.location;
  try {
    return (await ctx.client.get<CatalogEntry>(`/backups/${encodeURIComponent(id)}`, undefined, { timeoutMs: 5000 })).location;
  } catch (e) {
    const why = e instanceof CliError && e.code === 'CAXTON_ERR_BACKUP_NOT_FOUND' ? 'nor in the node\'s catalog' : `and the node could not be asked (${(e as Error).message})`;
    throw new CliError(`no backup ${id} in the catalogs of ${[...dirs, dataDir].join(', ')}, ${why}`, {
      code: 'CAXTON_ERR_BACKUP_NOT_FOUND',
      hint: 'Name where the backup is with --from PATH|s3://bucket/prefix (the --destination it was taken with), or check the id with `caxton backup list`.',
      details: { id },
    });
  }
}

/** A library error (a CaxtonError) as the CLI prints errors: its code and hint. */
async function library<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (isCaxtonError(e)) throw new CliError(e.message, { code: e.code, hint: e.hint, ...(e.details === undefined ? {} : { details: { ...e.details } }), cause: e });
    throw e;
  }
}

function jobError(v: JobView): CliError {
  return new CliError(`backup on node ${v.node} failed: ${v.error?.message ?? 'no result'}`, { code: v.error?.code ?? 'CAXTON_ERR_BACKUP_DESTINATION', hint: 'The node\'s log has the details; `caxton backup list` shows the backups it has.' });
}

function s3Options(cmd: Command): Command {
  return cmd
    .option('--s3-endpoint <url>', 'an S3-compatible store\'s URL (default: AWS, or AWS_ENDPOINT_URL_S3)')
    .option('--s3-region <region>', 'the bucket\'s region (default: AWS_REGION or the profile\'s)')
    .option('--s3-force-path-style', 'address the bucket as <endpoint>/<bucket> (most S3-compatible stores)');
}

function s3(o: S3Flags): S3Options {
  return { ...(o.s3Endpoint === undefined ? {} : { endpoint: o.s3Endpoint }), ...(o.s3Region === undefined ? {} : { region: o.s3Region }), ...(o.s3ForcePathStyle === true ? { forcePathStyle: true } : {}) };
}

/** A directory is given to the node as an absolute path (the CLI's working directory is not the node's). */
function localPath(location: string): string {
  return location.startsWith('s3://') ? location : resolve(location);
}

function backupType(t: string): 'full' | 'incremental' {
  if (t === 'full' || t === 'incremental') return t;
  throw new CliError(`--type must be full or incremental, not "${t}"`, { code: 'CAXTON_CLI_USAGE', exitCode: EXIT_USAGE });
}

function count(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new CliError(`${flag} must be a whole number of 0 or more, not "${v}"`, { code: 'CAXTON_CLI_USAGE', exitCode: EXIT_USAGE });
  return n;
}

function backupTable(rows: readonly (CatalogEntry | ListedBackup | BackupResult)[]): string {
  return renderTable(
    ['BACKUP-ID', 'TYPE', 'PARENT', 'NODE', 'TAKEN', 'SIZE', 'LOCATION'],
    rows.map((r) => [r.id, r.type, r.parent, r.node, r.created_at.replace(/\.\d+Z$/, 'Z'), formatBytes(r.size_bytes), r.location]),
  );
}
