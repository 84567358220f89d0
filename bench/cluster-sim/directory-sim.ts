/**
 * The real ClusterDirectory on N nodes in one process, over SimPeers on SimClock, with one shared
 * membership view (directory traffic never rides on gossip, so the directory needs only the alive
 * list, not the SWIM machinery the membership simulation runs). Measures what each node holds, its
 * memory, the anti-entropy traffic, and how long a deploy takes to be routable from every node.
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ClusterDirectory, type HostedAgent } from '../../src/cluster/directory/directory.js';
import { StaticView } from '../../src/cluster/directory/view.js';
import { ownerOf } from '../../src/cluster/placement/rendezvous.js';
import { prng } from '../../test/helpers/prng.js';
import { SimClock } from './sim-clock.js';
import { SimPeerNetwork } from './sim-peers.js';

export interface DirectorySimOptions {
  readonly nodes: number;
  /** Agents in the whole cluster. */
  readonly agents: number;
  /** Agents placed elsewhere than their HRW owner (pinned, moved): the only ones with a name entry. */
  readonly pinnedFraction: number;
  /** Distinct capability names and topics; each agent provides one capability and subscribes to one topic. */
  readonly capabilities: number;
  readonly topics: number;
  readonly latencyMs: number;
  readonly seed: number;
  readonly progress?: (line: string) => void;
}

export interface DirectorySimResult {
  readonly nodes: number;
  readonly agents: number;
  /** Entries held per node (as a holder), mean and max: the max is the busiest capability's holders. */
  readonly heldMean: number;
  readonly heldMax: number;
  /** Live heap of the whole directory per node: fixed (the view's copy, O(N)) and in all. */
  readonly heapBytesPerNodeEmpty: number;
  readonly heapBytesPerNode: number;
  /** What the entries add (authored + held + their indexes), per held entry. */
  readonly heapBytesPerHeldEntry: number;
  /** Anti-entropy traffic (JSON bytes of posts) per node per second, over one period. */
  readonly antiEntropyBytesPerNodeS: number;
  /** From upsert on its node until every node routes to it: an agent on its HRW owner, and a pinned one. */
  readonly routableOwnedMs: number;
  readonly routablePinnedMs: number;
  /** Cost of one uncached ownerOf over the whole view, µs (what a view change costs per name). */
  readonly ownerOfMicros: number;
  readonly wallS: number;
}

function collector(): () => void {
  v8.setFlagsFromString('--expose_gc');
  const gc = runInNewContext('gc') as () => void;
  return () => {
    gc();
    gc();
  };
}

