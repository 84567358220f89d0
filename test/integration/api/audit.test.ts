import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { withNode } from '../../helpers/node.js';
import { tempDir } from '../../helpers/tmp.js';

test('audit API - creating an API key never puts the key in the audit file or table', async () => {
  const dir = tempDir();
  const path = join(dir.path, 'audit.jsonl');
  try {
    await withNode({ api: { addr: { host: '127.0.0.1', port: 0 }, audit: { enabled: true, path } } }, async ({ call, dataDir }) => {
      const created = await call('POST', '/keys', { name: 'ci-deployer', role: 'developer' });
      assert.equal(created.status, 201);
      const secret = created.body.key as string;
      assert.match(secret, /^cax_/);
      const changed = await call('PATCH', `/keys/${created.body.id}`, { role: 'operator' });
      assert.equal(changed.status, 200);

      const file = readFileSync(path, 'utf8');
      const table = new Database(join(dataDir, 'caxton.db'), { readonly: true });
      const rows = table.prepare('SELECT * FROM audit_log').all();
      table.close();
      const everything = file + JSON.stringify(rows);
      assert.ok(!everything.includes(secret), 'the key is in the audit log');
      // Nor any part of it long enough to matter.
      assert.ok(!everything.includes(secret.slice(4, 20)));

      const lines = file.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(lines.map((l) => [l['action'], l['actor'], l['target'], l['result']]), [
        ['key.create', 'local-admin', created.body.id, 'ok'],
        ['key.set-role', 'local-admin', created.body.id, 'ok'],
      ]);
      assert.deepEqual(lines[0]?.['detail'], { name: 'ci-deployer', role: 'developer' });
      assert.deepEqual(lines[1]?.['detail'], { name: 'ci-deployer', role: 'operator' });
    });
  } finally {
    dir.cleanup();
  }
});

test('audit API - refusals are recorded: a 403 with the refused key as actor, a 401 as anonymous, never the presented text', async () => {
  await withNode({}, async ({ call }) => {
    const viewer = await call('POST', '/keys', { name: 'watcher', role: 'viewer' });
    const refused = await call('POST', '/agents/echo/suspend', {}, viewer.body.key as string);
    assert.equal(refused.status, 403);
    const bogus = 'cax_not-a-key-but-maybe-a-mistyped-one';
    const unknown = await call('POST', '/agents/echo/suspend', {}, bogus);
    assert.equal(unknown.status, 401);
    const missing = await call('POST', '/agents/echo/resume', {});
    assert.equal(missing.status, 404);
    // A read is not a management action.
    await call('GET', '/agents');

    const r = await call('GET', '/audit');
    assert.equal(r.status, 200);
    const rows = (r.body.entries as Record<string, unknown>[]).map((e) => [e['action'], e['actor'], e['actor_kind'], e['target'], e['result'], e['status'], e['error_code']]);
    assert.deepEqual(rows, [
      ['key.create', 'local-admin', 'key', viewer.body.id, 'ok', 201, null],
      ['agent.suspend', 'watcher', 'key', 'echo', 'error', 403, 'CAXTON_ERR_API_FORBIDDEN'],
      ['agent.suspend', 'anonymous', 'anonymous', 'echo', 'error', 401, 'CAXTON_ERR_API_UNAUTHORIZED'],
      ['agent.resume', 'local-admin', 'key', 'echo', 'error', 404, 'CAXTON_ERR_AGENT_NOT_FOUND'],
    ]);
    assert.ok(!JSON.stringify(r.body).includes(bogus));
    // Viewing the log needs admin.
    assert.equal((await call('GET', '/audit', undefined, viewer.body.key as string)).status, 403);
    const filtered = await call('GET', '/audit?actor=watcher&action=agent.*');
    assert.equal(filtered.body.entries.length, 1);
    const bad = await call('GET', '/audit?since=yesterday');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /querystring\.since must be a time in ISO 8601/);
  });
});

test('audit API - with auth off the actor is anonymous; with the database log off, listing says so', async () => {
  await withNode({ api: { addr: { host: '127.0.0.1', port: 0 }, authEnabled: false } }, async ({ call }) => {
    await call('POST', '/memory/gc', {}, null);
    const r = await call('GET', '/audit', undefined, null);
    assert.deepEqual(r.body.entries.map((e: Record<string, unknown>) => [e['action'], e['actor'], e['actor_kind'], e['result']]), [['memory.gc', 'anonymous', 'anonymous', 'ok']]);
  });
  await withNode({ api: { addr: { host: '127.0.0.1', port: 0 }, audit: { enabled: false, path: '' } } }, async ({ call }) => {
    const r = await call('GET', '/audit');
    assert.equal(r.status, 409);
    assert.equal(r.body.error.code, 'CAXTON_ERR_AUDIT_DISABLED');
  });
});
