import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rank, evenly } from '../../../../src/cluster/placement/rendezvous.js';
import { routerDirectory } from '../../../../src/cluster/directory/index.js';
import { agent, AE_MS, DEAD_MS, Harness, nameNotOwnedBy, nameOwnedBy, TOMB_MS } from './harness.js';

const sortedProviders = (ps: readonly { agent: string; node: string }[]) => [...ps].map((p) => `${p.agent}@${p.node}`).sort();

test('directory - an agent on its HRW owner needs no name entry and is located everywhere by computation', async () => {
  const h = new Harness(3);
  try {
    const owner = 'node-2';
    const name = nameOwnedBy(h.d(owner), owner);
    h.d(owner).upsert(agent(name));
    await h.settle();
    for (const n of h.names) {
      assert.equal(h.d(n).locate(name), owner, `${n} locates ${name}`);
      assert.equal([...h.d(n).held()].filter((e) => e.kind === 'name').length, 0, `${n} holds no name entry`);
    }
    assert.deepEqual(h.d(owner).whereIs(name), { kind: 'local' });
  } finally {
    h.close();
  }
});

test('directory - a pinned agent is an exception entry at its key’s top 2, which forward and hint the sender', async () => {
  const h = new Harness(5);
  try {
    const host = 'node-4';
    const name = nameNotOwnedBy(h.d(host), host);
    const holders = rank(name, evenly(h.names), 2);
    h.d(host).upsert(agent(name, { capabilities: ['translate'] }));
    await h.settle();
    for (const n of h.names) {
      const has = [...h.d(n).held()].some((e) => e.kind === 'name' && e.agent === name);
      assert.equal(has, holders.includes(n), `${n} ${holders.includes(n) ? 'holds' : 'does not hold'} the name entry`);
    }
    const owner = holders[0] as string;
    assert.notEqual(owner, host);
    // A holder locates it directly; a sender that is no holder computes the owner first.
    assert.equal(h.d(owner).locate(name), host);
    const sender = h.names.find((n) => !holders.includes(n) && n !== host) as string;
    assert.equal(h.d(sender).locate(name), owner);
    // The owner, receiving the sender's message, forwards it and tells the sender where it went.
    assert.deepEqual(h.d(owner).whereIs(name, sender), { kind: 'forward', node: host });
    await h.settle();
    assert.equal(h.d(sender).locate(name), host, 'the moved hint reached the sender');
    // A view change forgets hints: the cache is rebuilt from the new view.
    h.setView(h.names);
    assert.equal(h.d(sender).locate(name), owner);
  } finally {
    h.close();
  }
});

test('directory - a holder that passes a message on (the router asking nodeFor with the sender) tells the sender, once a second', async () => {
  const h = new Harness(5);
  try {
    const host = 'node-4';
    const name = nameNotOwnedBy(h.d(host), host);
    const holders = rank(name, evenly(h.names), 2);
    h.d(host).upsert(agent(name));
    await h.settle();
    const owner = holders[0] as string;
    const sender = h.names.find((n) => !holders.includes(n) && n !== host) as string;
    assert.equal(h.d(sender).locate(name), owner, 'the sender holds no entry: it computes the owner');
    const peers = h.peers.get(owner)!;
    const post = peers.post.bind(peers);
    const told: string[] = [];
    peers.post = (to, type, body) => {
      if (type === 'dir.moved') told.push(to);
      return post(to, type, body);
    };
    // The owner's router: the node for the name (a held entry, not its own computation), with the sender.
    for (let i = 0; i < 5; i++) assert.equal(routerDirectory(h.d(owner)).nodeFor(name, sender), host);
    assert.deepEqual(told, [sender], 'one hint for five messages in flight');
    assert.equal(routerDirectory(h.d(owner)).nodeFor(name), host, 'no sender, nobody to tell');
    assert.equal(routerDirectory(h.d(owner)).nodeFor(name, host), host, 'the host itself is not told');
    await h.settle();
    assert.equal(h.d(sender).locate(name), host, 'the hint reached the sender: its next message goes to the host');
    h.clock.advance(1000);
    routerDirectory(h.d(owner)).nodeFor(name, sender);
    assert.deepEqual(told, [sender, sender], 'told again after a second (the first hint may have been lost)');
  } finally {
    h.close();
  }
});

