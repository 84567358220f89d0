/**
 * How long a key revocation takes to reach every node, over the in-process Peers network
 * (test/helpers/memory-peers.ts), with the real store (SQLite :memory:) and KeySync at its default
 * period. Two cases:
 *
 * - push: the revoking node posts to every member at once (the normal case);
 * - repair: the posts are lost (the revoking node is cut from all others while it revokes, then the
 *   cut heals), so only anti-entropy carries it: time and rounds until the last node has it.
 *
 * The link's own latency is not in these figures (the integration benchmark on real processes adds it).
 * Run: node --import tsx bench/key-revocation.ts [nodes=5,10,25] [trials=20]
 */
import { KeySync, DEFAULT_KEY_SYNC_INTERVAL_MS } from '../src/cluster/key-sync.js';
import { ApiKeyStore, openDatabase } from '../src/storage/index.js';
import { MemoryNetwork } from '../test/helpers/memory-peers.js';
import { prng } from '../test/helpers/prng.js';

const sizes = (process.argv[2] ?? '5,10,25').split(',').map(Number);
const trials = Number(process.argv[3] ?? 20);
const intervalMs = DEFAULT_KEY_SYNC_INTERVAL_MS;

interface Result {
  nodes: number;
  case: string;
  p50ms: number;
  maxms: number;
  rounds50: number;
  roundsMax: number;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] as number;
}

async function trial(n: number, seed: number, lose: boolean): Promise<number> {
  const net = new MemoryNetwork();
  const names = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  const rnd = prng(seed);
  const nodes = names.map((name, i) => {
    const db = openDatabase(':memory:');
    const store = new ApiKeyStore(db, name);
    const sync = new KeySync({ peers: net.add(name), store, members: () => names.filter((m) => m !== name), logger: { warn: () => {}, debug: () => {} }, intervalMs, random: prng(seed * 100 + i) });
    return { db, store, sync };
  });
  const first = nodes[0] as (typeof nodes)[0];
  first.store.add({ id: 'k', name: 'k', role: 'admin' }, 'secret');
  while (!nodes.every((x) => x.store.find('secret') !== undefined)) await new Promise((r) => setTimeout(r, 1));
  // Rounds start at random phases, as on real nodes started at different times.
  await Promise.all(nodes.map((x) => new Promise<void>((r) => setTimeout(() => (x.sync.start(), r()), Math.floor(rnd() * intervalMs)))));
  const revoker = nodes[Math.floor(rnd() * n)] as (typeof nodes)[0];
  const revokerName = names[nodes.indexOf(revoker)] as string;
  if (lose) for (const m of names) if (m !== revokerName) net.cut(revokerName, m);
  const t0 = performance.now();
  revoker.store.remove('k');
  if (lose) net.heal();
  while (!nodes.every((x) => x.store.find('secret') === undefined)) await new Promise((r) => setTimeout(r, 1));
  const ms = performance.now() - t0;
  for (const x of nodes) {
    x.sync.stop();
    x.db.close();
  }
  return ms;
}

const results: Result[] = [];
for (const n of sizes) {
  for (const lose of [false, true]) {
    const times: number[] = [];
    for (let t = 0; t < trials; t++) times.push(await trial(n, t + 1, lose));
    results.push({
      nodes: n,
      case: lose ? 'repair (anti-entropy only)' : 'push',
      p50ms: Math.round(percentile(times, 0.5) * 10) / 10,
      maxms: Math.round(Math.max(...times) * 10) / 10,
      rounds50: Math.round((percentile(times, 0.5) / intervalMs) * 10) / 10,
      roundsMax: Math.round((Math.max(...times) / intervalMs) * 10) / 10,
    });
  }
}
process.stdout.write(`key revocation reaching every node; anti-entropy period ${intervalMs} ms; ${trials} trials per row\n`);
console.table(results);
process.stdout.write(JSON.stringify(results) + '\n');
