/**
 * The address this node advertises to the cluster (coordination.cluster.advertise_addr). Other nodes
 * reach us at what we advertise, and memberlist carries it as IP bytes, so it must be an IP other
 * hosts can route to, never 0.0.0.0:
 *
 * - an explicit advertise address is used as given;
 * - otherwise ("auto"), a bind to a specific IP advertises that IP;
 * - a bind to 0.0.0.0 or :: advertises the first non-internal IPv4 of the host (link-local 169.254/16
 *   only when there is nothing else), or 127.0.0.1 with a warning when the host has none.
 *
 * The port is the advertise address's, else the bind port (0: the port actually bound, which the
 * transport fills in).
 */
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import type { Address } from './transport/transport.js';

/** os.networkInterfaces()' shape (injectable for tests). */
export type InterfaceList = NodeJS.Dict<readonly Pick<NetworkInterfaceInfo, 'address' | 'family' | 'internal'>[]>;

export interface AdvertiseChoice {
  readonly address: Address;
  /** Why the choice may not be reachable from other hosts; log it. */
  readonly warning?: string;
}

function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** Node 18.0-18.3 reported the family as a number. */
function isIPv4(family: unknown): boolean {
  return family === 'IPv4' || family === 4;
}

/** The first non-internal IPv4 address of the host, preferring routable ones to link-local; undefined when none. */
export function firstExternalIPv4(interfaces: InterfaceList): string | undefined {
  let linkLocal: string | undefined;
  for (const addrs of Object.values(interfaces)) {
    for (const a of addrs ?? []) {
      if (a.internal || !isIPv4(a.family)) continue;
      if (!a.address.startsWith('169.254.')) return a.address;
      linkLocal ??= a.address;
    }
  }
  return linkLocal;
}

/** What to advertise for `bind` and the configured advertise address (undefined or 'auto': work it out). */
export function chooseAdvertiseAddress(bind: Address, advertise: Address | 'auto' | undefined, interfaces: InterfaceList = networkInterfaces()): AdvertiseChoice {
  if (advertise !== undefined && advertise !== 'auto') return { address: advertise };
  if (!isUnspecified(bind.host)) return { address: { host: bind.host, port: bind.port } };
  const ip = firstExternalIPv4(interfaces);
  if (ip !== undefined) return { address: { host: ip, port: bind.port } };
  return {
    address: { host: '127.0.0.1', port: bind.port },
    warning: `coordination.cluster.bind_addr is ${bind.host} and the host has no non-loopback IPv4 address: advertising 127.0.0.1, which only nodes on this host can reach; set coordination.cluster.advertise_addr`,
  };
}
