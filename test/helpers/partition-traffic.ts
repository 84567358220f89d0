/**
 * Traffic and probes for the network-partition tests (test/integration/cluster/partitions.test.ts,
 * partition-scenarios.test.ts): at-least-once increments to the counter agent, its count by
 * request/reply, a node's `cluster status` through the CLI in its namespace, its event stream, and
 * counter names chosen by their rendezvous rank.
 */
import { randomUUID } from 'node:crypto';
import { evenly, rank } from '../../src/cluster/placement/rendezvous.js';
import type { NetnsCluster } from './netns-cluster.js';
import { api, type RunningServer } from './server.js';

export const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** The first `counter-<i>` whose rendezvous rank over `nodes` starts with `prefix` (comma-separated node names). */
export function named(nodes: readonly string[], prefix: string, skip: readonly string[] = []): string {
  const found = Array.from({ length: 5000 }, (_, i) => `counter-${i}`).find((n) => !skip.includes(n) && rank(n, evenly([...nodes])).slice(0, prefix.split(',').length).join() === prefix);
  if (found === undefined) throw new Error(`no counter-<i> below 5000 ranks ${prefix} first`);
  return found;
}

/** One at-least-once increment with a fresh message_id; true when the API accepted it (202). */
export async function increment(n: RunningServer, to: string): Promise<boolean> {
  const r = await api(n, 'POST', '/messages', { performative: 'request', receiver: to, delivery: 'at-least-once', message_id: randomUUID(), content: { op: 'increment' } }, n.adminKey).catch(() => undefined);
  return r?.status === 202;
}

/** The counter's value, asked through node `n`; undefined when it did not answer in 2 s. */
export async function count(n: RunningServer, to: string): Promise<number | undefined> {
  const r = await api(n, 'POST', '/messages?wait_reply=true&timeout_ms=2000', { performative: 'request', receiver: to, content: { op: 'get' } }, n.adminKey).catch(() => undefined);
  return r?.status === 200 && r.body.reply?.performative === 'inform' ? (r.body.reply.content as { count: number }).count : undefined;
}

/** `caxton cluster status` run in node i's namespace. */
export async function status(c: NetnsCluster, i: number): Promise<{ code: number; stdout: string }> {
  const r = await c.cli(i, 'cluster', 'status');
  return { code: r.code, stdout: r.stdout };
}

/** The event stream of a node, as text, from now on. */
export function stream(n: RunningServer): { text: () => string; close: () => void } {
  const ac = new AbortController();
  let text = '';
  void (async () => {
    try {
      const res = await fetch(`${n.apiUrl}/api/v1/events?types=cluster.*`, { headers: { authorization: `Bearer ${n.adminKey}` }, signal: ac.signal });
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) text += Buffer.from(chunk).toString();
    } catch {
      // closed
    }
  })();
  return { text: () => text, close: () => ac.abort() };
}
