import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evenly, rank } from '../../../../src/cluster/placement/rendezvous.js';
import { placementKey, type DirectoryEntry } from '../../../../src/cluster/directory/entry.js';
import { prng } from '../../../helpers/prng.js';
import { agent, AE_MS, DEAD_MS, Harness, nameNotOwnedBy } from './harness.js';

/**
 * Every live entry any alive node holds is held, identically, by every current holder of its key,
 * and by nobody else.
 */
function assertHoldersAgree(h: Harness, alive: readonly string[], ctx = ''): void {
  const ws = evenly(alive);
  const seen = new Map<string, { e: DirectoryEntry; at: string[] }>();
  for (const n of alive) {
    for (const e of h.d(n).held()) {
      if (e.tombstone === true) continue;
      const id = `${e.kind}\n${e.key}\n${e.agent}`;
      const s = seen.get(id);
      if (s === undefined) seen.set(id, { e, at: [n] });
      else {
        assert.deepEqual(e, s.e, `${ctx}\n${n} and ${s.at.join(',')} hold different entries for ${id.replace(/\n/g, ' ')}`);
        s.at.push(n);
      }
    }
  }
  for (const [id, s] of seen) {
    const holders = rank(placementKey(s.e.kind, s.e.key), ws, 2).sort();
    assert.deepEqual(s.at.sort(), holders, `${ctx}\n${JSON.stringify(s.e)} ${id.replace(/\n/g, ' ')} held by ${s.at.join(',')}, expected ${holders.join(',')}`);
  }
}

test('directory - a partition, a failover on the majority side, then heal: holders converge on the newer epoch, verify names the conflict until the old copy stops', async () => {
  const h = new Harness(5);
  try {
    const minority = ['node-4', 'node-5'];
    const majority = ['node-1', 'node-2', 'node-3'];
    const name = nameNotOwnedBy(h.d('node-4'), 'node-4');
    h.d('node-4').upsert(agent(name, { capabilities: ['c'], topics: ['t'] }));
    h.d('node-1').upsert(agent('steady', { capabilities: ['c'] }));
    await h.advance(600);

    h.net.partition(majority, minority);
    h.setView(majority, majority);
    h.setView(minority, minority);
    await h.advance(200);
    // Each side: the majority fails the agent over (next epoch); the minority keeps updating it.
    const newHost = h.d('node-1').ownerOf(name);
    assert.ok(majority.includes(newHost));
    h.d(newHost).upsert(agent(name, { capabilities: ['c'], topics: ['t'], epoch: 2 }));
    h.d('node-4').upsert(agent(name, { capabilities: ['c', 'd'], topics: ['t'], state: 'suspended' }));
    h.d('node-5').upsert(agent('minority-only', { topics: ['t'] }));
    await h.rounds();
    assert.deepEqual(h.d('node-1').locate(name), newHost);

    h.net.heal();
    h.setView(h.names);
    await h.rounds();
    assertHoldersAgree(h, h.names);
    for (const n of h.names) {
      assert.equal(n === 'node-4' ? newHost : h.d(n).locate(name), newHost, `locate from ${n}`);
      const providers = (await h.d(n).providers('c')).map((p) => `${p.agent}@${p.node}`).sort();
      assert.deepEqual(providers, [`${name}@${newHost}`, 'steady@node-1'].sort(), `providers from ${n}`);
      assert.deepEqual(await h.d(n).subscriberNodes('t'), [newHost, 'node-5'].sort());
    }
    // Both hosts still claim it: verify names the conflict (and the drift it causes).
    const split = await h.verify('node-2');
    assert.equal(split.ok, false);
    assert.deepEqual(split.conflicts, [{ agent: name, nodes: [newHost, 'node-4'].sort() }]);
    // Fencing stops the old copy; its removal leaves one owner everywhere.
    h.d('node-4').remove(name);
    await h.rounds(1);
    assertHoldersAgree(h, h.names);
    const healed = await h.verify('node-3');
    assert.equal(healed.ok, true, JSON.stringify(healed.rows));
    assert.deepEqual(healed.conflicts, []);
    // The capability only the minority copy had is gone.
    assert.deepEqual(await h.d('node-2').providers('d'), []);
  } finally {
    h.close();
  }
});

test('directory - a view change racing an update: the update reaches the new holders, the old ones let go', async () => {
  const h = new Harness(5);
  try {
    const four = h.names.slice(0, 4);
    h.setView(four); // node-5 not yet seen by the first four
    h.setView(h.names, ['node-5']);
    await h.advance(600);
    for (let i = 0; i < 40; i++) h.d(`node-${(i % 4) + 1}`).upsert(agent(`a${i}`, { capabilities: [`c${i % 5}`], topics: [`t${i % 7}`] }));
    // node-5 joins everyone's view while the updates are in flight (before any of them landed).
    h.setView(h.names);
    for (let i = 0; i < 40; i += 3) h.d(`node-${(i % 4) + 1}`).upsert(agent(`a${i}`, { capabilities: [`c${(i + 1) % 5}`], topics: [`t${i % 7}`], state: 'suspended' }));
    await h.rounds();
    assertHoldersAgree(h, h.names);
    assert.ok([...h.d('node-5').held()].length > 0, 'the newcomer holds its share');
    const r = await h.verify('node-5');
    assert.equal(r.ok, true, JSON.stringify(r.rows));
    for (const n of h.names) {
      const ps = (await h.d(n).providers('c1')).map((p) => p.agent).sort();
      const want = Array.from({ length: 40 }, (_, i) => i)
        .filter((i) => (i % 3 === 0 ? (i + 1) % 5 : i % 5) === 1)
        .map((i) => `a${i}`)
        .sort();
      assert.deepEqual(ps, want, `providers of c1 from ${n}`);
    }
  } finally {
    h.close();
  }
});

