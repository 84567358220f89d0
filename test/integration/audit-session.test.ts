/**
 * The check: "the audit log records each action of a scripted session with its actor", with a
 * real server process, the CLI, the file at observability.audit.path and a restart on the same data dir.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, startServer, type RunningServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

type Row = readonly [action: string, actor: string, target: string | null, result: string];

test('audit session - each action of a scripted session is listed and written to the file with its actor, target and result, in order, across a restart', { timeout: 180_000 }, async () => {
  const files = tempDir();
  const path = join(files.path, 'audit.jsonl');
  const args = ['--set', `observability.audit.path=${path}`];
  let srv: RunningServer | undefined = await startServer({ args });
  const dataDir = srv.dataDir;
  // The first server owns the temp data dir; the restarted one reuses it.
  const removeDataDir = srv.cleanup;
  const as = async (key: string, cmd: readonly string[]) => {
    const r = await runCli([...cmd, '-o', 'json'], { dataDir, env: { CAXTON_API_URL: (srv as RunningServer).apiUrl, CAXTON_API_KEY: key } });
    return { ...r, json: r.stdout === '' ? undefined : (JSON.parse(r.stdout) as Record<string, unknown>) };
  };
  try {
    const admin = srv.adminKey;
    // Operators may suspend but not deploy or remove (docs/api.md, roles): one developer key deploys.
    const ops = await as(admin, ['key', 'create', '--name', 'ops', '--role', 'operator']);
    assert.equal(ops.code, 0, ops.stderr);
    const dev = await as(admin, ['key', 'create', '--name', 'deployer', '--role', 'developer']);
    assert.equal(dev.code, 0, dev.stderr);
    const opsKey = ops.json?.['key'] as string;
    const devKey = dev.json?.['key'] as string;
    const opsId = ops.json?.['id'] as string;
    const devId = dev.json?.['id'] as string;

    assert.equal((await as(devKey, ['deploy', 'build/agents/echo.wasm', '--name', 'echo'])).code, 0);
    assert.equal((await as(opsKey, ['agent', 'suspend', 'echo'])).code, 0);
    const refused = await as(opsKey, ['agent', 'remove', 'echo']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /role operator/);
    assert.equal((await as(devKey, ['agent', 'remove', 'echo'])).code, 0);
    assert.equal((await as(admin, ['key', 'revoke', opsId])).code, 0);

    const expected: Row[] = [
      ['key.create', 'local-admin', opsId, 'ok'],
      ['key.create', 'local-admin', devId, 'ok'],
      ['agent.deploy', 'deployer', 'echo', 'ok'],
      ['agent.suspend', 'ops', 'echo', 'ok'],
      ['agent.remove', 'ops', 'echo', 'error'],
      ['agent.remove', 'deployer', 'echo', 'ok'],
      ['key.revoke', 'local-admin', opsId, 'ok'],
    ];
    const listed = async (): Promise<{ rows: Row[]; entries: Record<string, unknown>[] }> => {
      const r = await as(admin, ['audit', 'list']);
      assert.equal(r.code, 0, r.stderr);
      const entries = r.json?.['entries'] as Record<string, unknown>[];
      return { entries, rows: entries.map((e) => [e['action'], e['actor'], e['target'], e['result']] as unknown as Row) };
    };
    const before = await listed();
    assert.deepEqual(before.rows, expected);
    assert.equal(before.entries[4]?.['error_code'], 'CAXTON_ERR_API_FORBIDDEN');
    assert.equal(before.entries[4]?.['status'], 403);
    assert.match(String((before.entries[2]?.['detail'] as Record<string, unknown>)['module']), /^[0-9a-f]{64}$/);
    for (const e of before.entries) assert.equal(e['node'], 'test-node');

    const fileRows = () =>
      readFileSync(path, 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .map((e) => [e['action'], e['actor'], e['target'], e['result']] as unknown as Row);
    assert.deepEqual(fileRows(), expected);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const text = readFileSync(path, 'utf8');
    assert.ok(!text.includes(opsKey) && !text.includes(devKey) && !text.includes(admin), 'a key is in the audit file');

    // The table: the human form, with the actors.
    const table = await runCli(['audit', 'list', '--actor', 'ops'], { dataDir, env: { CAXTON_API_URL: srv.apiUrl, CAXTON_API_KEY: admin } });
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^TIME\s+ACTOR\s+ACTION\s+TARGET\s+RESULT$/);
    assert.match(lines[1] ?? '', /\sops\s+agent\.suspend\s+echo\s+ok$/);
    assert.match(lines[2] ?? '', /\sops\s+agent\.remove\s+echo\s+error 403 CAXTON_ERR_API_FORBIDDEN$/);
    assert.equal(lines[3], '2 entries');

    assert.equal(await srv.stop(), 0);
    srv = await startServer({ args, dataDir });
    const after = await listed();
    assert.deepEqual(after.rows, expected);
    assert.deepEqual(after.entries.map((e) => e['id']), before.entries.map((e) => e['id']));
    // The restarted node appends to the same file.
    const again = await as(admin, ['key', 'create', '--name', 'after-restart', '--role', 'viewer']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(fileRows(), [...expected, ['key.create', 'local-admin', again.json?.['id'] as string, 'ok']]);
  } finally {
    await srv?.stop();
    removeDataDir();
    files.cleanup();
  }
});
