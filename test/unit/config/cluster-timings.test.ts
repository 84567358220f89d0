/**
 * coordination.cluster timing keys: every memberlist/Serf timing is configurable, the profile gives
 * the ones not set, set ones win, ranges are checked, and the names map onto MembershipConfig.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLUSTER_PROFILES, loadConfig, parseConfigText } from '../../../src/config/index.js';
import { CLUSTER_TIMING_KEYS } from '../../../src/config/defaults.js';
import { fastConfig, lanConfig, localConfig, wanConfig, configProblems, type MembershipConfig } from '../../../src/cluster/membership/config.js';
import { isCaxtonError } from '../../../src/errors.js';

/** Config key → MembershipConfig field (tombstone_timeout is Serf's, checked separately). */
const MEMBERLIST_NAME = {
  gossip_interval: 'gossipIntervalMs',
  gossip_fanout: 'gossipNodes',
  probe_interval: 'probeIntervalMs',
  probe_timeout: 'probeTimeoutMs',
  suspicion_mult: 'suspicionMult',
  suspicion_max_timeout_mult: 'suspicionMaxTimeoutMult',
  retransmit_mult: 'retransmitMult',
  indirect_checks: 'indirectChecks',
  awareness_max_multiplier: 'awarenessMaxMultiplier',
  tcp_timeout: 'tcpTimeoutMs',
  push_pull_interval: 'pushPullIntervalMs',
  gossip_to_dead_time: 'gossipToTheDeadMs',
  dead_node_reclaim_time: 'deadNodeReclaimTimeMs',
  reconnect_interval: 'reconnectIntervalMs',
  reconnect_timeout: 'reconnectTimeoutMs',
} as const satisfies Partial<Record<(typeof CLUSTER_TIMING_KEYS)[number], keyof MembershipConfig>>;

const profileConfig = { lan: lanConfig, local: localConfig, wan: wanConfig, fast: fastConfig } as const;

const load = (yaml: string) => parseConfigText(yaml, 'c.yaml', {});

function problems(yaml: string): string[] {
  try {
    load(yaml);
  } catch (e) {
    assert.ok(isCaxtonError(e, 'CAXTON_ERR_CONFIG_INVALID'), String(e));
    return e.message.split('\n');
  }
  assert.fail('expected the config to be refused');
}

test('cluster timings - every timing key is listed, and every one but tombstone_timeout has a memberlist field', () => {
  assert.deepEqual([...CLUSTER_TIMING_KEYS].sort(), [...Object.keys(MEMBERLIST_NAME), 'tombstone_timeout'].sort());
  const cluster = loadConfig({ env: {} }).config.coordination.cluster as Record<string, unknown>;
  for (const k of CLUSTER_TIMING_KEYS) assert.ok(k in cluster, `${k} has a default`);
});

test('cluster timings - each profile resolves to exactly memberlist\'s profile (and Serf\'s 24 h tombstone)', () => {
  for (const profile of CLUSTER_PROFILES) {
    const t = load(`coordination:\n  cluster:\n    profile: ${profile}\n`).resolved.coordination.cluster.timings;
    const m = profileConfig[profile]('n');
    for (const [key, field] of Object.entries(MEMBERLIST_NAME)) {
      assert.equal(t[field], m[field], `${profile}: ${key} = ${field}`);
    }
    assert.equal(t.tombstoneTimeoutMs, 24 * 3600_000, `${profile}: tombstone_timeout`);
    // What Cluster.start builds from them is a valid membership config.
    assert.deepEqual(configProblems({ ...m, ...t }), []);
  }
});

test('cluster timings - keys set in the file or with --set win over the profile; the rest come from it', () => {
  const yaml = [
    'coordination:',
    '  cluster:',
    '    profile: wan',
    '    retransmit_mult: 7',
    '    push_pull_interval: 2m',
    '    gossip_to_dead_time: 90s',
    '    suspicion_max_timeout_mult: 9',
    '    awareness_max_multiplier: 3',
    '    indirect_checks: 0',
    '    tcp_timeout: 45s',
    '    reconnect_interval: 0',
    '    reconnect_timeout: 8h',
    '    tombstone_timeout: 12h',
    '    dead_node_reclaim_time: 5m',
    '',
  ].join('\n');
  const t = load(yaml).resolved.coordination.cluster.timings;
  assert.deepEqual(t, {
    ...{ gossipIntervalMs: 500, gossipNodes: 4, probeIntervalMs: 5000, probeTimeoutMs: 3000, suspicionMult: 6 }, // wan's
    retransmitMult: 7,
    pushPullIntervalMs: 120_000,
    gossipToTheDeadMs: 90_000,
    suspicionMaxTimeoutMult: 9,
    awarenessMaxMultiplier: 3,
    indirectChecks: 0,
    tcpTimeoutMs: 45_000,
    reconnectIntervalMs: 0,
    reconnectTimeoutMs: 8 * 3600_000,
    tombstoneTimeoutMs: 12 * 3600_000,
    deadNodeReclaimTimeMs: 300_000,
  });
  const viaSet = loadConfig({ env: {}, sets: ['coordination.cluster.profile=local', 'coordination.cluster.tcp_timeout=3s', 'coordination.cluster.retransmit_mult=5'] });
  const s = viaSet.resolved.coordination.cluster.timings;
  assert.deepEqual([s.tcpTimeoutMs, s.retransmitMult, s.indirectChecks, s.pushPullIntervalMs, s.gossipToTheDeadMs], [3000, 5, 1, 15_000, 15_000]);
  // The as-written view shows the effective values too (config show).
  assert.equal(viaSet.config.coordination.cluster.push_pull_interval, '15s');
});

test('cluster timings - out-of-range values are refused with the key, the range and the value', () => {
  const yaml = [
    'coordination:',
    '  cluster:',
    '    retransmit_mult: 0',
    '    suspicion_max_timeout_mult: 101',
    '    indirect_checks: -1',
    '    awareness_max_multiplier: 2.5',
    '    tcp_timeout: 0',
    '    push_pull_interval: -5s',
    '    reconnect_timeout: 10ms',
    '    tombstone_timeout: soon',
    '',
  ].join('\n');
  assert.deepEqual(problems(yaml), [
    'c.yaml:3:22: coordination.cluster.retransmit_mult must be an integer from 1 to 100, got 0',
    'c.yaml:4:33: coordination.cluster.suspicion_max_timeout_mult must be an integer from 1 to 100, got 101',
    'c.yaml:5:22: coordination.cluster.indirect_checks must be an integer from 0 to 100, got -1',
    'c.yaml:6:31: coordination.cluster.awareness_max_multiplier must be an integer from 1 to 100, got 2.5',
    'c.yaml:7:18: coordination.cluster.tcp_timeout must be a duration (milliseconds, or a number with a unit such as "5s") from 1ms to 1h, got 0',
    'c.yaml:8:25: coordination.cluster.push_pull_interval must be a duration (milliseconds, or a number with a unit such as "5s") of at least 0ms, got "-5s": write a number with a unit (ms, s, m, h, d), for example 250ms, 5s or 1h30m',
    'c.yaml:9:24: coordination.cluster.reconnect_timeout must be a duration (milliseconds, or a number with a unit such as "5s") of at least 1s, got "10ms"',
    'c.yaml:10:24: coordination.cluster.tombstone_timeout must be a duration (milliseconds, or a number with a unit such as "5s") of at least 1s, got "soon": write a number with a unit (ms, s, m, h, d), for example 250ms, 5s or 1h30m',
  ]);
});
