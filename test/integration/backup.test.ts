/**
 * Backups of a real node (in-process CaxtonNode, real SQLite, real workers): restore into a fresh data
 * dir and start a node on it; a backup under traffic is consistent; damaged backups are refused by
 * verify and by restore with the file named; incrementals; a live data dir is not overwritten.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { agentWasm } from '../helpers/agents.js';
import { withNode, type NodeContext } from '../helpers/node.js';
import { tempDir } from '../helpers/tmp.js';
import { startLocalS3 } from '../helpers/s3.js';
import { openDatabase, SqliteAgentStateStore } from '../../src/storage/index.js';
import { until } from '../helpers/until.js';
import { createBackup, restoreBackup, verifyBackup, type BackupResult } from '../../src/storage/backup/index.js';
import { CaxtonError } from '../../src/errors.js';
import { VERSION } from '../../src/version.js';

const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');
// The outbox must hold still while the test compares it: no redelivery within a test's life.
const QUIET_RELAY = { relay: { baseDelayMs: 600_000 } } as const;

async function increment(ctx: NodeContext, agent: string, by: number): Promise<number> {
  const r = await ctx.call('POST', '/messages?wait_reply=true&timeout_ms=10000', { performative: 'request', receiver: agent, content: { op: 'increment', by } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.reply.content.count as number;
}

async function count(ctx: NodeContext, agent: string): Promise<number> {
  const r = await ctx.call('POST', '/messages?wait_reply=true&timeout_ms=10000', { performative: 'request', receiver: agent, content: { op: 'get' } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.reply.content.count as number;
}

function backup(ctx: NodeContext, destination: string, type: 'full' | 'incremental' = 'full', compress = true): Promise<BackupResult> {
  return createBackup({ dataDir: ctx.dataDir, databasePath: join(ctx.dataDir, 'caxton.db'), nodeId: 'test-node', version: VERSION, type, destination, compress, includeCaKey: false, files: {} });
}

/** What a restored node must have back, read from a database file (rows as JSON lines, sorted). */
function stateOf(dbPath: string): Record<string, string[]> {
  const db = new Database(dbPath, { readonly: true });
  try {
    const rows = (sql: string) => (db.prepare(sql).all() as Record<string, unknown>[]).map((r) => JSON.stringify(r, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v)));
    return {
      agent_kv: rows('SELECT agent, key, value FROM agent_kv ORDER BY agent, key'),
      outbox: rows('SELECT message_id, receiver, message, attempts, next_at FROM outbox ORDER BY message_id'),
      dead_letters: rows('SELECT id, message_id, sender, receiver, reason, message FROM dead_letters ORDER BY id'),
      // restarts counts node starts too: the restored node's start adds one.
      deployments: rows('SELECT name, id, module, config, priority, desired_state, deployed_at, epoch FROM deployments ORDER BY name'),
      module_bytes: (db.prepare('SELECT hash, bytes FROM modules ORDER BY hash').all() as { hash: string; bytes: Buffer }[]).map((m) => `${m.hash} ${createHash('sha256').update(m.bytes).digest('hex')}`),
      api_keys: rows('SELECT id, name, role, hash, revoked, version FROM api_keys ORDER BY id'),
    };
  } finally {
    db.close();
  }
}