test('directory - property: random joins, leaves, partitions and updates converge once the network heals', async () => {
  // DIR_SEEDS=150 runs a longer search (about 6 s); 12 seeds keep the suite quick.
  for (let seed = 1; seed <= Number(process.env.DIR_SEEDS ?? 12); seed++) {
    const rnd = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
    const h = new Harness(3);
    let nextNode = 4;
    let alive = h.names;
    /** The model: agent → { host, caps, topics, epoch }. */
    const model = new Map<string, { host: string; caps: string[]; topics: string[]; epoch: number }>();
    const removed = new Set<string>();
    const log: string[] = [];
    try {
      for (let step = 0; step < 40; step++) {
        const r = rnd();
        if (r < 0.1 && alive.length < 7) {
          const n = `node-${nextNode++}`;
          alive = [...alive, n];
          h.start(n, alive);
          // The view change reaches the others one by one.
          for (const m of alive) if (m !== n) h.setView(alive, [m]);
          log.push(`join ${n}`);
        } else if (r < 0.17 && alive.length > 3) {
          const n = pick(alive);
          alive = alive.filter((m) => m !== n);
          h.d(n).close();
          h.net.down(n);
          h.setView(alive, alive);
          for (const [a, m] of model) if (m.host === n) { model.delete(a); removed.add(a); }
          log.push(`leave ${n}`);
        } else if (r < 0.22) {
          const cut = alive.filter(() => rnd() < 0.4);
          const rest = alive.filter((n) => !cut.includes(n));
          if (cut.length > 0 && rest.length > 0) {
            h.net.partition(cut, rest);
            log.push(`partition ${cut.join(',')}`);
          }
        } else if (r < 0.27) {
          h.net.heal();
          log.push('heal');
        } else if (r < 0.75) {
          const a = `a${Math.floor(rnd() * 25)}`;
          const m = model.get(a);
          const caps = ['x', 'y', 'z'].filter(() => rnd() < 0.4);
          const topics = ['p', 'q'].filter(() => rnd() < 0.4);
          if (m === undefined) {
            const host = pick(alive);
            model.set(a, { host, caps, topics, epoch: 1 });
            removed.delete(a);
            h.d(host).upsert(agent(a, { capabilities: caps, topics }));
            log.push(`deploy ${a}@${host}`);
          } else if (rnd() < 0.5) {
            m.caps = caps;
            m.topics = topics;
            h.d(m.host).upsert(agent(a, { capabilities: caps, topics, epoch: m.epoch }));
            log.push(`update ${a}@${m.host}`);
          } else {
            // A move (rebalance): the new host starts it at the next epoch, then the old one lets go.
            const to = pick(alive);
            if (to !== m.host) {
              h.d(to).upsert(agent(a, { capabilities: m.caps, topics: m.topics, epoch: m.epoch + 1 }));
              h.d(m.host).remove(a);
              log.push(`move ${a} ${m.host}->${to}`);
              m.host = to;
              m.epoch++;
            }
          }
        } else {
          const a = pick([...model.keys(), 'none']);
          const m = model.get(a);
          if (m !== undefined) {
            h.d(m.host).remove(a);
            model.delete(a);
            removed.add(a);
            log.push(`remove ${a}@${m.host}`);
          }
        }
        await h.advance(Math.floor(rnd() * 3) * 300, 100);
      }
      h.net.heal();
      h.setView(alive, alive);
      await h.advance(DEAD_MS + 3 * AE_MS);

      const ctx = `seed ${seed}: ${log.join('; ')}`;
      assertHoldersAgree(h, alive, ctx);
      const drift = h.driftOf(alive);
      assert.equal(drift.ok, true, `${ctx}\n${JSON.stringify(drift.rows)}`);
      for (const n of alive) {
        for (const cap of ['x', 'y', 'z']) {
          const want = [...model].filter(([, m]) => m.caps.includes(cap)).map(([a, m]) => `${a}@${m.host}`).sort();
          const got = (await h.d(n).providers(cap)).map((p) => `${p.agent}@${p.node}`).sort();
          assert.deepEqual(got, want, `${ctx}\nproviders of ${cap} from ${n}`);
        }
        for (const [a, m] of model) {
          // At most one hop: the node locate() picks hosts it or forwards straight to the host.
          const t = h.d(n).locate(a);
          if (t !== m.host) assert.deepEqual(h.d(t).whereIs(a), { kind: 'forward', node: m.host }, `${ctx}\n${a} from ${n} via ${t}`);
        }
        for (const a of removed) {
          const owner = h.d(n).ownerOf(a);
          assert.deepEqual(h.d(owner).whereIs(a), { kind: 'unknown' }, `${ctx}\nremoved ${a} at its owner ${owner}`);
        }
      }
    } finally {
      h.close();
    }
  }
});
