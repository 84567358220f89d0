import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { CaxtonConfigSchema, DEFAULT_CONFIG, loadConfig } from '../../../src/config/index.js';
import { validateConfig } from '../../../src/config/validate.js';
import { leafPaths, valueAt } from '../../../src/config/paths.js';
import { DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_MAILBOX_BYTES, DEFAULT_MAILBOX_CAPACITY, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_POLICY } from '../../../src/sandbox/index.js';
import { DEFAULT_RESTART_POLICY } from '../../../src/agents/index.js';
import { DEFAULT_CANARY_PLAN } from '../../../src/agents/canary-plan.js';

test('defaults - DEFAULT_CONFIG passes its own schema and is frozen', () => {
  assert.deepEqual(validateConfig(DEFAULT_CONFIG), []);
  assert.ok(Object.isFrozen(DEFAULT_CONFIG.coordination.cluster.seeds));
});

test('defaults - resolve to exactly what the code used before there was a config', () => {
  const r = loadConfig({ env: {} }).resolved;
  assert.deepEqual(r.runtime.policy, DEFAULT_POLICY);
  assert.deepEqual(r.runtime.restartPolicy, DEFAULT_RESTART_POLICY);
  assert.equal(r.runtime.workers, Math.max(1, availableParallelism() - 1));
  assert.equal(r.messaging.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES);
  assert.equal(r.messaging.mailboxCapacity, DEFAULT_MAILBOX_CAPACITY);
  assert.equal(r.messaging.mailboxBytes, DEFAULT_MAILBOX_BYTES);
  assert.equal(r.messaging.drainTimeoutMs, DEFAULT_DRAIN_TIMEOUT_MS);
  assert.equal(r.messaging.capabilityStrategy, 'round-robin'); // AgentPool's default
  assert.equal(r.messaging.redeliverAfterMs, 5000); // AgentPool's redeliverAfterMs default
  assert.deepEqual(r.messaging.relay, { intervalMs: 1000, baseDelayMs: 5000, maxAttempts: 5, batch: 500 }); // OutboxRelay's defaults
  assert.deepEqual(r.deployment.canary, DEFAULT_CANARY_PLAN);
  assert.deepEqual(r.coordination.localState, { synchronous: 'normal', busyTimeoutMs: 5000 }); // openDatabase's defaults
  // memberlist DefaultLANConfig
  const c = r.coordination.cluster;
  assert.deepEqual([c.gossipIntervalMs, c.gossipFanout, c.probeIntervalMs, c.probeTimeoutMs, c.suspicionMult], [200, 3, 1000, 500, 4]);
});

test('defaults - docs/configuration.md has a row for every key, with its default', () => {
  const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
  const rows = new Map([...doc.matchAll(/^\| `([a-z0-9_]+\.[a-z0-9_.]+)` \| [^|]+ \| ([^|]+) \|/gm)].map((m) => [m[1] as string, (m[2] as string).trim()]));
  const keys = leafPaths(CaxtonConfigSchema).map((p) => p.join('.'));
  for (const key of keys) {
    assert.ok(rows.has(key), `docs/configuration.md documents ${key}`);
    if (key === 'node.id') continue; // the host name, which differs by machine
    const v = valueAt(DEFAULT_CONFIG, key.split('.'));
    const shown = Array.isArray(v) ? `[${v.join(', ')}]` : v === '' ? '""' : String(v);
    assert.equal(rows.get(key), `\`${shown}\``, `default of ${key} in docs/configuration.md`);
  }
  assert.deepEqual([...rows.keys()].filter((k) => !keys.includes(k)), [], 'no rows for keys that do not exist');
});