test('directory - a name that exists nowhere is unknown at its owner (pending right after a view change), forwarded elsewhere', async () => {
  const h = new Harness(3);
  try {
    const name = 'nobody-here';
    const holders = rank(name, evenly(h.names), 2);
    const owner = holders[0] as string;
    assert.deepEqual(h.d(owner).whereIs(name), { kind: 'pending' }, 'a node that just started is still settling');
    await h.advance(600);
    assert.deepEqual(h.d(owner).whereIs(name), { kind: 'unknown' });
    assert.equal(h.d(owner).stats.unknown, 1);
    const other = h.names.find((n) => !holders.includes(n)) as string;
    assert.deepEqual(h.d(other).whereIs(name), { kind: 'forward', node: owner });
    h.setView(h.names); // a view change: entries may be on their way
    assert.deepEqual(h.d(owner).whereIs(name), { kind: 'pending' });
    await h.advance(600);
    assert.deepEqual(h.d(owner).whereIs(name), { kind: 'unknown' });
  } finally {
    h.close();
  }
});

test('directory - capability and topic indexes answer from their holders, on every node, and follow changes', async () => {
  const h = new Harness(5);
  try {
    h.d('node-1').upsert(agent('t1', { capabilities: ['translate'], topics: ['news'] }));
    h.d('node-3').upsert(agent('t3', { capabilities: ['translate', 'summarize'] }));
    h.d('node-5').upsert(agent('t5', { topics: ['news'] }));
    await h.settle();
    for (const n of h.names) {
      assert.deepEqual(sortedProviders(await h.d(n).providers('translate')), ['t1@node-1', 't3@node-3'], `providers seen from ${n}`);
      assert.deepEqual(sortedProviders(await h.d(n).providers('summarize')), ['t3@node-3']);
      assert.deepEqual(await h.d(n).subscriberNodes('news'), ['node-1', 'node-5']);
      assert.deepEqual(await h.d(n).providers('nothing'), []);
      // Cached now, without a call.
      assert.deepEqual(sortedProviders(h.d(n).providersCached('translate') ?? []), ['t1@node-1', 't3@node-3']);
      assert.deepEqual(h.d(n).subscriberNodesCached('news'), ['node-1', 'node-5']);
    }
    // t3 stops providing translate; t1 is removed.
    h.d('node-3').upsert(agent('t3', { capabilities: ['summarize'] }));
    h.d('node-1').remove('t1');
    await h.advance(200); // past the lookup cache's ttl
    for (const n of h.names) {
      assert.deepEqual(await h.d(n).providers('translate'), [], `providers seen from ${n} after the change`);
      assert.deepEqual(await h.d(n).subscriberNodes('news'), ['node-5']);
    }
    // The cap holders keep tombstones, then forget them.
    const capHolders = rank('cap:translate', evenly(h.names), 2);
    for (const n of capHolders) assert.equal([...h.d(n).held()].filter((e) => e.kind === 'cap' && e.key === 'translate' && e.tombstone === true).length, 2);
    await h.advance(TOMB_MS + 2 * AE_MS);
    for (const n of capHolders) assert.equal([...h.d(n).held()].filter((e) => e.kind === 'cap' && e.key === 'translate').length, 0, `${n} forgot the tombstones`);
  } finally {
    h.close();
  }
});

test('directory - a tombstone wins over an older live entry that arrives late', async () => {
  const h = new Harness(3);
  try {
    const host = 'node-1';
    const name = nameNotOwnedBy(h.d(host), host);
    h.d(host).upsert(agent(name));
    await h.advance(600); // past the start's settling time
    const owner = h.d('node-2').ownerOf(name);
    const live = [...h.d(owner).held()].find((e) => e.kind === 'name' && e.agent === name);
    assert.ok(live !== undefined && live.tombstone === undefined);
    h.d(host).remove(name);
    await h.settle();
    assert.deepEqual(h.d(owner).whereIs(name), { kind: 'unknown' });
    // The old live entry again, as a delayed post from its authority.
    h.peers.get(host)?.post(owner, 'dir.update', { entries: [live] });
    await h.settle();
    assert.deepEqual(h.d(owner).whereIs(name), { kind: 'unknown' }, 'the late live entry did not revive the agent');
    assert.equal(h.d(owner).locate(name), owner);
  } finally {
    h.close();
  }
});

test('directory - a moved agent: the newer epoch wins, the old host’s tombstones do not hide it', async () => {
  const h = new Harness(5);
  try {
    const name = nameOwnedBy(h.d('node-1'), 'node-1');
    h.d('node-1').upsert(agent(name, { capabilities: ['c'] }));
    await h.settle();
    // Moved to node-2 (rebalance): the new host starts it at epoch 2, then the old one removes it.
    h.d('node-2').upsert(agent(name, { capabilities: ['c'], epoch: 2 }));
    h.d('node-1').remove(name);
    await h.settle();
    for (const n of h.names) {
      assert.equal(h.d(n).locate(name), n === 'node-2' || rank(name, evenly(h.names), 2).includes(n) ? 'node-2' : 'node-1', `locate from ${n}`);
      assert.deepEqual(sortedProviders(await h.d(n).providers('c')), [`${name}@node-2`]);
    }
    assert.deepEqual(h.d('node-1').whereIs(name, 'node-3'), { kind: 'forward', node: 'node-2' });
  } finally {
    h.close();
  }
});

