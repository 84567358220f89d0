import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { openDatabase } from '../../../src/storage/index.js';
import { createLogger } from '../../../src/observability/logger.js';
import { AUDIT_TRIM_EVERY, AuditLog, auditFields, type AuditEntry } from '../../../src/security/audit.js';
import { tempDir } from '../../helpers/tmp.js';

function capture(): { logger: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  let text = '';
  const out = new Writable({ write: (c: Buffer, _e, cb) => ((text += c.toString()), cb()) });
  return { logger: createLogger({ level: 'info', destination: out }), lines: () => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

function entry(over: Partial<AuditEntry> = {}): AuditEntry {
  return { time: Date.parse('2026-12-07T05:00:00Z'), actor: 'ops', actorId: 'k-1', actorKind: 'key', action: 'agent.suspend', target: 'echo', result: 'ok', status: 200, errorCode: null, detail: {}, node: 'n1', ...over };
}

test('audit - an entry goes to the table and, as one JSON line, to a file created 0600', () => {
  const dir = tempDir();
  try {
    const db = openDatabase(join(dir.path, 'caxton.db'));
    const path = join(dir.path, 'audit.jsonl');
    const log = new AuditLog({ db, path, logger: capture().logger });
    log.record(entry());
    log.record(entry({ action: 'agent.remove', result: 'error', status: 404, errorCode: 'CAXTON_ERR_AGENT_NOT_FOUND', time: Date.parse('2026-12-07T05:00:01Z') }));
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines[0], { time: '2026-12-07T05:00:00.000Z', node: 'n1', actor: 'ops', actor_id: 'k-1', actor_kind: 'key', action: 'agent.suspend', target: 'echo', result: 'ok', status: 200, error_code: null, detail: {} });
    assert.equal(lines[1]?.['error_code'], 'CAXTON_ERR_AGENT_NOT_FOUND');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const listed = log.list();
    assert.deepEqual(listed.map((e) => [e.action, e.result, e.actor]), [['agent.suspend', 'ok', 'ops'], ['agent.remove', 'error', 'ops']]);
    db.close();
  } finally {
    dir.cleanup();
  }
});

test('audit - the file is appended to, never truncated, and entries outlive a reopen of the database', () => {
  const dir = tempDir();
  try {
    const dbPath = join(dir.path, 'caxton.db');
    const path = join(dir.path, 'audit.jsonl');
    writeFileSync(path, '{"earlier":true}\n', { mode: 0o600 });
    let db = openDatabase(dbPath);
    new AuditLog({ db, path, logger: capture().logger }).record(entry());
    db.close();
    db = openDatabase(dbPath);
    const log = new AuditLog({ db, path, logger: capture().logger });
    log.record(entry({ action: 'agent.resume' }));
    assert.deepEqual(log.list().map((e) => e.action), ['agent.suspend', 'agent.resume']);
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[0], '{"earlier":true}');
    db.close();
  } finally {
    dir.cleanup();
  }
});

test('audit - list filters by actor (name or key id), action (exact or prefix*) and time, and keeps the last N', () => {
  const dir = tempDir();
  try {
    const db = openDatabase(join(dir.path, 'caxton.db'));
    const log = new AuditLog({ db, logger: capture().logger });
    const t0 = Date.parse('2026-12-07T05:00:00Z');
    log.record(entry({ time: t0, actor: 'admin', actorId: 'k-0', action: 'key.create', target: 'k-1' }));
    log.record(entry({ time: t0 + 1000, action: 'agent.deploy' }));
    log.record(entry({ time: t0 + 2000, action: 'agent.suspend' }));
    log.record(entry({ time: t0 + 3000, actor: 'admin', actorId: 'k-0', action: 'key.revoke', target: 'k-1' }));
    assert.deepEqual(log.list({ actor: 'ops' }).map((e) => e.action), ['agent.deploy', 'agent.suspend']);
    assert.deepEqual(log.list({ actor: 'k-0' }).map((e) => e.action), ['key.create', 'key.revoke']);
    assert.deepEqual(log.list({ action: 'agent.*' }).map((e) => e.action), ['agent.deploy', 'agent.suspend']);
    assert.deepEqual(log.list({ action: 'key.revoke' }).map((e) => e.target), ['k-1']);
    assert.deepEqual(log.list({ since: t0 + 2000 }).map((e) => e.action), ['agent.suspend', 'key.revoke']);
    assert.deepEqual(log.list({}, 2).map((e) => e.action), ['agent.suspend', 'key.revoke']);
    db.close();
  } finally {
    dir.cleanup();
  }
});

