/**
 * A cluster of real `caxton server start` processes, each in its own network namespace, so that a test
 * can partition them for real (issue 12). The test makes the network itself:
 *
 *   root namespace:  bridge <p>br with 10.x.y.254/24; the test process reaches every node through it
 *   node i:          namespace <p>-<i+1>, eth0 = 10.x.y.(i+1)/24 (a veth pair whose other end,
 *                    <p>h<i+1>, is on the bridge), lo up; gossip on :7946, API and metrics on :0
 *
 * `<p>` is `cx` + the subnet's x and y in hex (10.250.1 -> cxfa01), so every name fits Linux's 15
 * characters and each test file (one subnet each) has its own names. A lock file per subnet keeps two
 * runs of the same file (two worktrees on one machine) from using one subnet at once; holding it, a
 * run first removes what a crashed earlier run of the same subnet left (its processes, namespaces,
 * veths and bridge). stop() removes everything, and a process 'exit' handler does it as a last resort.
 *
 * Cuts:
 *   - cut(groups): in each node's namespace, every node of the other groups gets a permanent neighbour
 *     entry with a MAC nobody has, so frames to it leave and are dropped on the bridge without an error
 *     to the sender (a UDP send succeeds, a TCP connect hangs), as across a real partition. (A blackhole
 *     route would fail every send with EINVAL at once, which no real network does.) The root namespace
 *     is untouched: the test still reaches every node's API. heal() removes the entries.
 *   - linkDown(i)/linkUp(i): `ip link set down/up` of node i's veth end on the bridge; node i keeps its
 *     address (NO-CARRIER), but nothing reaches it, the test's API calls included: use cli(i, ...),
 *     which runs inside node i's namespace, to ask node i meanwhile.
 *
 * netnsSupport() says whether this machine can do it (root and iproute2); missing, the tests skip with
 * one line, or fail under CI / CAXTON_REQUIRE_TOOLS=1 (scripts/outside-tools.mjs).
 */
import { execFile, execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findTool, missingToolLine, toolsRequired } from '../../scripts/outside-tools.mjs';
import { api, runCli, startServer, type CliResult, type RunningServer } from './server.js';
import { until } from './until.js';

const run = promisify(execFile);
const GOSSIP_PORT = 7946;
/** A locally administered unicast MAC no device has: frames sent to it go nowhere. */
const NOWHERE_MAC = '02:00:5e:00:de:ad';

let support: { skip: string | false } | undefined;

/**
 * Whether namespaces, veth pairs and a bridge can be made here (probed once, by making and removing
 * one of each). For node:test's `skip`: false, or the one line saying what is needed. Under CI or with
 * CAXTON_REQUIRE_TOOLS=1 a missing piece throws instead, so the run fails rather than skips.
 */
export function netnsSupport(): { skip: string | false } {
  if (support !== undefined) return support;
  let why: string | undefined;
  if (findTool('ip') === undefined) why = missingToolLine('ip');
  else if (process.getuid?.() !== 0) why = 'needs root and iproute2 (ip netns, veth, bridge) for the network-partition tests: not running as root';
  else {
    const p = `cxprobe${process.pid}`.slice(0, 12);
    try {
      ipSync('netns', 'add', p);
      ipSync('link', 'add', `${p}a`, 'type', 'veth', 'peer', 'name', `${p}b`);
      ipSync('link', 'set', `${p}b`, 'netns', p);
      ipSync('link', 'add', `${p}r`, 'type', 'bridge');
    } catch (e) {
      why = `needs root and iproute2 (ip netns, veth, bridge) for the network-partition tests: ${firstLine(e)}`;
    } finally {
      for (const args of [['link', 'del', `${p}a`], ['link', 'del', `${p}r`], ['netns', 'del', p]]) quietly(() => ipSync(...args));
    }
  }
  if (why !== undefined && toolsRequired()) throw new Error(`${why} (required because ${process.env['CAXTON_REQUIRE_TOOLS'] === '1' ? 'CAXTON_REQUIRE_TOOLS=1' : 'CI=true'}; unset it to skip instead)`);
  support = { skip: why ?? false };
  return support;
}

export type Subnet = `10.${number}.${number}`;

export interface NetnsClusterOptions {
  readonly size: number;
  /** 10.x.y: the bridge is 10.x.y.254/24, node i is 10.x.y.(i+1). One per test file. */
  readonly subnet: Subnet;
  readonly profile?: 'fast' | 'local' | 'lan';
  /** Extra `server start` arguments for every node. */
  readonly args?: readonly string[];
}

