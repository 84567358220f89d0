/**
 * A cluster of real `caxton server start` processes on loopback: node-1 bootstraps on 127.0.0.<base+1>,
 * the others join it from 127.0.0.<base+2>, ... (one address per node, the same gossip port), on the
 * `fast` timing profile unless told otherwise. Resolves once every node sees every other alive.
 * Everything is stopped by the returned `stop()` (register it with t.after before asserting).
 */
import { freePort } from '../unit/cluster/serf/serf-harness.js';
import { api, startServer, type RunningServer } from './server.js';
import { until } from './until.js';

export interface ServerCluster {
  readonly nodes: RunningServer[];
  /** node-1's gossip address, for later joins. */
  readonly seed: string;
  readonly port: number;
  /** The node's name: node-1, node-2, ... */
  name(i: number): string;
  /** The address node i listens on (0-based). */
  host(i: number): string;
  /** Starts one more node (or restarts node i on its data dir) and waits until everyone sees it. */
  start(i: number, opts?: { dataDir?: string; args?: readonly string[] }): Promise<RunningServer>;
  /** SIGTERM to every node still running, then removes their data dirs. */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  readonly size: number;
  /** 127.0.0.<base + i + 1>; pick a base no other test file uses. */
  readonly base: number;
  readonly profile?: 'fast' | 'local' | 'lan';
  /** Extra `server start` arguments for every node. */
  readonly args?: readonly string[];
  /** Extra `server start` arguments for node i (0-based), e.g. its own certificate files. */
  readonly nodeArgs?: (i: number) => readonly string[];
}

export async function startServerCluster(o: ClusterOptions): Promise<ServerCluster> {
  const host = (i: number) => `127.0.0.${o.base + i + 1}`;
  const port = await freePort(host(0));
  const seed = `${host(0)}:${port}`;
  const nodes: RunningServer[] = [];
  const common = ['--set', `coordination.cluster.profile=${o.profile ?? 'fast'}`, '--bootstrap-expect', String(o.size), ...(o.args ?? [])];
  const argsFor = (i: number) => [...(i === 0 ? ['--bootstrap'] : ['--join', seed]), '--bind-addr', `${host(i)}:${port}`, '--node-id', `node-${i + 1}`, ...common, ...(o.nodeArgs?.(i) ?? [])];
  const alive = async (expected: number) =>
    until(`every node sees ${expected} alive`, async () => {
      for (const s of nodes) {
        if (s === undefined) continue;
        const r = await api(s, 'GET', '/cluster/members').catch(() => undefined);
        if (r?.body?.members?.filter((m: { status: string }) => m.status === 'alive').length !== expected) return false;
      }
      return true;
    });
  const c: ServerCluster = {
    nodes,
    seed,
    port,
    name: (i) => `node-${i + 1}`,
    host,
    async start(i, so = {}) {
      const s = await startServer({ args: [...argsFor(i), ...(so.args ?? [])], ...(so.dataDir === undefined ? {} : { dataDir: so.dataDir }) });
      nodes[i] = s;
      await alive(nodes.filter((n) => n !== undefined).length);
      return s;
    },
    async stop() {
      await Promise.all(nodes.map(async (s) => s?.stop().catch(() => undefined)));
      for (const s of nodes) s?.cleanup();
    },
  };
  try {
    nodes.push(await startServer({ args: argsFor(0) }));
    // The joiners start in parallel: each retries its join until node-1 answers.
    nodes.push(...(await Promise.all(Array.from({ length: o.size - 1 }, (_, k) => startServer({ args: argsFor(k + 1) })))));
    await alive(o.size);
  } catch (e) {
    await c.stop();
    throw e;
  }
  return c;
}
