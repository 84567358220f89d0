import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EVENT_RELAY_POST, EVENT_WATCH_POST, EventRelay, LEASE_MS, MAX_RELAYED_PER_SECOND } from '../../../src/cluster/event-relay.js';
import { MemoryNetwork } from '../../helpers/memory-peers.js';
import { until } from '../../helpers/until.js';

const members: { name: string; status: string; tags: Record<string, string> }[] = [
  { name: 'a', status: 'alive', tags: { role: 'caxton' } },
  { name: 'b', status: 'alive', tags: { role: 'caxton' } },
  { name: 'c', status: 'alive', tags: { role: 'caxton' } },
  { name: 'serf', status: 'alive', tags: {} },
];

function cluster(now: () => number = Date.now) {
  const net = new MemoryNetwork();
  const got = new Map<string, Record<string, unknown>[]>();
  const warnings: string[] = [];
  const relays = new Map<string, EventRelay>();
  for (const n of ['a', 'b', 'c']) {
    got.set(n, []);
    relays.set(n, new EventRelay({ peers: net.add(n), members: () => members, emit: (e) => got.get(n)!.push(e), warn: (w) => warnings.push(w), now }));
  }
  return { net, got, warnings, relay: (n: string) => relays.get(n)!, serf: net.add('serf') };
}

const started = (agent: string) => ({ type: 'agent.started', time: 't', agent, worker: 0, restarts: 1 });
const settle = () => new Promise((r) => setTimeout(r, 20));

test('event relay - a node relays its lifecycle events only to the nodes with a stream open, and stops when the last one closes', async () => {
  const { net, got, relay } = cluster();
  relay('c').local(started('x'));
  await settle();
  assert.equal(net.posts, 0, 'nobody watches: nothing is sent');

  const release = relay('a').want();
  const again = relay('a').want(); // a second stream on a: one lease
  await until('b and c know a watches them', () => relay('b').watched && relay('c').watched);
  assert.equal(relay('a').watched, false, 'a does not watch itself');
  relay('c').local(started('x'));
  relay('c').local({ type: 'agent.log', time: 't', agent: 'x', level: 'info', text: 'not relayed' });
  relay('c').local({ type: 'message.undeliverable', time: 't', from: 'x', to: 'y' });
  await until('a shows c\'s start', () => got.get('a')!.length === 1);
  assert.deepEqual(got.get('a')![0], { ...started('x'), node: 'c' });
  assert.equal(got.get('b')!.length, 0, 'b has no stream open: not told');

  release();
  release(); // twice is once
  relay('c').local(started('y'));
  await until('the second stream still holds the lease', () => got.get('a')!.length === 2);
  again();
  await until('the lease is cancelled', () => !relay('b').watched && !relay('c').watched);
  const posts = net.posts;
  relay('c').local(started('z'));
  await settle();
  assert.equal(net.posts, posts, 'nothing sent once the last stream closed');
  assert.equal(got.get('a')!.length, 2);
});

test('event relay - a lease that is not renewed ends (a watcher that died costs nothing after LEASE_MS)', async () => {
  let now = 1_000_000;
  const { got, relay } = cluster(() => now);
  relay('a').want();
  await until('c knows a watches it', () => relay('c').watched);
  now += LEASE_MS + 1;
  assert.equal(relay('c').watched, false);
  relay('c').local(started('x'));
  await settle();
  assert.equal(got.get('a')!.length, 0);
});

test(`event relay - at most ${MAX_RELAYED_PER_SECOND} events a second are relayed, the rest dropped and logged once`, async () => {
  const now = 5_000_000;
  const { got, relay, warnings } = cluster(() => now);
  relay('a').want();
  await until('c knows a watches it', () => relay('c').watched);
  for (let i = 0; i < MAX_RELAYED_PER_SECOND + 50; i++) relay('c').local(started(`x${i}`));
  await until('the relayed ones arrive', () => got.get('a')!.length === MAX_RELAYED_PER_SECOND);
  await settle();
  assert.equal(got.get('a')!.length, MAX_RELAYED_PER_SECOND);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /not relayed/);
});

test('event relay - only well-formed lifecycle events from a peer are taken, plain fields only, node set to the sender', async () => {
  const { got, relay, serf, warnings } = cluster();
  relay('a'); // a exists; it takes what it is sent whether or not it watches (the post says what it is)
  for (const bad of [null, [1], 'x', { type: 'message.undeliverable', time: 't', text: 'x' }, { type: 'cluster.join', time: 't' }, { type: 'agent.started' }, Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${i}`, i]).concat([['type', 'agent.started'], ['time', 't']]))]) serf.post('a', EVENT_RELAY_POST, bad);
  serf.post('a', EVENT_RELAY_POST, { type: 'agent.fault', time: 't', agent: 'x', message: 'boom', nested: { a: 1 }, long: 'y'.repeat(5000), node: 'forged' });
  for (const bad of [null, { lease_ms: -1 }, { lease_ms: LEASE_MS + 1 }, { lease_ms: 1.5 }, { lease_ms: 1000, logs: 'x' }, { lease_ms: 1000, logs: Array.from({ length: 21 }, (_, i) => `a${i}`) }]) serf.post('a', EVENT_WATCH_POST, bad);
  await until('the well-formed one arrives', () => got.get('a')!.length === 1);
  await settle();
  assert.deepEqual(got.get('a'), [{ type: 'agent.fault', time: 't', agent: 'x', message: 'boom', node: 'serf' }]);
  assert.equal(warnings.length, 13, warnings.join('\n'));
  assert.equal(relay('a').watched, false, 'no bad lease was taken');
});

test('event relay - an agent\'s log lines go only to the nodes following that agent, and only while they do', async () => {
  const { net, got, relay } = cluster();
  const line = (agent: string, text: string) => ({ type: 'agent.log', time: 't', agent, level: 'info', text, conversation_id: null });
  const lifecycle = relay('a').want();
  await until('c knows a watches it', () => relay('c').watched);
  relay('c').local(line('x', 'not followed yet'));
  const stopLogs = relay('a').wantLogs('x');
  relay('b').want(); // b watches lifecycle events, follows no log lines
  await settle();
  relay('c').local(line('x', 'one'));
  relay('c').local(line('y', 'another agent'));
  await until('a shows x\'s line', () => got.get('a')!.some((e) => e['text'] === 'one'));
  await settle();
  assert.deepEqual(got.get('a')!.map((e) => `${e['agent']} ${e['text']} ${e['node']}`), ['x one c']);
  assert.equal(got.get('b')!.length, 0, 'b follows no log lines');

  stopLogs();
  await settle();
  const posts = net.posts;
  relay('c').local(line('x', 'after'));
  await settle();
  assert.equal(net.posts, posts, 'nothing sent once no stream follows x');
  lifecycle();
});
