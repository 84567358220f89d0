/**
 * Which test file binds which loopback addresses and which network-namespace subnets: the one place
 * to pick them from. `npm test` runs two test files at a time (--test-concurrency=2 in package.json), so two files
 * that bind the same address can meet: a port that one file chose as free (freePort, then bound on
 * several addresses by a cluster) is taken by the other, or a node gossips with a stranger's node.
 *
 * The rule for a new test:
 *   - 127.0.0.1 with port 0 (an ephemeral port the kernel picks) is shared by everyone: use it when the
 *     test does not need addresses of its own.
 *   - Any other loopback address (a cluster's nodes on 127.0.0.<base+1>.., a serf peer, a second
 *     transport) belongs to exactly one file: take a free block below and add your file here.
 *   - A network-namespace cluster (test/helpers/netns-cluster.ts) takes a subnet of its own below.
 * test/unit/test-addresses.test.ts reads every file under test/ and fails when a file uses an address,
 * a cluster base or a subnet outside its own entry here, or when two entries overlap.
 *
 * Free when this list was last changed: 127.0.0.19, 23, 35-39, 68-76, 80-84, 97-100, 109, 128-129,
 * 135-140, 145-150, 153-160, 163-165, 168-169, 176, 179-180, 183-191, 198-200, 203-211, 215-217, 222,
 * 225-232, 236, 239-240, 244, 252-254; 127.0.1.0 and up, except 127.0.7.x; netns subnets 10.250.2-3,
 * 10.250.9-10 and 10.250.12 and up.
 */

/** Loopback ranges, "127.a.b.c" or "127.a.b.c-d", per test file (path from the repository root). */
export const LOOPBACK_BLOCKS: Readonly<Record<string, readonly string[]>> = {
  'test/unit/cluster/transport/net-transport.test.ts': ['127.0.0.2-9'],
  'test/unit/cluster/serf/serf-interop.test.ts': ['127.0.0.10'],
  'test/unit/cluster/wire/serf-interop.test.ts': ['127.0.0.11'],
  'test/integration/cluster/serf-cluster.test.ts': ['127.0.0.12-18'],
  'test/integration/cluster/server-cluster.test.ts': ['127.0.0.20-22', '127.0.0.30-32'],
  'test/integration/cluster/process-faults.test.ts': ['127.0.0.24-29'],
  'test/integration/cluster/addresses.test.ts': ['127.0.0.33-34'],
  'test/integration/cluster/serf-operations.test.ts': ['127.0.0.40-60'],
  'test/integration/cluster/one-system.test.ts': ['127.0.0.61-67'],
  'test/integration/cluster/failover.test.ts': ['127.0.0.77-79'],
  'test/integration/cluster/five-nodes.test.ts': ['127.0.0.85-89'],
  'test/integration/cluster/server-operations.test.ts': ['127.0.0.90-96'],
  'test/integration/cluster/verify.test.ts': ['127.0.0.101-103'],
  'test/integration/cluster/direct-path.test.ts': ['127.0.0.104-108', '127.0.0.135-136'],
  'test/integration/cluster/process-cluster.test.ts': ['127.0.0.110-124', '127.0.0.130-134'],
  'test/integration/cluster/agent-logs-cli.test.ts': ['127.0.0.125-127'],
  'test/integration/cluster/view-change.test.ts': ['127.0.0.141-144'],
  'test/integration/cluster/shed-load.test.ts': ['127.0.0.151-152'],
  'test/integration/cluster/mtls.test.ts': ['127.0.0.161-162'],
  'test/integration/cluster/link-tls.test.ts': ['127.0.0.166-167', '127.0.0.172-175', '127.0.0.196-197'],
  'test/integration/cluster/mtls-start.test.ts': ['127.0.0.170-171'],
  'test/integration/cluster/cert-rotation.test.ts': ['127.0.0.177-178', '127.0.0.181-182'],
  'test/integration/cluster/revocation.test.ts': ['127.0.0.192-195'],
  'test/integration/tools-cluster.test.ts': ['127.0.0.201-202'],
  'test/integration/cluster/rolling-restart.test.ts': ['127.0.0.212-214', '127.0.0.223-224'],
  'test/integration/cluster/cluster-stop-start.test.ts': ['127.0.0.218-221'],
  'test/integration/cluster/upgrade.test.ts': ['127.0.0.233-235'],
  'test/integration/backup-cli.test.ts': ['127.0.0.237-238'],
  'test/integration/cluster/emergency.test.ts': ['127.0.0.241-243'],
  'test/integration/cluster/cluster-restore.test.ts': ['127.0.0.245-247'],
  'test/integration/dashboard/dashboard-cluster.test.ts': ['127.0.0.248-251'],
  // One address per Cluster the file starts, counted up from .10 (nextHost).
  'test/integration/cluster/link.test.ts': ['127.0.7.10-99'],
  'test/integration/cluster/link-process.test.ts': ['127.0.7.100-111'],
};

/** Loopback addresses a file writes as data only (a certificate's SAN, a decoded packet), never binds. */
export const LOOPBACK_DATA: Readonly<Record<string, readonly string[]>> = {
  'test/integration/security-cli.test.ts': ['127.0.0.2'], // a SAN in a generated certificate
  'test/unit/security/pki.test.ts': ['127.0.0.2'], // a SAN
  'test/unit/cluster/advertise.test.ts': ['127.0.0.20'], // a configured bind address, nothing listens
  'test/unit/cluster/membership/state.test.ts': ['127.0.0.2', '127.0.0.5-6', '127.0.0.11-12', '127.0.0.99-100'], // member records
  'test/unit/cluster/serf/delegate.test.ts': ['127.0.0.4-5', '127.0.0.9'], // member records
  'test/unit/cluster/serf/messages.test.ts': ['127.0.0.2'], // decoded bytes
  'test/unit/cluster/wire/messages.test.ts': ['127.0.0.2'], // encoded bytes
  'test/unit/cluster/serf/fixtures/serf-0.9.4.ts': ['127.0.0.2'], // captured packets
  'test/unit/cluster/wire/fixtures/serf-0.9.4.ts': ['127.0.0.2'], // captured packets
};

/** Network-namespace subnets ("10.x.y", test/helpers/netns-cluster.ts) per test file. */
export const NETNS_SUBNETS: Readonly<Record<string, readonly string[]>> = {
  'test/integration/netns-harness.test.ts': ['10.250.1'],
  'test/integration/cluster/partitions.test.ts': ['10.250.4', '10.250.5', '10.250.11'],
  'test/integration/cluster/partition-scenarios.test.ts': ['10.250.6', '10.250.7', '10.250.8'],
};

/** "127.a.b.c" or "127.a.b.c-d" as the numbers (a·2^16 + b·2^8 + c) it covers, first and last. */
export function loopbackRange(spec: string): { first: number; last: number } {
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:-(\d{1,3}))?$/.exec(spec);
  if (m === null) throw new Error(`${spec}: expected 127.a.b.c or 127.a.b.c-d`);
  const [a, b, c, d] = [m[1], m[2], m[3], m[4] ?? m[3]].map(Number) as [number, number, number, number];
  if ([a, b, c, d].some((x) => x > 255) || d < c) throw new Error(`${spec}: not a range of loopback addresses`);
  const hi = a * 65536 + b * 256;
  return { first: hi + c, last: hi + d };
}

/** The number of a loopback address "127.a.b.c", as loopbackRange counts. */
export function loopbackNumber(address: string): number {
  return loopbackRange(address).first;
}