test('backup - a restored data dir starts a node with every agent, its state, the outbox, dead letters, deployments and API keys back', async () => {
  const dest = tempDir('caxton-backup-dest-');
  const target = tempDir('caxton-restore-');
  let expected: Record<string, string[]> = {};
  let counts: Record<string, number> = {};
  let id = '';
  let keys: { id: string; name: string; role: string }[] = [];
  try {
    await withNode(QUIET_RELAY, async (ctx) => {
      for (const name of ['c1', 'c2', 'c3']) assert.equal((await ctx.call('POST', '/agents', { name, module: b64(agentWasm('counter')) })).status, 201);
      assert.equal((await ctx.call('POST', '/agents', { name: 'e1', module: b64(agentWasm('echo')) })).status, 201);
      counts = { c1: await increment(ctx, 'c1', 5), c2: await increment(ctx, 'c2', 7), c3: 0 };
      await increment(ctx, 'c2', 1);
      counts['c2'] = 8;
      // c3 stopped (a deployment that stays stopped), with at-least-once messages queued for it.
      assert.equal((await ctx.call('POST', '/agents/c3/stop', {})).status, 200);
      for (let i = 0; i < 3; i++) {
        const r = await ctx.call('POST', '/messages', { performative: 'request', receiver: 'c3', content: { op: 'increment', by: 1 }, delivery: 'at-least-once', message_id: `queued-${i}` });
        assert.ok(r.status < 300, JSON.stringify(r.body));
      }
      ctx.node.deadLetters.record('gone', JSON.stringify({ performative: 'inform', receiver: 'gone', content: 'x', message_id: 'dl-1' }), 'no_such_agent');
      for (const [name, role] of [['ops', 'operator'], ['dev', 'developer']] as const) assert.equal((await ctx.call('POST', '/keys', { name, role })).status, 201);
      keys = (await ctx.call('GET', '/keys')).body.keys;
      const r = await backup(ctx, dest.path);
      id = r.id;
      // Nothing ran in between: the database as the backup holds it.
      expected = stateOf(join(ctx.dataDir, 'caxton.db'));
      assert.equal(expected['outbox']?.length, 3);
      assert.equal(expected['dead_letters']?.length, 1);
    });
    const restored = await restoreBackup({ source: dest.path, id, target: target.path });
    assert.deepEqual(restored.chain, [id]);
    assert.deepEqual(stateOf(join(target.path, 'caxton.db')), expected, 'the restored database holds what the node had');
    await withNode(QUIET_RELAY, async (ctx) => {
      const agents = (await ctx.call('GET', '/agents')).body.agents as { name: string; state: string }[];
      assert.deepEqual(agents.map((a) => [a.name, a.state]).sort(), [['c1', 'running'], ['c2', 'running'], ['c3', 'stopped'], ['e1', 'running']]);
      assert.equal(await count(ctx, 'c1'), counts['c1']);
      assert.equal(await count(ctx, 'c2'), counts['c2']);
      assert.deepEqual(((await ctx.call('GET', '/keys')).body.keys as typeof keys).map((k) => [k.id, k.name, k.role]).sort(), keys.map((k) => [k.id, k.name, k.role]).sort());
      // The old admin key (restored admin.key) is the one that works.
      assert.equal(ctx.adminKey, readFileSync(join(target.path, 'admin.key'), 'utf8').trim());
      const letters = (await ctx.call('GET', '/dead-letters')).body;
      assert.equal(letters.total, 1);
      assert.equal(letters.letters[0].message_id, 'dl-1');
      assert.equal((await ctx.call('GET', '/queue')).body.outbox_pending, 3);
      const now = stateOf(join(target.path, 'caxton.db'));
      // "get" reads the counters' state without changing it: every table is as the backup holds it.
      for (const table of Object.keys(expected)) assert.deepEqual(now[table], expected[table], `${table} after the restored node started`);
    }, target.path);
  } finally {
    dest.cleanup();
    target.cleanup();
  }
});

test('backup - backups taken while a counter takes at-least-once traffic are consistent: its state and its outbox agree, and SQLite finds no fault', async () => {
  const dest = tempDir('caxton-backup-dest-');
  try {
    // The traffic runs as fast as the node answers: on a quiet machine that passes the API's rate
    // limit (100/s per key), whose 429 is not what this test is about.
    const unlimited = { ...QUIET_RELAY, api: { addr: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false, perSecond: 100, burst: 200 } } };
    await withNode(unlimited, async (ctx) => {
      assert.equal((await ctx.call('POST', '/agents', { name: 'c1', module: b64(agentWasm('counter')) })).status, 201);
      const sent: string[] = [];
      let stop = false;
      // One message at a time, so the counter handles them in the order sent: message i (0-based) is
      // the (i+1)th increment. Bounded in count as well as by the backups below.
      const traffic = (async () => {
        while (!stop && sent.length < 20_000) {
          const id = `t-${sent.length}-${randomUUID()}`;
          const r = await ctx.call('POST', '/messages', { performative: 'request', receiver: 'c1', content: { op: 'increment', by: 1 }, delivery: 'at-least-once', message_id: id });
          assert.ok(r.status < 300, JSON.stringify(r.body));
          sent.push(id);
        }
      })();
      const results: BackupResult[] = [];
      try {
        await until('traffic flows', () => sent.length >= 50);
        for (let i = 0; i < 3; i++) {
          results.push(await backup(ctx, dest.path, i === 0 ? 'full' : 'incremental', i !== 1));
          const before = sent.length;
          await until('more traffic between backups', () => sent.length >= before + 30);
        }
      } finally {
        stop = true;
        await traffic;
      }
      for (const r of results) {
        const target = tempDir('caxton-restore-');
        try {
          await restoreBackup({ source: dest.path, id: r.id, target: target.path });
          const db = new Database(join(target.path, 'caxton.db'), { readonly: true });
          try {
            assert.deepEqual(db.pragma('integrity_check'), [{ integrity_check: 'ok' }], r.id);
            const row = db.prepare("SELECT value FROM agent_kv WHERE agent = 'c1' AND key = CAST('count' AS BLOB)").get() as { value: Buffer } | undefined;
            const handled = row === undefined ? 0 : Number(row.value.toString('utf8'));
            const queued = (db.prepare("SELECT message_id FROM outbox WHERE receiver = 'c1'").all() as { message_id: string }[]).map((x) => sent.indexOf(x.message_id)).sort((a, b) => a - b);
            assert.ok(handled > 0, `${r.id}: the counter had handled messages`);
            assert.ok(!queued.includes(-1), `${r.id}: every queued message is one the test sent`);
            // Handled messages are gone from the outbox, but the last one may still be there (its
            // state is committed before its acknowledgement); what follows it is all there, in order.
            if (queued.length > 0) {
              const lo = queued[0] as number;
              assert.ok(lo === handled - 1 || lo === handled, `${r.id}: count ${handled}, first queued message #${lo}`);
              assert.deepEqual(queued, Array.from({ length: queued.length }, (_, k) => lo + k), `${r.id}: the queued messages are the ones after the count, without a gap`);
            }
          } finally {
            db.close();
          }
        } finally {
          target.cleanup();
        }
      }
    });
  } finally {
    dest.cleanup();
  }
});