test('audit - the table is trimmed to the last capacity entries in batches, and at open', () => {
  const dir = tempDir();
  try {
    const dbPath = join(dir.path, 'caxton.db');
    let db = openDatabase(dbPath);
    const capacity = 5;
    let log = new AuditLog({ db, logger: capture().logger, capacity });
    const count = () => db.prepare('SELECT count(*) FROM audit_log').pluck().get() as number;
    for (let i = 0; i < AUDIT_TRIM_EVERY - 1; i++) log.record(entry({ target: `a${i}` }));
    assert.equal(count(), AUDIT_TRIM_EVERY - 1, 'no trim before the batch is full');
    log.record(entry({ target: `a${AUDIT_TRIM_EVERY - 1}` }));
    assert.equal(count(), capacity);
    assert.deepEqual(log.list({}, 100).map((e) => e.target), [995, 996, 997, 998, 999].map((i) => `a${i}`));
    for (let i = 0; i < 3; i++) log.record(entry({ target: `b${i}` }));
    assert.equal(count(), capacity + 3);
    db.close();
    db = openDatabase(dbPath);
    log = new AuditLog({ db, logger: capture().logger, capacity });
    assert.deepEqual(log.list({}, 100).map((e) => e.target), ['a998', 'a999', 'b0', 'b1', 'b2']);
    db.close();
  } finally {
    dir.cleanup();
  }
});

test('audit - a file that cannot be written is logged once, and the entry still reaches the table', () => {
  const dir = tempDir();
  try {
    const db = openDatabase(join(dir.path, 'caxton.db'));
    const path = join(dir.path, 'a-directory');
    mkdirSync(path);
    const { logger, lines } = capture();
    const log = new AuditLog({ db, path, logger });
    assert.doesNotThrow(() => log.record(entry()));
    assert.doesNotThrow(() => log.record(entry({ action: 'agent.resume' })));
    assert.deepEqual(log.list().map((e) => e.action), ['agent.suspend', 'agent.resume']);
    const errors = lines().filter((l) => l['msg'] === 'audit log: could not append to the file; entries stay in the database only until it works again');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.['path'], path);
    db.close();
  } finally {
    dir.cleanup();
  }
});

test('audit - target and detail come from the action\'s allow-list only: a key or a gossip key never does', () => {
  const secret = 'cax_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA';
  const created = auditFields('key.create', [{}, { id: 'k-9' }, { name: 'ops', role: 'operator', key: secret }, {}]);
  assert.deepEqual(created, { target: 'k-9', detail: { name: 'ops', role: 'operator' } });
  const gossip = 'Qk9PTV9LRVlfMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM=';
  const rotated = auditFields('cluster.gossip-key', [{ op: 'install' }, { fingerprint: '0123456789abcdef' }, { key: gossip, timeout_ms: 1000 }, {}]);
  assert.deepEqual(rotated, { target: 'install', detail: { fingerprint: '0123456789abcdef' } });
  assert.ok(!JSON.stringify([created, rotated]).includes(secret) && !JSON.stringify(rotated).includes(gossip));
  // Params come first: a body cannot name another target than the URL's.
  assert.equal(auditFields('agent.suspend', [{ name: 'echo' }, undefined, { name: 'other' }, {}]).target, 'echo');
  // Objects are never copied (a config could hold anything); long strings and lists are cut.
  const d = auditFields('agent.canary-rollback', [{ name: 'a' }, undefined, { reason: 'x'.repeat(1000) }, {}]).detail;
  assert.equal((d['reason'] as string).length, 301);
  assert.deepEqual(auditFields('dead-letters.replay', [{}, undefined, { ids: [1, { a: 1 }, 2] }, {}]).detail, { ids: [1, 2] });
});

test('audit - tool calls are kept apart: they never push management actions out, and agents are actors', () => {
  const dir = tempDir();
  try {
    const db = openDatabase(join(dir.path, 'a.db'));
    const log = new AuditLog({ db, logger: capture().logger, capacity: 3, toolCapacity: 2 });
    const entry = (action: 'agent.deploy' | 'tool.call', i: number) => ({
      time: i, actor: action === 'tool.call' ? 'agent-x' : 'admin', actorId: null, actorKind: action === 'tool.call' ? ('agent' as const) : ('key' as const),
      action, target: String(i), result: 'ok' as const, status: 200, errorCode: null, detail: {}, node: 'n',
    });
    for (let i = 0; i < 3; i++) log.record(entry('agent.deploy', i));
    for (let i = 0; i < AUDIT_TRIM_EVERY + 5; i++) log.record(entry('tool.call', 100 + i));
    const all = log.list({}, 100_000);
    assert.deepEqual(all.filter((e) => e.action === 'agent.deploy').map((e) => e.target), ['0', '1', '2']);
    assert.ok(all.filter((e) => e.action === 'tool.call').length < AUDIT_TRIM_EVERY + 5, 'tool calls were trimmed');
    assert.equal(log.list({ action: 'tool.*' }, 1)[0]?.actorKind, 'agent');
    db.close();
  } finally {
    dir.cleanup();
  }
});
