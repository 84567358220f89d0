/**
 * What the supervisor (./supervisor.ts) and the node it runs (`caxton server start` as its child) say
 * to each other over the child's IPC channel, and the environment the supervisor gives the child.
 * The two sides may be different releases (an old supervisor starts a new node after an upgrade), so
 * messages are only ever added to, never changed: an unknown message is ignored.
 */
import { formatAddress, parseAddress, type Address } from '../config/address.js';

export const SUPERVISOR_ENV = {
  /** `1` in the child: it runs under a supervisor and must not start one itself. */
  supervised: 'CAXTON_SUPERVISED',
  /** The releases directory, absolute. */
  releases: 'CAXTON_RELEASES_DIR',
  /** Gossip addresses (host:port, comma-separated) to rejoin through when no seeds are configured. */
  rejoin: 'CAXTON_REJOIN',
} as const;

export type ChildMessage =
  /** The node runs (its API answers): a start that got this far is not a failed start. */
  | { readonly type: 'caxton.ready'; readonly version: string; readonly node: string }
  /** The node has handed its agents over and stopped: start `version` instead once this process exits. */
  | { readonly type: 'caxton.switch'; readonly version: string; readonly reason: string; readonly rejoin: readonly string[] };

export function childMessage(m: unknown): ChildMessage | undefined {
  if (typeof m !== 'object' || m === null) return undefined;
  const r = m as Record<string, unknown>;
  if (r['type'] === 'caxton.ready' && typeof r['version'] === 'string' && typeof r['node'] === 'string') return { type: 'caxton.ready', version: r['version'], node: r['node'] };
  if (r['type'] === 'caxton.switch' && typeof r['version'] === 'string' && typeof r['reason'] === 'string' && Array.isArray(r['rejoin'])) {
    return { type: 'caxton.switch', version: r['version'], reason: r['reason'], rejoin: r['rejoin'].filter((x): x is string => typeof x === 'string') };
  }
  return undefined;
}

/** The child's side: present only in a node started by a supervisor. */
export interface SupervisedChild {
  readonly releasesDir: string;
  /** Where to rejoin after a switch (the members the node had), when no seeds are configured. */
  readonly rejoin: readonly Address[];
  ready(version: string, node: string): void;
  /** Tells the supervisor to start `version` after this process exits; resolves once the message is sent. */
  switchTo(version: string, reason: string, rejoin: readonly Address[]): Promise<void>;
}

export function supervisedChild(env: NodeJS.ProcessEnv = process.env): SupervisedChild | undefined {
  const send = process.send?.bind(process);
  const releasesDir = env[SUPERVISOR_ENV.releases];
  if (env[SUPERVISOR_ENV.supervised] !== '1' || send === undefined || releasesDir === undefined) return undefined;
  const rejoin = (env[SUPERVISOR_ENV.rejoin] ?? '')
    .split(',')
    .filter((x) => x !== '')
    .flatMap((x) => {
      const a = parseAddress(x);
      return a === undefined ? [] : [a];
    });
  return {
    releasesDir,
    rejoin,
    ready: (version, node) => void send({ type: 'caxton.ready', version, node } satisfies ChildMessage),
    switchTo: (version, reason, to) =>
      new Promise<void>((resolve, reject) => {
        const m: ChildMessage = { type: 'caxton.switch', version, reason, rejoin: to.map(formatAddress) };
        send(m, undefined, {}, (e: Error | null) => (e === null ? resolve() : reject(e)));
      }),
  };
}