test('backup - a flipped byte, a truncated file and a wrong checksum in the manifest are refused by verify and by restore, naming the file', async () => {
  const dest = tempDir('caxton-backup-dest-');
  const targets = tempDir('caxton-restore-');
  try {
    await withNode({}, async (ctx) => {
      assert.equal((await ctx.call('POST', '/agents', { name: 'c1', module: b64(agentWasm('counter')) })).status, 201);
      await increment(ctx, 'c1', 3);
      const take = (id: string, compress: boolean) => createBackup({ dataDir: ctx.dataDir, databasePath: join(ctx.dataDir, 'caxton.db'), nodeId: 'test-node', version: VERSION, type: 'full', destination: dest.path, compress, includeCaKey: false, files: {}, id });
      await take('flipped', false);
      await take('flipped-gz', true);
      await take('truncated', true);
      await take('badsum', true);
      await take('intact', true);
    });
    const flip = (file: string) => {
      const b = readFileSync(file);
      const at = Math.floor(b.length / 2);
      b[at] = (b[at] as number) ^ 0x01;
      writeFileSync(file, b);
    };
    flip(join(dest.path, 'flipped', 'caxton.db'));
    flip(join(dest.path, 'flipped-gz', 'caxton.db.gz'));
    const gz = join(dest.path, 'truncated', 'caxton.db.gz');
    truncateSync(gz, Math.floor(readFileSync(gz).length / 2));
    const mpath = join(dest.path, 'badsum', 'manifest.json');
    const m = JSON.parse(readFileSync(mpath, 'utf8')) as { files: { path: string; sha256: string }[] };
    const key = m.files.find((f) => f.path === 'files/admin.key');
    assert.ok(key !== undefined);
    key.sha256 = createHash('sha256').update('something else').digest('hex');
    writeFileSync(mpath, JSON.stringify(m));

    const cases = [
      ['flipped', 'flipped/caxton.db', /sha256 .* does not match/],
      ['flipped-gz', 'flipped-gz/caxton.db.gz', /gzip|sha256|does not match/],
      ['truncated', 'truncated/caxton.db.gz', /truncated|gzip|unexpected end/i],
      ['badsum', 'badsum/files/admin.key', /sha256 .* does not match the manifest's/],
    ] as const;
    for (const [id, file, why] of cases) {
      const refused = (e: unknown) => {
        assert.ok(e instanceof CaxtonError, String(e));
        assert.equal(e.code, 'CAXTON_ERR_BACKUP_CORRUPT', `${id}: ${e.message}`);
        assert.equal(e.details?.['file'], file, `${id}: ${e.message}`);
        assert.ok(e.message.startsWith(`${file}: `), e.message);
        assert.match(e.message, why);
        return true;
      };
      await assert.rejects(verifyBackup({ source: dest.path, id }), refused, `verify ${id}`);
      const target = join(targets.path, id);
      await assert.rejects(restoreBackup({ source: dest.path, id, target }), refused, `restore ${id}`);
      assert.equal(existsSync(target), false, `${id}: a refused restore writes nothing`);
    }
    const ok = await verifyBackup({ source: dest.path, id: 'intact' });
    assert.deepEqual(ok.chain, ['intact']);
  } finally {
    dest.cleanup();
    targets.cleanup();
  }
});

test('backup - an incremental after a few changes is smaller than a full one and restores the same state; a chain with a missing parent is refused', async () => {
  const dest = tempDir('caxton-backup-dest-');
  const target = tempDir('caxton-restore-');
  try {
    await withNode(QUIET_RELAY, async (ctx) => {
      await assert.rejects(backup(ctx, dest.path, 'incremental'), (e: unknown) => e instanceof CaxtonError && e.code === 'CAXTON_ERR_BACKUP_NO_PARENT');
      for (let i = 0; i < 20; i++) assert.equal((await ctx.call('POST', '/agents', { name: `c${i}`, module: b64(agentWasm('counter')) })).status, 201);
      for (let i = 0; i < 20; i++) await increment(ctx, `c${i}`, i + 1);
      const full = await backup(ctx, dest.path, 'full', false);
      await increment(ctx, 'c3', 100);
      await increment(ctx, 'c17', 100);
      const inc = await backup(ctx, dest.path, 'incremental', false);
      const expected = stateOf(join(ctx.dataDir, 'caxton.db'));
      assert.equal(inc.parent, full.id);
      assert.ok(inc.size_bytes < full.size_bytes / 2, `incremental ${inc.size_bytes} bytes, full ${full.size_bytes}`);
      assert.ok(inc.pages_stored < inc.page_count, `${inc.pages_stored} of ${inc.page_count} pages`);
      await increment(ctx, 'c5', 1);
      const inc2 = await backup(ctx, dest.path, 'incremental', true);
      assert.equal(inc2.parent, inc.id);

      const r = await restoreBackup({ source: dest.path, id: inc.id, target: target.path });
      assert.deepEqual(r.chain, [full.id, inc.id]);
      assert.deepEqual(stateOf(join(target.path, 'caxton.db')), expected);
      assert.deepEqual((await verifyBackup({ source: dest.path, id: inc2.id })).chain, [full.id, inc.id, inc2.id]);

      // The middle of the chain gone: verify and restore name it.
      renameSync(join(dest.path, inc.id), join(dest.path, 'moved-away'));
      const broken = (e: unknown) => e instanceof CaxtonError && e.code === 'CAXTON_ERR_BACKUP_CHAIN' && e.details?.['parent'] === inc.id && e.message.includes(`incremental on ${inc.id}`);
      await assert.rejects(verifyBackup({ source: dest.path, id: inc2.id }), broken);
      await assert.rejects(restoreBackup({ source: dest.path, id: inc2.id, target: join(target.path, 'other') }), broken);
    });
  } finally {
    dest.cleanup();
    target.cleanup();
  }
});

test('backup - restore refuses the data dir of a running node unless forced', async () => {
  const dest = tempDir('caxton-backup-dest-');
  try {
    await withNode({}, async (ctx) => {
      const r = await backup(ctx, dest.path);
      const db = join(ctx.dataDir, 'caxton.db');
      const before = readFileSync(db);
      await assert.rejects(restoreBackup({ source: dest.path, id: r.id, target: ctx.dataDir }), (e: unknown) => e instanceof CaxtonError && e.code === 'CAXTON_ERR_BACKUP_TARGET_LIVE' && e.message.includes(`pid ${process.pid}`));
      assert.ok(readFileSync(db).equals(before), 'nothing was written');
      const forced = await restoreBackup({ source: dest.path, id: r.id, target: ctx.dataDir, force: true });
      assert.equal(forced.forced_over_live, true);
    });
  } finally {
    dest.cleanup();
  }
});

test('backup - the TLS files the config names are in it, the CA key only with includeCaKey, and a restore puts them in <target>/certs', async () => {
  const dest = tempDir('caxton-backup-dest-');
  const certs = tempDir('caxton-certs-');
  const target = tempDir('caxton-restore-');
  try {
    const files = {
      clusterCaCert: join(certs.path, 'ca.crt'),
      clusterNodeCert: join(certs.path, 'node.crt'),
      clusterNodeKey: join(certs.path, 'node.key'),
      apiCert: join(certs.path, 'api.crt'),
      apiKey: join(certs.path, 'api.key'),
    };
    for (const [k, p] of Object.entries(files)) writeFileSync(p, `-----BEGIN ${k}-----\n${randomUUID()}\n`);
    writeFileSync(join(certs.path, 'ca.key'), `-----BEGIN CA KEY-----\n${randomUUID()}\n`);
    await withNode({}, async (ctx) => {
      writeFileSync(join(ctx.dataDir, 'gossip.keyring'), '["AAAAAAAAAAAAAAAAAAAAAA=="]\n');
      const opts = { dataDir: ctx.dataDir, databasePath: join(ctx.dataDir, 'caxton.db'), nodeId: 'test-node', version: VERSION, destination: dest.path, compress: false, files } as const;
      const without = await createBackup({ ...opts, type: 'full', includeCaKey: false, id: 'no-ca-key' });
      const withKey = await createBackup({ ...opts, type: 'full', includeCaKey: true, id: 'with-ca-key' });
      const roles = (id: string) => (JSON.parse(readFileSync(join(dest.path, id, 'manifest.json'), 'utf8')) as { files: { role: string }[] }).files.map((f) => f.role).sort();
      assert.deepEqual(roles(without.id), ['admin-key', 'api-tls-cert', 'api-tls-key', 'cluster-ca-cert', 'cluster-node-cert', 'cluster-node-key', 'database', 'gossip-keyring', 'page-hashes']);
      assert.deepEqual(roles(withKey.id), [...roles(without.id), 'ca-key'].sort());
      // A CA key asked for but not there: refused before anything is written.
      rmSync(join(certs.path, 'ca.key'));
      await assert.rejects(createBackup({ ...opts, type: 'full', includeCaKey: true, id: 'missing-ca-key' }), (e: unknown) => e instanceof CaxtonError && e.code === 'CAXTON_ERR_BACKUP_SOURCE_FILE' && e.details?.['file'] === join(certs.path, 'ca.key'));
      assert.equal(existsSync(join(dest.path, 'missing-ca-key')), false);
    });
    const r = await restoreBackup({ source: dest.path, id: 'with-ca-key', target: target.path });
    const byRole = new Map(r.files.map((f) => [f.role, f]));
    assert.equal(byRole.get('cluster-node-key')?.origin, files.clusterNodeKey);
    assert.equal(readFileSync(join(target.path, 'certs', 'cluster-node-key.pem'), 'utf8'), readFileSync(files.clusterNodeKey, 'utf8'));
    assert.equal(byRole.get('ca-key')?.origin, join(certs.path, 'ca.key'));
    assert.equal(readFileSync(join(target.path, 'gossip.keyring'), 'utf8'), '["AAAAAAAAAAAAAAAAAAAAAA=="]\n');
    // A restore of a backup without a keyring removes one the data dir has now.
    writeFileSync(join(target.path, 'isolated'), '');
    await restoreBackup({ source: dest.path, id: 'no-ca-key', target: target.path });
    assert.equal(existsSync(join(target.path, 'isolated')), false, 'the node was not isolated when the backup was taken');
  } finally {
    dest.cleanup();
    certs.cleanup();
    target.cleanup();
  }
});

test('backup - S3: a database larger than one upload part goes up in parts and comes back intact (s3rver on loopback)', { timeout: 120_000 }, async () => {
  const s3 = await startLocalS3(['bkt']);
  const data = tempDir('caxton-backup-data-');
  const target = tempDir('caxton-restore-');
  const saved = { ...process.env };
  try {
    Object.assign(process.env, s3.env);
    const db = openDatabase(join(data.path, 'caxton.db'));
    const state = new SqliteAgentStateStore(db);
    // 12 MiB of incompressible state: three parts of lib-storage's 5 MiB.
    db.transaction(() => {
      for (let i = 0; i < 3000; i++) state.set(`a${i % 30}`, Buffer.from(`k${i}`), randomBytes(4096));
    })();
    db.close();
    writeFileSync(join(data.path, 'admin.key'), 'cax_test\n');
    const s3opts = { endpoint: s3.endpoint, forcePathStyle: true };
    const r = await createBackup({ dataDir: data.path, databasePath: join(data.path, 'caxton.db'), nodeId: 'n', version: VERSION, type: 'full', destination: 's3://bkt/nightly', compress: false, includeCaKey: false, files: {}, s3: s3opts });
    assert.ok(r.size_bytes > 12 * 2 ** 20, `${r.size_bytes} bytes`);
    assert.equal(r.location, 's3://bkt/nightly');
    assert.deepEqual((await verifyBackup({ source: 's3://bkt/nightly', id: r.id, s3: s3opts })).chain, [r.id]);
    await restoreBackup({ source: 's3://bkt/nightly', id: r.id, target: target.path, s3: s3opts });
    assert.deepEqual(stateOf(join(target.path, 'caxton.db')), stateOf(join(data.path, 'caxton.db')));
    assert.equal(stateOf(join(target.path, 'caxton.db'))['agent_kv']?.length, 3000);
  } finally {
    process.env = saved;
    await s3.stop();
    data.cleanup();
    target.cleanup();
  }
});