export async function simulateDirectory(o: DirectorySimOptions): Promise<DirectorySimResult> {
  const wallStart = performance.now();
  const gc = collector();
  const pick = prng(o.seed);
  const names = Array.from({ length: o.nodes }, (_, i) => `caxton-${String(i).padStart(5, '0')}`);
  const members = names.map((name) => ({ name, weight: 1 }));
  const say = (what: string): void =>
    o.progress?.(`directory, ${o.nodes} nodes: ${what} at virtual ${(clock.now() / 1_000).toFixed(1)} s, real ${((performance.now() - wallStart) / 1_000).toFixed(1)} s`);

  // The agents first (their owners cost O(nodes) each), so the heap measured below is the directory's.
  const t0 = performance.now();
  const hostedBy: HostedAgent[][] = names.map(() => []);
  for (let i = 0; i < o.agents; i++) {
    {
      const j = i;
      const name = `agent-${i}`;
      const pinned = pick() < o.pinnedFraction;
      const owner = ownerOf(name, members) as string;
      // A pinned agent lives on some other node than its owner; the others live on their owner.
      let host = names.indexOf(owner);
      if (pinned) host = (host + 1 + Math.floor(pick() * (o.nodes - 1))) % o.nodes;
      (hostedBy[host] as HostedAgent[]).push({
        name,
        id: `${i.toString(16)}-${j.toString(16)}-7f3a9c1e-4b2d-4e8f-9a6b-${String(j).padStart(12, '0')}`,
        state: 'running',
        capabilities: [`capability-${Math.floor(pick() * o.capabilities)}`],
        topics: [`topic-${Math.floor(pick() * o.topics)}`],
        epoch: 1,
      });
    }
  }
  const ownerOfMicros = ((performance.now() - t0) * 1_000) / o.agents;

  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const clock = new SimClock();
  const net = new SimPeerNetwork(clock, o.latencyMs);
  // Built on an empty view, then shown the cluster at once: the first round then goes to holders only
  // (a node that restarts alone posts an empty round to every member, O(N) once; N of them at once
  // would be O(N²) posts this process cannot afford and a real cluster never does).
  const view = new StaticView([]);
  const dirs = names.map((name) => new ClusterDirectory({ peers: net.add(name), view, clock, incarnation: 1 }));
  view.set(names);
  await clock.run(1_000);
  gc();
  const heapEmpty = process.memoryUsage().heapUsed - heapBefore;
  for (const [i, dir] of dirs.entries()) for (const a of hostedBy[i] as HostedAgent[]) dir.upsert(a);
  say('agents announced');
  await clock.run(2_000);
  say('settled');

  let held = 0;
  let heldMax = 0;
  for (const d of dirs) {
    held += d.heldCount;
    heldMax = Math.max(heldMax, d.heldCount);
  }
  gc();
  const heap = process.memoryUsage().heapUsed - heapBefore;

  // One anti-entropy period (30 s, jittered ±10 %): every node re-announces everything it authors.
  net.bytes = 0;
  const periodS = 33;
  await clock.run(periodS * 1_000);
  const aeBytes = net.bytes;
  say('anti-entropy measured');

  const routable = async (dir: ClusterDirectory, agent: HostedAgent): Promise<number> => {
    const start = clock.now();
    dir.upsert(agent);
    const host = dir.self;
    // Every node routes a name it neither hosts nor holds through locate = ownerOf(name, view), the
    // same pure function everywhere: the host, the holders and a sample of 200 others stand for all
    // (checking all 5,000 would cost 5,000 uncached ownerOf calls per node, 25 M hashes).
    const holders = new Set(dirs[0]?.holdersOf(agent.name));
    const sample = dirs.filter((d, i) => d.self === host || holders.has(d.self) || i % Math.max(1, Math.floor(o.nodes / 200)) === 0);
    const everyoneRoutes = (): boolean =>
      sample.every((d) => {
        const first = d.locate(agent.name);
        if (first === host) return true;
        const w = dirs[names.indexOf(first)]?.whereIs(agent.name);
        return w !== undefined && (w.kind === 'local' || (w.kind === 'forward' && w.node === host));
      });
    if (everyoneRoutes()) return 0;
    const ok = await clock.run(10_000, everyoneRoutes);
    return ok ? clock.now() - start : NaN;
  };
  const probe = (name: string): HostedAgent => ({ name, id: 'probe', state: 'running', capabilities: ['capability-0'], topics: [], epoch: 1 });
  const ownedName = 'deploy-owned';
  const owned = await routable(dirs[names.indexOf(ownerOf(ownedName, members) as string)] as ClusterDirectory, probe(ownedName));
  const pinnedName = 'deploy-pinned';
  const pinnedOwner = names.indexOf(ownerOf(pinnedName, members) as string);
  const pinned = await routable(dirs[(pinnedOwner + 1) % o.nodes] as ClusterDirectory, probe(pinnedName));
  for (const d of dirs) d.close();

  return {
    nodes: o.nodes,
    agents: o.agents,
    heldMean: held / o.nodes,
    heldMax,
    heapBytesPerNodeEmpty: heapEmpty / o.nodes,
    heapBytesPerNode: heap / o.nodes,
    heapBytesPerHeldEntry: held > 0 ? (heap - heapEmpty) / held : NaN,
    antiEntropyBytesPerNodeS: aeBytes / o.nodes / periodS,
    routableOwnedMs: owned,
    routablePinnedMs: pinned,
    ownerOfMicros,
    wallS: (performance.now() - wallStart) / 1_000,
  };
}
