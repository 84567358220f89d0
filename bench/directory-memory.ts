/**
 * Memory per directory entry, measured: `node --expose-gc --import tsx bench/directory-memory.ts`.
 * Not a bench group (it measures bytes, not time): the figures go to docs/cluster-routing.md#directory
 * and the scale simulation uses them. Entries arrive as the wire gives them (parsed JSON), so each
 * holder has its own copies, as it would in a real cluster.
 */
import { HolderStore } from '../src/cluster/directory/holder-store.js';
import { parseEntry, type DirectoryEntry } from '../src/cluster/directory/entry.js';
import { ClusterDirectory, StaticView } from '../src/cluster/directory/index.js';
import type { Peers } from '../src/cluster/peers.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

function heap(): number {
  for (let i = 0; i < 4; i++) gc!();
  return process.memoryUsage().heapUsed;
}

const N = 100_000;

function wire(kind: 'name' | 'cap' | 'topic', i: number): DirectoryEntry {
  const agent = `agent-${String(i).padStart(6, '0')}`;
  const base = { agent, id: `0190c3b2-${String(i).padStart(4, '0')}-7000-8000-00000000abcd`, node: `node-${i % 1000}`, state: 'running', epoch: 1, inc: 1733540000000, ctr: i + 1 };
  const e = kind === 'name' ? { kind, key: agent, ...base, capabilities: ['translate', 'summarize'], topics: ['news'] } : { kind, key: kind === 'cap' ? `cap-${i % 50}` : `topic-${i % 50}`, ...base };
  return parseEntry(JSON.parse(JSON.stringify(e)), 'entry');
}

function holderBytes(kind: 'name' | 'cap' | 'topic'): number {
  const store = new HolderStore();
  const before = heap();
  for (let i = 0; i < N; i++) store.merge(wire(kind, i), 1, 60_000, 0);
  const after = heap();
  if (store.size !== N) throw new Error('lost entries');
  return (after - before) / N;
}

/** An authority alone with N hosted agents (one capability, one topic each): what it keeps per agent. */
function authorityBytes(): number {
  const peers: Peers = { self: 'node-0', post: () => true, call: () => Promise.reject(new Error('alone')), onPost: () => undefined, onCall: () => undefined };
  const clock = { now: () => 0, setTimer: () => ({ cancel: () => true }) };
  const before = heap();
  const d = new ClusterDirectory({ peers, view: new StaticView(['node-0']), clock });
  for (let i = 0; i < N; i++) d.upsert({ name: `agent-${i}`, id: `id-${i}`, state: 'running', capabilities: [`cap-${i % 50}`], topics: [`topic-${i % 50}`], epoch: 1 });
  const after = heap();
  if (d.heldCount !== 2 * N) throw new Error(`held ${d.heldCount}`);
  d.close();
  return (after - before) / N;
}

const rows = {
  'holder, name entry (2 capabilities, 1 topic), bytes': holderBytes('name'),
  'holder, cap entry, bytes': holderBytes('cap'),
  'holder, topic entry, bytes': holderBytes('topic'),
  'alone: one hosted agent (1 cap + 1 topic entry, authored and held by itself), bytes': authorityBytes(),
};
for (const [k, v] of Object.entries(rows)) process.stdout.write(`${k}: ${Math.round(v)}\n`);
