/**
 * OPTIONAL: a Caxton node (NetTransport + wire codec + SerfDelegate, no membership core) becomes a
 * member of a real Debian serf 0.9.4 agent on loopback. Skipped when `serf` is not on PATH
 * (`apt-get install serf`). serf binds 127.0.0.1, our node 127.0.0.10; every agent is killed at the end.
 *
 * Plaintext, and with -encrypt (the same key in our keyring): join by push/pull with
 * SerfDelegate.localState(true); `serf members` lists us alive with our tags; `serf event` and
 * `serf query` reach the delegate (and the query answer reaches the CLI); serf's own bytes (push/pull
 * state, query, user event) re-encode identically; `serf join` to us (push/pull into our stream
 * handler, then its join intent) and `serf leave` (its leave intent).
 * Encrypted only: `serf keys -install / -use / -remove / -list` are answered by the delegate, and its
 * keyring follows; we stay alive under the new key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Keyring, MessageType } from '../../../../src/cluster/wire/index.js';
import { SerfMessageType, decodeSerfMessage, encodeSerfMessage, type SerfIntent, type SerfKeyChange, type SerfUserEvent } from '../../../../src/cluster/serf/index.js';
import { TestNode, encryptionVariants, serfCli, sleep, startSerf, waitForMember } from './serf-harness.js';
import { outsideTool } from '../../../helpers/outside-tools.js';

const { path: SERF, skip: SKIP } = outsideTool('serf');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Waits until `pred` holds (polling) or `ms` pass. */
async function until(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) return false;
    await sleep(20);
  }
  return true;
}

// Plaintext, and with -encrypt on serf and the same key in the node's keyring.
for (const enc of encryptionVariants()) {
  test(`serf interop: join, members with tags, user event and query, serf join and serf leave (${enc.label})`, { skip: SKIP, timeout: 30_000 }, async (t) => {
    const agent = await startSerf(t, SERF ?? 'serf', enc.serfArgs);
    const keyring = enc.key === undefined ? undefined : new Keyring([], enc.key);
    const node = await TestNode.start(t, { name: 'ts1', host: '127.0.0.10', tags: { role: 'caxton', dc: 'loop' }, ...(keyring === undefined ? {} : { keyring }) });
    const events: SerfUserEvent[] = [];
    node.delegate.onUserEvent((e) => events.push(e));
    node.delegate.onQuery((q) => {
      if (q.name === 'caxton-echo') q.respond(new TextEncoder().encode(`echo:${new TextDecoder().decode(q.payload)}`));
    });

    const frame = await node.join(agent.addr);
    assert.equal(frame.message.type, MessageType.PushPull);
    assert.equal(frame.encrypted, keyring !== undefined);
    const serfState = node.remoteStates[0];
    assert.ok(serfState !== undefined, 'serf sent its user state');
    // serf's messagePushPull (with its 512-slot event buffer) re-encodes to the same bytes
    const decoded = decodeSerfMessage(serfState);
    assert.equal(decoded.type, SerfMessageType.PushPull);
    assert.equal(hex(encodeSerfMessage(SerfMessageType.PushPull, decoded.type === SerfMessageType.PushPull ? decoded.body : assert.fail())), hex(serfState));
    assert.ok(node.delegate.member('s1'), 's1 known to the delegate');
    assert.ok(node.delegate.clock.time() >= 1);

    node.delegate.join();
    assert.equal(node.flushBroadcasts(agent.addr), 1, 'our join intent');

    const seen = await waitForMember(agent, 'ts1', 'alive');
    assert.equal(seen?.status, 'alive', agent.log());
    assert.equal(seen?.addr, `127.0.0.10:${node.address.port}`);
    assert.deepEqual(seen?.tags, { role: 'caxton', dc: 'loop' });

    // serf event → gossip → our delegate
    const ev = await serfCli(agent, ['event', 'deploy', 'v1.2.3']);
    assert.equal(ev.code, 0, ev.stderr);
    assert.ok(await until(() => events.some((e) => e.name === 'deploy'), 5000), `no user event\n${agent.log()}`);
    const got = events.find((e) => e.name === 'deploy');
    assert.equal(new TextDecoder().decode(got?.payload), 'v1.2.3');
    assert.equal(got?.coalesce, true);
    const raw = node.userMessages.find((m) => m.bytes[0] === SerfMessageType.UserEvent);
    assert.ok(raw);
    const ue = decodeSerfMessage(raw.bytes);
    assert.equal(hex(encodeSerfMessage(SerfMessageType.UserEvent, ue.type === SerfMessageType.UserEvent ? ue.body : assert.fail())), hex(raw.bytes));
    assert.ok(node.delegate.queued().events >= 1, 'the event is re-gossiped');

    // serf query → our onQuery → response straight to serf's UDP port → the CLI prints it
    const q = await serfCli(agent, ['query', '-format=json', '-timeout=3s', 'caxton-echo', 'hi']);
    assert.equal(q.code, 0, q.stderr);
    const out = JSON.parse(q.stdout) as { Responses: Record<string, string> };
    assert.equal(out.Responses['ts1'], 'echo:hi', q.stdout);
    const rawQuery = node.userMessages.find((m) => m.bytes[0] === SerfMessageType.Query);
    assert.ok(rawQuery);
    const dq = decodeSerfMessage(rawQuery.bytes);
    assert.equal(hex(encodeSerfMessage(SerfMessageType.Query, dq.type === SerfMessageType.Query ? dq.body : assert.fail())), hex(rawQuery.bytes));
    assert.ok(node.pings > 0, 'serf probed us');

    // the other direction: serf joins us (push/pull to our stream handler, then its join intent)
    const intents: SerfIntent[] = [];
    node.delegate.onIntent((i) => intents.push(i));
    const statesBefore = node.remoteStates.length;
    const joined = await serfCli(agent, ['join', `127.0.0.10:${node.address.port}`]);
    assert.equal(joined.code, 0, joined.stdout + joined.stderr);
    assert.equal(node.remoteStates.length, statesBefore + 1, 'serf pushed its state to us');
    assert.ok(await until(() => intents.some((i) => i.type === 'join' && i.node === 's1'), 5000), 'serf gossiped its join intent');

    // serf leaves gracefully: its leave intent reaches us and s1 is leaving in Serf's terms
    const left = await serfCli(agent, ['leave']);
    assert.equal(left.code, 0, left.stdout + left.stderr);
    assert.ok(await until(() => intents.some((i) => i.type === 'leave' && i.node === 's1'), 5000), 'leave intent');
    assert.equal(node.delegate.member('s1')?.status, 'leaving');
    assert.equal(node.undecodable, 0, 'every packet from serf decoded (and decrypted)');
  });
}

