/**
 * At-least-once traffic for cluster operations that restart nodes (rolling restart, upgrade): one
 * `counter` agent per node, increments sent through another node's API, each with its own message
 * id. A client of at-least-once resends the same id through the next node when a node does not
 * answer (it may be restarting, and may have taken the message before its answer was lost); the
 * receiver drops what it already handled, so each accepted increment must be counted exactly once.
 */
import assert from 'node:assert/strict';
import { api, type RunningServer } from './server.js';
import { until } from './until.js';
import { agentWasm } from './agents.js';

export interface CounterTraffic {
  readonly counters: readonly string[];
  /** Starts sending (paced, bounded by `maxMessages` in all) until stop(); again after a stop, counting on. */
  start(): void;
  /** Stops after `tail` more increments; resolves when the last one was answered. */
  stop(tail?: number): Promise<void>;
  readonly accepted: readonly number[];
  /** Increments no node accepted after every retry: each may or may not have been counted. */
  readonly gaveUp: readonly number[];
  readonly sent: number;
  /** The longest a counter went without an accepted increment while the traffic ran, ms (per counter). */
  readonly longestGapMs: readonly number[];
  /** The counter's count, through a node that answers; undefined if none did. */
  count(i: number): Promise<number | undefined>;
  /** Waits until every outbox is empty, then checks each counter counted exactly what was accepted. */
  verify(diagnostic: (s: string) => void): Promise<void>;
}

export async function counterTraffic(nodes: readonly RunningServer[], names: readonly string[], key: string, o: { maxMessages?: number; prefix?: string } = {}): Promise<CounterTraffic> {
  const n = nodes.length;
  const counters = names.map((name) => `counter-${name}`);
  const b64 = Buffer.from(agentWasm('counter')).toString('base64');
  for (const [i, name] of counters.entries()) {
    const d = await api(nodes[0] as RunningServer, 'POST', '/agents', { name, module: b64, target_node: names[i] }, key);
    assert.equal(d.status, 201, JSON.stringify(d.body));
  }
  const count = async (i: number): Promise<number | undefined> => {
    for (let k = 1; k <= n; k++) {
      const via = nodes[(i + k) % n] as RunningServer;
      const r = await api(via, 'POST', '/messages?wait_reply=true&timeout_ms=5000', { performative: 'request', receiver: counters[i], content: { op: 'get' } }, key).catch(() => undefined);
      if (r?.status === 200 && r.body.reply?.performative === 'inform') return (r.body.reply.content as { count: number }).count;
    }
    return undefined;
  };
  for (const i of counters.keys()) await until(`${counters[i]} answers`, async () => (await count(i)) === 0, 30_000, 100);
  const accepted = counters.map(() => 0);
  const gaveUp = counters.map(() => 0);
  const lastAccepted = counters.map(() => 0);
  const longestGapMs = counters.map(() => 0);
  let sent = 0;
  let stopping: number | undefined;
  let running: Promise<void> | undefined;
  const max = o.maxMessages ?? 5000;
  const loop = async () => {
    const t0 = Date.now();
    lastAccepted.fill(t0);
    let after = 0;
    while (sent < max && (stopping === undefined || after < stopping)) {
      if (stopping !== undefined) after++;
      const i = sent % counters.length;
      sent++;
      await new Promise((res) => setTimeout(res, 10));
      const msg = { performative: 'request', receiver: counters[i], delivery: 'at-least-once', message_id: `${o.prefix ?? 'inc'}-${sent}`, content: { op: 'increment' } };
      let ok = false;
      for (let k = 0; k < 60 && !ok; k++) {
        const r = await api(nodes[(i + 1 + k) % n] as RunningServer, 'POST', '/messages', msg, key).catch(() => undefined);
        ok = r !== undefined && r.status >= 200 && r.status < 300;
        if (!ok) await new Promise((res) => setTimeout(res, 100));
      }
      if (!ok) {
        gaveUp[i] = (gaveUp[i] as number) + 1;
        continue;
      }
      accepted[i] = (accepted[i] as number) + 1;
      const now = Date.now();
      longestGapMs[i] = Math.max(longestGapMs[i] as number, now - (lastAccepted[i] as number));
      lastAccepted[i] = now;
    }
  };
  return {
    counters,
    accepted,
    gaveUp,
    longestGapMs,
    get sent() {
      return sent;
    },
    start() {
      stopping = undefined;
      running = loop();
    },
    async stop(tail = 30) {
      stopping = tail;
      await running;
    },
    count,
    async verify(diagnostic) {
      for (const s of nodes) {
        await until('nothing left to redeliver', async () => (await api(s, 'GET', '/status', undefined, key).catch(() => undefined))?.body?.outbox_pending === 0, 60_000, 250);
      }
      for (const i of counters.keys()) {
        const final = await until(`${counters[i]} answers`, () => count(i), 30_000, 250);
        diagnostic(`${counters[i]}: accepted ${accepted[i]}, counted ${final}, given up ${gaveUp[i]}, longest without an accepted increment ${longestGapMs[i]} ms`);
        assert.ok((accepted[i] as number) > 10, `traffic ran for ${counters[i]}`);
        assert.equal(gaveUp[i], 0, `${counters[i]}: some node accepted every increment within its retries`);
        assert.equal(final, accepted[i], `${counters[i]}: every accepted increment counted once`);
      }
    },
  };
}
