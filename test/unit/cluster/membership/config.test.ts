import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildVsn, configProblems, lanConfig, localConfig, validateConfig, wanConfig } from '../../../../src/cluster/membership/config.js';
import { isMembershipError } from '../../../../src/cluster/membership/errors.js';

test('lanConfig - memberlist DefaultLANConfig values (B.2)', () => {
  const c = lanConfig('n1');
  assert.equal(c.name, 'n1');
  assert.equal(c.protocolVersion, 2);
  assert.equal(c.tcpTimeoutMs, 10_000);
  assert.equal(c.indirectChecks, 3);
  assert.equal(c.retransmitMult, 4);
  assert.equal(c.suspicionMult, 4);
  assert.equal(c.suspicionMaxTimeoutMult, 6);
  assert.equal(c.pushPullIntervalMs, 30_000);
  assert.equal(c.probeTimeoutMs, 500);
  assert.equal(c.probeIntervalMs, 1_000);
  assert.equal(c.disableTcpPings, false);
  assert.equal(c.awarenessMaxMultiplier, 8);
  assert.equal(c.gossipNodes, 3);
  assert.equal(c.gossipIntervalMs, 200);
  assert.equal(c.gossipToTheDeadMs, 30_000);
  assert.equal(c.gossipVerifyIncoming, true);
  assert.equal(c.gossipVerifyOutgoing, true);
  assert.equal(c.enableCompression, true);
  assert.equal(c.handoffQueueDepth, 1024);
  assert.equal(c.udpBufferSize, 1400);
  assert.equal(c.deadNodeReclaimTimeMs, 0);
  assert.equal(c.reconnectIntervalMs, 30_000);
  assert.equal(c.reconnectTimeoutMs, 86_400_000);
  assert.equal(c.keyring, undefined);
  assert.deepEqual(configProblems(c), []);
});

test('wanConfig and localConfig override only what memberlist overrides', () => {
  const lan = new Map<string, unknown>(Object.entries(lanConfig('n')));
  const diff = (c: object): Record<string, unknown> => Object.fromEntries(Object.entries(c).filter(([k, v]) => lan.get(k) !== v));
  assert.deepEqual(diff(wanConfig('n')), {
    tcpTimeoutMs: 30_000,
    suspicionMult: 6,
    pushPullIntervalMs: 60_000,
    probeTimeoutMs: 3_000,
    probeIntervalMs: 5_000,
    gossipNodes: 4,
    gossipIntervalMs: 500,
    gossipToTheDeadMs: 60_000,
  });
  assert.deepEqual(diff(localConfig('n')), {
    tcpTimeoutMs: 1_000,
    indirectChecks: 1,
    retransmitMult: 2,
    suspicionMult: 3,
    pushPullIntervalMs: 15_000,
    probeTimeoutMs: 200,
    gossipIntervalMs: 100,
    gossipToTheDeadMs: 15_000,
  });
});

test('buildVsn - [1, 5, protocolVersion, dmin, dmax, dcur]', () => {
  assert.deepEqual(Array.from(buildVsn({ ...lanConfig('n'), delegateProtocolMin: 2, delegateProtocolMax: 5, delegateProtocolVersion: 5 })), [1, 5, 2, 2, 5, 5]);
});

test('validateConfig - lists every problem', () => {
  const bad = { ...lanConfig(''), protocolVersion: 6, probeTimeoutMs: 2_000, udpBufferSize: 10, delegateProtocolMin: 3, delegateProtocolMax: 2 };
  const problems = configProblems(bad);
  assert.equal(problems.length, 5, problems.join('\n'));
  assert.throws(
    () => validateConfig(bad),
    (e: unknown) => isMembershipError(e) && e.reason === 'invalid-config',
  );
});