test('serf interop: -encrypt join and `serf keys` rotation against the delegate keyring', { skip: SKIP, timeout: 30_000 }, async (t) => {
  const key1 = randomBytes(32);
  const key2 = randomBytes(32);
  const b64 = (k: Uint8Array): string => Buffer.from(k).toString('base64');
  const agent = await startSerf(t, SERF ?? 'serf', [`-encrypt=${b64(key1)}`]);
  const keyring = new Keyring([], key1);
  const node = await TestNode.start(t, { name: 'ts2', host: '127.0.0.10', tags: { role: 'caxton' }, keyring });
  const changes: SerfKeyChange[] = [];
  node.delegate.onKeyChange((c) => changes.push(c));

  const frame = await node.join(agent.addr);
  assert.equal(frame.encrypted, true);
  node.delegate.join();
  node.flushBroadcasts(agent.addr);
  assert.equal((await waitForMember(agent, 'ts2', 'alive'))?.status, 'alive', agent.log());

  const install = await serfCli(agent, ['keys', `-install=${b64(key2)}`]);
  assert.equal(install.code, 0, `${install.stdout}${install.stderr}\n${agent.log()}`);
  assert.equal(keyring.size, 2);
  assert.equal(hex(keyring.getPrimaryKey() ?? new Uint8Array(0)), hex(key1));

  const use = await serfCli(agent, ['keys', `-use=${b64(key2)}`]);
  assert.equal(use.code, 0, use.stdout + use.stderr);
  assert.equal(hex(keyring.getPrimaryKey() ?? new Uint8Array(0)), hex(key2));

  const remove = await serfCli(agent, ['keys', `-remove=${b64(key1)}`]);
  assert.equal(remove.code, 0, remove.stdout + remove.stderr);
  assert.deepEqual(keyring.getKeys().map(b64), [b64(key2)]);

  const list = await serfCli(agent, ['keys', '-list']);
  assert.equal(list.code, 0, list.stdout + list.stderr);
  assert.match(list.stdout, new RegExp(`${b64(key2).replace(/[+/]/g, '\\$&')}\\s+\\[2/2\\]`));

  // removing the primary fails on every node, ours included, with memberlist's message
  const bad = await serfCli(agent, ['keys', `-remove=${b64(key2)}`]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stdout + bad.stderr, /failed:\s+ts2\s+Removing the primary key is not allowed/);

  assert.deepEqual(
    changes.map((c) => [c.op, b64(c.key), c.ok, c.sourceNode]),
    [
      ['install', b64(key2), true, 's1'],
      ['use', b64(key2), true, 's1'],
      ['remove', b64(key1), true, 's1'],
      ['remove', b64(key2), false, 's1'],
    ],
  );
  // still a healthy member under the new key: serf's probes reach us and our acks reach serf
  const pingsBefore = node.pings;
  await sleep(2500);
  assert.ok(node.pings > pingsBefore, 'serf keeps probing us with the new key');
  assert.equal((await waitForMember(agent, 'ts2', 'alive', 1000))?.status, 'alive', agent.log());
  assert.equal(node.undecodable, 0);
});