test('directory - an authority’s death: its providers vanish at once, its entries after the dead window, its agents fail over', async () => {
  const h = new Harness(5);
  try {
    const dead = 'node-3';
    const name = nameNotOwnedBy(h.d(dead), dead);
    h.d(dead).upsert(agent(name, { capabilities: ['c'] }));
    h.d('node-1').upsert(agent('other', { capabilities: ['c'] }));
    await h.settle();
    h.net.down(dead);
    const alive = h.names.filter((n) => n !== dead);
    h.setView(alive, alive);
    await h.advance(200);
    for (const n of alive) assert.deepEqual(sortedProviders(await h.d(n).providers('c')), ['other@node-1'], `from ${n}`);
    const heldOfDead = () => alive.flatMap((n) => [...h.d(n).held()].filter((e) => e.node === dead)).length;
    assert.ok(heldOfDead() > 0, 'holders keep them within the window');
    await h.advance(DEAD_MS + 2 * AE_MS);
    assert.equal(heldOfDead(), 0, 'dropped after the window');
    // Failover: the new owner starts it at the next epoch; everyone finds it there.
    const newOwner = h.d('node-1').ownerOf(name);
    h.d(newOwner).upsert(agent(name, { capabilities: ['c'], epoch: 2 }));
    await h.settle();
    for (const n of alive) assert.equal(h.d(n).locate(name), newOwner);
    assert.equal((await h.d('node-1').verify({ deep: true })).ok, true);
  } finally {
    h.close();
  }
});

test('directory - a node that restarts empty gets its share back from the authorities’ next round', async () => {
  const h = new Harness(3);
  try {
    for (let i = 0; i < 30; i++) h.d(`node-${(i % 3) + 1}`).upsert(agent(`a${i}`, { capabilities: [`c${i % 4}`], topics: [`t${i % 3}`] }));
    await h.settle();
    const before = h.d('node-2').heldCount;
    assert.ok(before > 0);
    h.d('node-2').close();
    h.clock.advance(10); // a restart takes time: the new incarnation is later
    h.start('node-2', h.names); // same name, a fresh process: nothing held, nothing hosted
    assert.equal(h.d('node-2').heldCount, 0);
    assert.equal((await h.verify('node-1')).ok, false, 'verify sees the missing entries');
    await h.rounds(1);
    // What node-1 and node-3 host is back at node-2; what node-2's old process announced is gone
    // from the holders (its agents are lost with it until failover starts them elsewhere).
    const report = await h.verify('node-1');
    assert.equal(report.ok, true, JSON.stringify(report.rows));
    assert.equal([...h.d('node-1').held(), ...h.d('node-3').held()].filter((e) => e.node === 'node-2').length, 0);
  } finally {
    h.close();
  }
});

test('directory - the router’s view: nodeFor never names this node, capability and topic nodes come from the cache and fill in the background', async () => {
  const h = new Harness(3);
  try {
    await h.advance(600);
    const host = 'node-2';
    const pinned = nameNotOwnedBy(h.d(host), host);
    h.d(host).upsert(agent(pinned, { capabilities: ['c'], topics: ['t'] }));
    h.d('node-3').upsert(agent('p3', { capabilities: ['c'] }));
    await h.settle();
    for (const n of h.names) {
      const r = routerDirectory(h.d(n));
      const owner = h.d(n).ownerOf(pinned);
      if (n === host) assert.equal(r.nodeFor(pinned), undefined, 'hosted here: the router delivers locally before asking');
      else assert.equal(r.nodeFor(pinned), n === owner || rank(pinned, evenly(h.names), 2).includes(n) ? host : owner);
      const nowhere = 'no-such-agent';
      const o = h.d(n).ownerOf(nowhere);
      assert.equal(r.nodeFor(nowhere), o === n ? undefined : o);
      assert.deepEqual(r.capabilityNodes('c'), [], 'cold: none yet, fetched in the background');
      await h.settle();
      assert.deepEqual(r.capabilityNodes('c'), ['node-2', 'node-3'].filter((x) => x !== n));
      assert.equal(r.capabilityNodes('c'), r.capabilityNodes('c'), 'the same array while cached: no allocation per message');
      r.topicNodes('t');
      await h.settle();
      assert.deepEqual(r.topicNodes('t'), n === host ? [] : [host]);
    }
  } finally {
    h.close();
  }
});
