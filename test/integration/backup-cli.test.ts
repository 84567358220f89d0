/**
 * The runbook's backup flow with the CLI against real `caxton server start` processes: backups to a
 * local S3-compatible server (s3rver, started here on loopback), list, verify and restore by id only
 * (the catalog), prune; a live data dir refused; and `cluster backup` over two nodes, with one node
 * failing and reported.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentWasm } from '../helpers/agents.js';
import { api, runCli, startServer, type CliResult, type RunningServer } from '../helpers/server.js';
import { startServerCluster } from '../helpers/server-cluster.js';
import { startLocalS3 } from '../helpers/s3.js';
import { tempDir } from '../helpers/tmp.js';
import { createCa, issueNodeCert, writePemFile } from '../../src/security/pki.js';

const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');

function json(r: CliResult): any {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
}

async function increment(s: RunningServer, agent: string, by: number): Promise<number> {
  const r = await api(s, 'POST', '/messages?wait_reply=true&timeout_ms=10000', { performative: 'request', receiver: agent, content: { op: 'increment', by } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.reply.content.count as number;
}

test('backup cli - the runbook flow to S3: create full and incremental, list, verify and restore by id, prune; a live data dir is refused', { timeout: 240_000 }, async (t) => {
  const s3 = await startLocalS3(['backups']);
  t.after(() => s3.stop());
  const env = { ...s3.env };
  let server = await startServer({ args: [...s3.serverArgs], env });
  const dataDir = server.dataDir;
  t.after(async () => {
    await server.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });
  const cli = (args: readonly string[], timeoutMs = 120_000) => runCli(['--api-url', server.apiUrl, ...args], { dataDir, env, timeoutMs });

  assert.equal((await api(server, 'POST', '/agents', { name: 'count', module: b64(agentWasm('counter')) })).status, 201);
  await increment(server, 'count', 41);
  const dest = 's3://backups/caxton/20240115/';
  const full = await cli(['backup', 'create', '--type', 'full', '--destination', dest, '--compress', '-o', 'json']);
  assert.equal(full.code, 0, full.stderr);
  const fullId = json(full).id as string;
  assert.match(fullId, /^backup-\d{8}-\d{4}$/);
  assert.equal(json(full).location, 's3://backups/caxton/20240115');
  assert.equal(await increment(server, 'count', 1), 42);
  const inc = await cli(['backup', 'create', '--type', 'incremental', '--destination', dest, '--compress', '-o', 'json']);
  assert.equal(inc.code, 0, inc.stderr);
  const incId = json(inc).id as string;
  assert.equal(json(inc).parent, fullId);
  assert.notEqual(incId, fullId, 'ids are unique');
  assert.match(incId, /^backup-\d{8}-\d{4}(-\d+)?$/);

  const table = await cli(['backup', 'list']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^BACKUP-ID\s+TYPE\s+PARENT\s+NODE\s+TAKEN\s+SIZE\s+LOCATION$/m);
  assert.match(table.stdout, new RegExp(`^${incId}\\s+incremental\\s+${fullId}\\s+`, 'm'));
  const listed = json(await cli(['backup', 'list', '--from', dest, ...s3.cliArgs, '-o', 'json'])).backups as { id: string }[];
  assert.deepEqual(listed.map((b) => b.id), [fullId, incId]);

  // The runbook's form: only the id (the node's catalog knows where it is).
  const verified = await cli(['backup', 'verify', '--id', incId, ...s3.cliArgs]);
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(verified.stdout, new RegExp(`chain:\\s+${fullId} <- ${incId}`));
  assert.match(verified.stdout, /every file matches its manifest/);
  // The AWS SDK's Node-version warning is not Caxton's users' business (the SDK's switch turns it off).
  for (const out of [full.stderr, inc.stderr, verified.stderr, server.logs()]) assert.doesNotMatch(out, /NodeVersionSupportWarning/);

  const live = await cli(['backup', 'restore', '--id', incId, '--target', dataDir, ...s3.cliArgs, '-o', 'json']);
  assert.equal(live.code, 1);
  assert.equal(json(live).error.code, 'CAXTON_ERR_BACKUP_TARGET_LIVE');
  assert.match(json(live).error.message, new RegExp(`pid ${server.pid}`));

  // A second node on the same data dir is refused while the first runs.
  await assert.rejects(startServer({ dataDir, args: [...s3.serverArgs], env, timeoutMs: 20_000 }), /CAXTON_ERR_DATA_DIR_LOCKED|is in use by node/);

  // Stop; change the state the restore must undo; restore by id (the target's catalog) and start again.
  await increment(server, 'count', 1000);
  assert.equal(await server.stop(), 0);
  // The node stopped: list reads its catalog from the data dir.
  const offline = await cli(['backup', 'list', '-o', 'json']);
  assert.equal(offline.code, 0, offline.stderr);
  assert.deepEqual((json(offline).backups as { id: string }[]).map((b) => b.id), [fullId, incId]);
  const restored = await runCli(['backup', 'restore', '--id', incId, '--target', dataDir, ...s3.cliArgs, '-o', 'json'], { env, dataDir: join(dataDir, 'elsewhere'), timeoutMs: 120_000 });
  assert.equal(restored.code, 0, restored.stderr);
  assert.deepEqual(json(restored).chain, [fullId, incId]);
  server = await startServer({ dataDir, args: [...s3.serverArgs], env });
  assert.equal(await increment(server, 'count', 0), 42, 'the counter is back to what the incremental held');

  // A third backup, then keep only the newest: it is full, so both older ones go, from S3 too.
  const third = json(await cli(['backup', 'create', '--destination', dest, '-o', 'json'])).id as string;
  const pruned = await cli(['backup', 'prune', '--keep-last', '1', '-o', 'json']);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.deepEqual(json(pruned), { kept: [third], removed: [incId, fullId], failed: [] });
  assert.deepEqual((json(await cli(['backup', 'list', '-o', 'json'])).backups as { id: string }[]).map((b) => b.id), [third]);
  assert.deepEqual((json(await cli(['backup', 'list', '--from', dest, ...s3.cliArgs, '-o', 'json'])).backups as { id: string }[]).map((b) => b.id), [third]);
  const gone = await cli(['backup', 'verify', '--id', fullId, '--from', dest, ...s3.cliArgs, '-o', 'json']);
  assert.equal(gone.code, 1);
  assert.equal(json(gone).error.code, 'CAXTON_ERR_BACKUP_NOT_FOUND');
});

test('backup cli - cluster backup: every node backs up under <destination>/<node>/, and a node that fails is reported', { timeout: 240_000 }, async (t) => {
  const cluster = await startServerCluster({ size: 2, base: 236 });
  t.after(() => cluster.stop());
  const dest = tempDir('caxton-cluster-backup-');
  t.after(() => dest.cleanup());
  const n1 = cluster.nodes[0] as RunningServer;
  const cli = (args: readonly string[]) => runCli(['--api-url', n1.apiUrl, ...args], { dataDir: n1.dataDir, timeoutMs: 120_000 });

  // node-2 cannot write its directory (a file is in the way): reported, not hidden.
  writeFileSync(join(dest.path, 'node-2'), 'in the way');
  const partial = await cli(['cluster', 'backup', '--destination', dest.path, '-o', 'json']);
  assert.equal(partial.code, 1, partial.stderr);
  const p = json(partial);
  assert.equal(p.ok, false);
  const byNode = new Map((p.nodes as { node: string; state: string; error?: { code: string } }[]).map((n) => [n.node, n]));
  assert.equal(byNode.get('node-1')?.state, 'done');
  assert.equal(byNode.get('node-2')?.state, 'failed');
  assert.equal(byNode.get('node-2')?.error?.code, 'CAXTON_ERR_BACKUP_DESTINATION');
  const human = await cli(['cluster', 'backup', '--destination', dest.path]);
  assert.equal(human.code, 1);
  assert.match(human.stdout, /^NODE\s+BACKUP-ID\s+STATUS\s+SIZE\s+LOCATION$/m);
  assert.match(human.stdout, /^node-2\s+-\s+failed: CAXTON_ERR_BACKUP_DESTINATION/m);
  assert.match(human.stderr, /node\(s\) have no backup/);

  rmSync(join(dest.path, 'node-2'));
  const all = await cli(['cluster', 'backup', '--destination', dest.path, '--compress', '-o', 'json']);
  assert.equal(all.code, 0, all.stderr);
  const nodes = json(all).nodes as { node: string; state: string; result: { id: string; location: string } }[];
  assert.deepEqual(nodes.map((n) => [n.node, n.state]).sort(), [['node-1', 'done'], ['node-2', 'done']]);
  for (const n of nodes) {
    assert.equal(n.result.location, join(dest.path, n.node));
    assert.ok(existsSync(join(dest.path, n.node, n.result.id, 'manifest.json')));
    const v = await runCli(['backup', 'verify', '--id', n.result.id, '--from', join(dest.path, n.node), '-o', 'json'], { timeoutMs: 60_000 });
    assert.equal(v.code, 0, v.stderr);
    assert.equal(json(v).node, n.node);
  }
  // Each node's catalog has its own backup.
  const n2 = cluster.nodes[1] as RunningServer;
  const list2 = await runCli(['--api-url', n2.apiUrl, 'backup', 'list', '-o', 'json'], { dataDir: n2.dataDir });
  assert.ok((json(list2).backups as { location: string }[]).some((b) => b.location === join(dest.path, 'node-2')));
  assert.deepEqual(readdirSync(dest.path).sort(), ['node-1', 'node-2']);
});

test('backup cli - a node serving HTTPS backs up the TLS files its config names, and the CA key (backup.ca_key) only with --include-ca-key', { timeout: 120_000 }, async (t) => {
  const certs = tempDir('caxton-backup-certs-');
  const dest = tempDir('caxton-backup-dest-');
  t.after(() => {
    certs.cleanup();
    dest.cleanup();
  });
  const f = (name: string) => join(certs.path, name);
  const ca = await createCa();
  writePemFile(f('ca.crt'), ca.certPem);
  writePemFile(f('ca.key'), ca.keyPem, { secret: true });
  const api = await issueNodeCert(ca, { nodeId: 'test-node', sans: ['127.0.0.1'] });
  writePemFile(f('api.crt'), api.certPem);
  writePemFile(f('api.key'), api.keyPem, { secret: true });
  const server = await startServer({
    args: ['--set', 'security.api.tls.enabled=true', '--set', `security.api.tls.cert=${f('api.crt')}`, '--set', `security.api.tls.key=${f('api.key')}`, '--set', `security.api.tls.ca_cert=${f('ca.crt')}`, '--set', 'security.api.tls.client_auth=optional', '--set', `backup.ca_key=${f('ca.key')}`],
  });
  t.after(async () => {
    await server.stop();
    server.cleanup();
  });
  const cli = (args: readonly string[]) => runCli(['--api-url', server.apiUrl, '--ca-cert', f('ca.crt'), ...args], { dataDir: server.dataDir, timeoutMs: 60_000 });
  const roles = (id: string) => (JSON.parse(readFileSync(join(dest.path, id, 'manifest.json'), 'utf8')) as { files: { role: string; origin?: string }[] }).files;
  const plain = await cli(['backup', 'create', '--type', 'full', '--destination', dest.path, '-o', 'json']);
  assert.equal(plain.code, 0, plain.stderr);
  const files = roles(json(plain).id as string);
  assert.deepEqual(files.filter((x) => x.origin !== undefined).map((x) => [x.role, x.origin]), [['api-tls-cert', f('api.crt')], ['api-tls-key', f('api.key')], ['api-tls-ca-cert', f('ca.crt')]]);
  const withKey = await cli(['backup', 'create', '--type', 'full', '--destination', dest.path, '--include-ca-key', '-o', 'json']);
  assert.equal(withKey.code, 0, withKey.stderr);
  assert.ok(roles(json(withKey).id as string).some((x) => x.role === 'ca-key' && x.origin === f('ca.key')));
});
