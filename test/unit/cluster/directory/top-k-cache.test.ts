import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evenly, rank } from '../../../../src/cluster/placement/rendezvous.js';
import { TopKCache } from '../../../../src/cluster/directory/top-k-cache.js';
import { prng } from '../../../helpers/prng.js';

test('top-k cache - after any sequence of joins and leaves it answers exactly what rank() computes afresh', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const rnd = prng(seed);
    for (const k of [1, 2, 3]) {
      const cache = new TopKCache(k, 1000);
      let alive: string[] = ['n0', 'n1'];
      let next = 2;
      cache.update(alive, []);
      const keys = Array.from({ length: 60 }, (_, i) => `key-${i}`);
      for (let step = 0; step < 30; step++) {
        for (const key of keys.filter(() => rnd() < 0.5)) cache.get(key); // some cached, some not
        const prev = alive;
        const r = rnd();
        if (r < 0.4 || alive.length <= 1) alive = [...alive, `n${next++}`];
        else if (r < 0.7) alive = alive.filter((_, i) => i !== Math.floor(rnd() * alive.length));
        else alive = [...alive.filter((_, i) => i !== Math.floor(rnd() * alive.length)), `n${next++}`, `n${next++}`];
        cache.update(alive, prev);
        for (const key of keys) assert.deepEqual(cache.get(key), rank(key, evenly(alive), k), `seed ${seed} k ${k} step ${step} ${key}`);
      }
    }
  }
});

test('top-k cache - a full cache starts over, and answers stay right', () => {
  const cache = new TopKCache(2, 10);
  const alive = ['a', 'b', 'c', 'd'];
  cache.update(alive, []);
  for (let i = 0; i < 50; i++) assert.deepEqual(cache.get(`k${i}`), rank(`k${i}`, evenly(alive), 2));
  cache.update([...alive, 'e'], alive);
  for (let i = 0; i < 50; i++) assert.deepEqual(cache.get(`k${i}`), rank(`k${i}`, evenly([...alive, 'e']), 2));
});