export interface NetnsCluster {
  readonly nodes: RunningServer[];
  /** node-1's gossip address, for later joins. */
  readonly seed: string;
  readonly port: number;
  /** The node's name: node-1, node-2, ... */
  name(i: number): string;
  /** Node i's address, 10.x.y.(i+1) (0-based i). */
  host(i: number): string;
  /** Node i's network namespace. */
  netns(i: number): string;
  /** Starts node i in its namespace (a restart on its data dir, with dataDir) and waits until everyone sees it. */
  /** `wait: false`: do not wait for everyone to see it (it starts on the other side of a cut). */
  start(i: number, opts?: { dataDir?: string; args?: readonly string[]; wait?: boolean }): Promise<RunningServer>;
  /** Partitions the nodes into `groups` (0-based indices; every node in exactly one group): each side drops what it sends to the others. */
  cut(groups: readonly (readonly number[])[]): Promise<void>;
  /** Undoes cut(). */
  heal(): Promise<void>;
  /** Takes node i's link down (its veth end on the bridge): nothing reaches it, the test included. */
  linkDown(i: number): Promise<void>;
  linkUp(i: number): Promise<void>;
  /** Runs `caxton <args> --api-url <node i> --api-key <its admin key>` inside node i's namespace, as an operator on that machine would. */
  cli(i: number, ...args: string[]): Promise<CliResult>;
  /** SIGTERM to every node still running, removes their data dirs, then the namespaces, veths and bridge. */
  stop(): Promise<void>;
}

export async function startNetnsCluster(o: NetnsClusterOptions): Promise<NetnsCluster> {
  const m = /^10\.(\d{1,3})\.(\d{1,3})$/.exec(o.subnet);
  const [x, y] = [Number(m?.[1]), Number(m?.[2])];
  if (m === null || x > 255 || y > 255) throw new Error(`subnet ${o.subnet} is not 10.x.y with x and y from 0 to 255`);
  if (o.size < 1 || o.size > 200) throw new Error(`size ${o.size} is not from 1 to 200`);
  const skip = netnsSupport().skip;
  if (skip !== false) throw new Error(skip);

  const p = `cx${x.toString(16).padStart(2, '0')}${y.toString(16).padStart(2, '0')}`;
  const bridge = `${p}br`;
  const host = (i: number) => `${o.subnet}.${i + 1}`;
  const netns = (i: number) => `${p}-${i + 1}`;
  const veth = (i: number) => `${p}h${i + 1}`;
  const lock = acquireLock(join(tmpdir(), `caxton-netns-${x}-${y}.lock`));
  await lock.ready;
  const nodes: RunningServer[] = [];
  // Sync, for the 'exit' handler (removeNetwork also kills what still runs in the namespaces).
  const teardown = () => {
    removeNetwork(p);
    lock.release();
  };
  process.on('exit', teardown);

  const seed = `${host(0)}:${GOSSIP_PORT}`;
  const common = ['--set', `coordination.cluster.profile=${o.profile ?? 'fast'}`, '--bootstrap-expect', String(o.size), ...(o.args ?? [])];
  const argsFor = (i: number) => [
    ...(i === 0 ? ['--bootstrap'] : ['--join', seed]),
    ...['--bind-addr', `${host(i)}:${GOSSIP_PORT}`, '--api-addr', `${host(i)}:0`, '--metrics-addr', `${host(i)}:0`, '--node-id', `node-${i + 1}`],
    ...common,
  ];
  const launch = (i: number, so: { dataDir?: string; args?: readonly string[] } = {}) =>
    startServer({ prefix: ['ip', 'netns', 'exec', netns(i)], args: [...argsFor(i), ...(so.args ?? [])], ...(so.dataDir === undefined ? {} : { dataDir: so.dataDir }) });
  const alive = async (expected: number) =>
    until(`every node sees ${expected} alive`, async () => {
      for (const s of nodes) {
        if (s === undefined) continue;
        const r = await api(s, 'GET', '/cluster/members').catch(() => undefined);
        if (r?.body?.members?.filter((mb: { status: string }) => mb.status === 'alive').length !== expected) return false;
      }
      return true;
    }, 30_000);
  let cutNeighbours: { i: number; to: string }[] = [];

  const c: NetnsCluster = {
    nodes,
    seed,
    port: GOSSIP_PORT,
    name: (i) => `node-${i + 1}`,
    host,
    netns,
    async start(i, so = {}) {
      const s = await launch(i, so);
      nodes[i] = s;
      if (so.wait !== false) await alive(nodes.filter((n) => n !== undefined).length);
      return s;
    },
    async cut(groups) {
      const all = groups.flat();
      if (all.length !== o.size || new Set(all).size !== o.size || all.some((i) => !Number.isInteger(i) || i < 0 || i >= o.size)) {
        throw new Error(`cut(${JSON.stringify(groups)}): every node 0..${o.size - 1} must be in exactly one group`);
      }
      await c.heal();
      for (const g of groups) {
        for (const i of g) for (const j of all.filter((k) => !g.includes(k))) cutNeighbours.push({ i, to: host(j) });
      }
      await Promise.all(cutNeighbours.map(({ i, to }) => ip('-n', netns(i), 'neigh', 'replace', to, 'lladdr', NOWHERE_MAC, 'nud', 'permanent', 'dev', 'eth0')));
    },
    async heal() {
      const undo = cutNeighbours;
      cutNeighbours = [];
      await Promise.all(undo.map(({ i, to }) => ip('-n', netns(i), 'neigh', 'del', to, 'dev', 'eth0')));
    },
    linkDown: async (i) => void (await ip('link', 'set', veth(i), 'down')),
    linkUp: async (i) => void (await ip('link', 'set', veth(i), 'up')),
    cli(i, ...args) {
      const s = nodes[i];
      if (s === undefined) throw new Error(`node-${i + 1} is not running`);
      return runCli([...args, '--api-url', s.apiUrl, '--api-key', s.adminKey], { prefix: ['ip', 'netns', 'exec', netns(i)] });
    },
    async stop() {
      await Promise.all(nodes.map(async (s) => s?.stop().catch(() => undefined)));
      for (const s of nodes) s?.cleanup();
      teardown();
      process.off('exit', teardown);
    },
  };

  try {
    removeNetwork(p); // what a crashed run of this subnet left
    refuseTakenSubnet(o.subnet, p);
    await ip('link', 'add', bridge, 'type', 'bridge');
    // Bridged frames must not go through the host's iptables (a Docker host's FORWARD policy is DROP).
    await ip('link', 'set', bridge, 'type', 'bridge', 'nf_call_iptables', '0').catch(() => undefined);
    await ip('addr', 'add', `${o.subnet}.254/24`, 'dev', bridge);
    await ip('link', 'set', bridge, 'up');
    for (let i = 0; i < o.size; i++) {
      const ns = netns(i);
      await ip('netns', 'add', ns);
      await ip('link', 'add', veth(i), 'type', 'veth', 'peer', 'name', `${p}n${i + 1}`);
      await ip('link', 'set', `${p}n${i + 1}`, 'netns', ns);
      await ip('-n', ns, 'link', 'set', `${p}n${i + 1}`, 'name', 'eth0');
      await ip('-n', ns, 'addr', 'add', `${host(i)}/24`, 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      await ip('link', 'set', veth(i), 'master', bridge);
      await ip('link', 'set', veth(i), 'up');
    }
    nodes.push(await launch(0));
    // The joiners start in parallel: each retries its join until node-1 answers.
    nodes.push(...(await Promise.all(Array.from({ length: o.size - 1 }, (_, k) => launch(k + 1)))));
    await alive(o.size);
  } catch (e) {
    await c.stop();
    throw e;
  }
  return c;
}

async function ip(...args: string[]): Promise<void> {
  try {
    await run('ip', args, { timeout: 10_000 });
  } catch (e) {
    throw new Error(`ip ${args.join(' ')}: ${firstLine(e)}`);
  }
}

function ipSync(...args: string[]): string {
  try {
    return execFileSync('ip', args, { timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    throw new Error(`ip ${args.join(' ')}: ${firstLine(e)}`);
  }
}

/**
 * Every process, veth, bridge and namespace named with prefix `p`, gone (sync: also runs at exit). The
 * processes first: a namespace with a process in it outlives `ip netns del`.
 */
function removeNetwork(p: string): void {
  const namespaces = ipSync('netns', 'list').split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(`${p}-`));
  for (const ns of namespaces) {
    for (const pid of quietly(() => ipSync('netns', 'pids', ns))?.split('\n') ?? []) if (/^\d+$/.test(pid)) quietly(() => process.kill(Number(pid), 'SIGKILL'));
  }
  // Deleting the root end of a veth deletes both ends at once; a namespace's own devices would only go
  // when the kernel gets round to freeing the namespace, which is after `ip netns del` returns.
  const links = ipSync('-o', 'link', 'show').split('\n').map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1] ?? '').filter((n) => n.startsWith(p));
  for (const l of links.filter((n) => n !== `${p}br`)) quietly(() => ipSync('link', 'del', l));
  if (links.includes(`${p}br`)) quietly(() => ipSync('link', 'del', `${p}br`));
  for (const ns of namespaces) quietly(() => ipSync('netns', 'del', ns));
}

