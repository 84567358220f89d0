/**
 * A Cluster with its link in a child process, for link tests that need a real process to SIGSTOP or
 * kill -9. Usage: link-node-entry.ts <name> <host> <port> [seedHost:seedPort]. It answers the call
 * `echo` with its body and `count` with how many `sink` posts it received, prints one JSON line
 * {host, port} once started (and joined), and exits when its stdin closes (the parent is gone) or
 * after 2 minutes in any case.
 */
import { Cluster } from '../../src/cluster/cluster.js';

const [name, host, port, seed] = process.argv.slice(2) as [string, string, string, string | undefined];
setTimeout(() => process.exit(3), 120_000).unref();
const c = await Cluster.start({
  name,
  bind: { host, port: Number(port) },
  profile: 'local',
  timings: { probeIntervalMs: 200, probeTimeoutMs: 100, gossipIntervalMs: 50, suspicionMult: 3, pushPullIntervalMs: 2000, reconnectIntervalMs: 200 },
  tags: { role: 'caxton' },
});
let received = 0;
c.peers.onPost('sink', () => received++);
c.peers.onCall('echo', (_from, body) => body);
c.peers.onCall('count', () => received);
if (seed !== undefined) {
  const [h, p] = seed.split(':') as [string, string];
  await c.join([{ host: h, port: Number(p) }]);
}
process.stdout.write(`${JSON.stringify(c.transport.local)}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