/** A subnet some other device of the root namespace already has would route the test's calls astray. */
function refuseTakenSubnet(subnet: string, p: string): void {
  for (const line of ipSync('-4', '-o', 'addr', 'show').split('\n')) {
    const dev = /^\d+: (\S+)/.exec(line)?.[1];
    if (dev !== undefined && !dev.startsWith(p) && line.includes(` ${subnet}.`)) throw new Error(`subnet ${subnet} is already used on this machine (${dev}): pick another for this test file`);
  }
}

/**
 * A lock file holding the owner's pid: taken at once when free or when its owner is dead (a crashed
 * run), else waited for (another worktree's run of the same test file) for at most two minutes.
 */
function acquireLock(path: string): { ready: Promise<void>; release(): void } {
  let held = false;
  const take = (): boolean => {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return (held = true);
    } catch {
      const owner = Number(quietly(() => readFileSync(path, 'utf8')));
      const ownerAlive = owner > 0 && quietly(() => (process.kill(owner, 0), true)) === true;
      if (!ownerAlive) quietly(() => unlinkSync(path));
      return false;
    }
  };
  return {
    ready: until(`the lock ${path} (another run is using this subnet)`, take, 120_000, 250).then(() => undefined),
    release() {
      if (held) quietly(() => unlinkSync(path));
      held = false;
    },
  };
}

function quietly<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

function firstLine(e: unknown): string {
  const err = e as { stderr?: string; message?: string };
  return (err.stderr?.trim() || err.message || String(e)).split('\n')[0] ?? '';
}
