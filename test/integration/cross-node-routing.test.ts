/**
 * The router across nodes: three real AgentPools, each with its own SQLite file, outbox, relay and
 * RemoteDelivery, joined by the in-process Peers network (test/helpers/memory-peers.ts, which the
 * real link replaces in integration). The directory is this file's stand-in for the cluster's
 * (built elsewhere): it answers from the other pools' own tables, and, for a name no pool hosts, the
 * name's rendezvous owner, as the partitioned directory does for a name without an exception entry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AgentPool, type PoolEvent } from '../../src/sandbox/index.js';
import { DeadLetterStore, openDatabase, OutboxStore, SqliteAgentStateStore, type SqliteDatabase } from '../../src/storage/index.js';
import { DeadLetterQueue } from '../../src/messaging/dead-letter-queue.js';
import { OutboxRelay } from '../../src/messaging/outbox-relay.js';
import { RemoteDelivery } from '../../src/messaging/remote-delivery.js';
import { reliableIdOf } from '../../src/sandbox/envelope.js';
import type { Directory, NodeName } from '../../src/messaging/directory.js';
import { evenly, ownerOf } from '../../src/cluster/placement/rendezvous.js';
import { initiatorAgent, sinkAgent, subscriberAgent } from '../helpers/wat-agents.js';
import { agentWasm, Client, recordEvents } from '../helpers/agents.js';
import { MemoryNetwork } from '../helpers/memory-peers.js';
import { until } from '../helpers/until.js';
import { tempDir } from '../helpers/tmp.js';

interface TestNode {
  readonly name: NodeName;
  readonly pool: AgentPool;
  readonly db: SqliteDatabase;
  readonly outbox: OutboxStore;
  readonly remote: RemoteDelivery;
  readonly events: PoolEvent[];
  readonly state: SqliteAgentStateStore;
  readonly deadLetters: DeadLetterQueue;
  /** What RemoteDelivery warned about (posts it could not read). */
  readonly warnings: string[];
  close(): Promise<void>;
}

/** What the cluster's directory would say, answered from the test's nodes. */
class World {
  readonly nodes: TestNode[] = [];
  /** Receivers that are not agents (a Client endpoint) → the node they are on. */
  readonly endpoints = new Map<string, NodeName>();
  /** Per node: names it believes elsewhere, whatever the pools say (a stale entry). */
  readonly stale = new Map<NodeName, Map<string, NodeName>>();

  directoryFor(self: NodeName): Directory {
    const others = () => this.nodes.filter((n) => n.name !== self);
    return {
      nodeFor: (name) => {
        const pinned = this.stale.get(self)?.get(name);
        if (pinned !== undefined) return pinned === self ? undefined : pinned;
        const host = others().find((n) => n.pool.agent(name) !== undefined)?.name ?? this.endpoints.get(name);
        if (host !== undefined) return host === self ? undefined : host;
        const owner = ownerOf(name, evenly(this.nodes.map((n) => n.name)));
        return owner === self ? undefined : owner;
      },
      capabilityNodes: (capability) => others().filter((n) => n.pool.providersOf(capability).length > 0).map((n) => n.name),
      topicNodes: (topic) => others().filter((n) => n.pool.subscribersOf(topic).length > 0).map((n) => n.name),
    };
  }
}

const RELAY = { intervalMs: 30, baseDelayMs: 150, maxAttempts: 50 };

/** One node as src/node.ts wires it: pool, router, outbox and relay, dead letters, RemoteDelivery. */
async function startNode(world: World, net: MemoryNetwork, dir: string, name: NodeName, beforeAck?: (id: string) => Promise<void>): Promise<TestNode> {
  const path = join(dir, `${name}.db`);
  const db = openDatabase(path);
  const outbox = new OutboxStore(db);
  const warnings: string[] = [];
  const remote = new RemoteDelivery(net.add(name), outbox, {
    ackIntervalMs: 10,
    redeliverAfterMs: RELAY.baseDelayMs,
    warn: (text) => warnings.push(text),
    ...(beforeAck === undefined ? {} : { beforeAck }),
  });
  const pool = await AgentPool.start({ databasePath: path, workers: 1, directory: world.directoryFor(name), link: remote, redeliverAfterMs: RELAY.baseDelayMs });
  remote.attach(pool.router);
  const deadLetters = new DeadLetterQueue(new DeadLetterStore(db), pool.router.redelivery);
  const relay = new OutboxRelay(outbox, pool.router.redelivery, deadLetters, RELAY);
  // As CaxtonNode does: a final refusal is a dead letter and leaves the outbox.
  pool.onEvent((e) => {
    if (e.type !== 'undeliverable' || e.kept) return;
    deadLetters.record(e.to, e.json, e.reason);
    const id = reliableIdOf(e.json);
    if (id !== undefined) outbox.ack(id);
  });
  const events = recordEvents(pool);
  const state = new SqliteAgentStateStore(path);
  const node: TestNode = {
    name,
    pool,
    db,
    outbox,
    remote,
    events,
    state,
    deadLetters,
    warnings,
    close: async () => {
      relay.stop();
      remote.close();
      await pool.close();
      state.close();
      db.close();
    },
  };
  world.nodes.push(node);
  return node;
}

async function cluster(
  names: NodeName[],
  fn: (nodes: TestNode[], world: World, net: MemoryNetwork) => Promise<void>,
  beforeAck?: Record<NodeName, (id: string) => Promise<void>>,
): Promise<void> {
  const dir = tempDir();
  const world = new World();
  const net = new MemoryNetwork();
  const nodes: TestNode[] = [];
  try {
    for (const n of names) nodes.push(await startNode(world, net, dir.path, n, beforeAck?.[n]));
    await fn(nodes, world, net);
  } finally {
    for (const n of nodes) await n.close();
    dir.cleanup();
  }
}

function kv(node: TestNode, agent: string, key: string): string | undefined {
  const v = node.state.get(agent, new TextEncoder().encode(key));
  return v === undefined ? undefined : new TextDecoder().decode(v);
}

function last(node: TestNode, agent: string): Record<string, unknown> | undefined {
  const v = kv(node, agent, 'last');
  return v === undefined ? undefined : (JSON.parse(v) as Record<string, unknown>);
}

/** Starts an initiator on `node` that sends `request` once it gets any message, and pokes it. */
async function initiate(node: TestNode, name: string, request: object): Promise<void> {
  const m = await node.pool.admit(await initiatorAgent(JSON.stringify(request)));
  await node.pool.spawn({ name, module: m.hash });
  node.pool.deliver(name, JSON.stringify({ performative: 'inform', sender: 'client', receiver: name, content: 'go' }));
}

async function spawn(node: TestNode, wasm: Uint8Array, name: string): Promise<void> {
  const m = await node.pool.admit(wasm);
  await node.pool.spawn({ name, module: m.hash });
}

const noSuchAgent = (e: PoolEvent) => e.type === 'undeliverable' && e.code === 'no_such_agent';

test('cross-node routing - by name: an agent reaches an agent of another node and its reply comes back; a name that exists nowhere is decided once, on its owner', async () => {
  await cluster(['a', 'b', 'c'], async ([a, b, c]) => {
    await spawn(b!, agentWasm('echo'), 'echo-b');
    await initiate(a!, 'asker', { performative: 'request', receiver: 'echo-b', content: 'across', reply_with: 'q1' });
    const reply = await until('the echo reply on node a', () => {
      const m = last(a!, 'asker');
      return m?.['sender'] === 'echo-b' ? m : undefined;
    });
    assert.equal(reply['sender'], 'echo-b');
    assert.equal(reply['content'], 'across');
    assert.equal(reply['in_reply_to'], 'q1');

    // Whichever node owns "nowhere" decides; the sender on a hears no_such_agent.
    await initiate(a!, 'lost', { performative: 'request', receiver: 'nowhere', content: 'x' });
    const failure = await until('the failure on node a', () => {
      const m = last(a!, 'lost');
      return m?.['performative'] === 'failure' ? m : undefined;
    });
    assert.equal((failure['content'] as { error: string }).error, 'no_such_agent');
    const decided = [a!, b!, c!].map((n) => n.events.filter(noSuchAgent).length);
    assert.equal(decided.reduce((x, y) => x + y, 0), 1, `decided exactly once, on one node (per node: ${decided})`);
    const owner = ownerOf('nowhere', evenly(['a', 'b', 'c']));
    assert.equal(decided[['a', 'b', 'c'].indexOf(owner!)], 1, `decided on its owner ${owner}`);
  });
});

test('cross-node routing - by capability: no local provider, so a provider on another node takes it, and its reply comes back', async () => {
  await cluster(['a', 'b', 'c'], async ([a, , c]) => {
    await spawn(c!, agentWasm('calculator'), 'calc-c');
    await until('the capability registration', () => c!.pool.providersOf('arithmetic').length === 1);
    await initiate(a!, 'asker', { performative: 'request', capability: 'arithmetic', content: { op: 'add', args: [2, 3] }, reply_with: 'sum' });
    const reply = await until('the calculator reply', () => {
      const m = last(a!, 'asker');
      return m?.['sender'] === 'calc-c' ? m : undefined;
    });
    assert.equal(reply['performative'], 'inform');
    assert.deepEqual(reply['content'], { result: 5 });
    // The API's way in: a capability with no provider anywhere is refused before anything is sent.
    assert.equal(a!.pool.router.provided('arithmetic'), true);
    assert.equal(a!.pool.router.provided('astrology'), false);
  });
});

test('cross-node routing - by topic: every node with subscribers gets one copy and publishes it locally, never further', async () => {
  await cluster(['a', 'b', 'c'], async ([a, b, c], _world, net) => {
    for (const [node, name] of [[a, 'sub-a'], [b, 'sub-b1'], [b, 'sub-b2'], [c, 'sub-c']] as const) await spawn(node!, await subscriberAgent('news'), name);
    await until('the subscriptions', () => b!.pool.subscribersOf('news').length === 2 && c!.pool.subscribersOf('news').length === 1);
    const posts = net.posts;
    await initiate(a!, 'publisher', { performative: 'inform', topic: 'news', content: 'extra' });
    for (const [node, name] of [[a, 'sub-a'], [b, 'sub-b1'], [b, 'sub-b2'], [c, 'sub-c']] as const) {
      const m = await until(`the publication at ${name}`, () => last(node!, name));
      assert.equal(m['content'], 'extra');
    }
    await new Promise((r) => setTimeout(r, 100)); // time for any (wrong) re-forwarding to show
    assert.equal(net.posts - posts, 2, 'one post to b, one to c, nothing forwarded on');
    for (const node of [a!, b!, c!]) {
      for (const s of await node.pool.stats()) if (s.name.startsWith('sub-')) assert.equal(s.messagesIn, 1, `${s.name} got it once`);
    }
  });
});

test('cross-node routing - a refusal by the remote node: the receiver exists but is stopped, and the sender hears agent_unavailable from it', async () => {
  await cluster(['a', 'b'], async ([a, b]) => {
    await spawn(b!, await sinkAgent(), 'sink-b');
    await b!.pool.stop('sink-b');
    await initiate(a!, 'asker', { performative: 'request', receiver: 'sink-b', content: 'hi' });
    const failure = await until('the failure', () => {
      const m = last(a!, 'asker');
      return m?.['performative'] === 'failure' ? m : undefined;
    });
    assert.equal((failure['content'] as { error: string }).error, 'agent_unavailable');
    assert.ok(b!.events.some((e) => e.type === 'undeliverable' && e.to === 'sink-b' && /sink-b is stopped/.test(e.reason)), 'decided on b, which knows why');
    assert.equal(a!.events.filter((e) => e.type === 'undeliverable').length, 0);
  });
});

test('cross-node routing - hop guard: a message that arrived from another node is forwarded at most once more, however stale the directories', async () => {
  await cluster(['a', 'b', 'c'], async ([a, b, c], world, net) => {
    // A loop of stale entries: a → b → c → b → ...
    world.stale.set('a', new Map([['ghost', 'b']]));
    world.stale.set('b', new Map([['ghost', 'c']]));
    world.stale.set('c', new Map([['ghost', 'b']]));
    const posts = net.posts;
    await initiate(a!, 'asker', { performative: 'request', receiver: 'ghost', content: 'loop?' });
    const failure = await until('the failure', () => {
      const m = last(a!, 'asker');
      return m?.['performative'] === 'failure' ? m : undefined;
    });
    assert.equal((failure['content'] as { error: string }).error, 'agent_unavailable');
    assert.ok(c!.events.some((e) => e.type === 'undeliverable' && e.to === 'ghost'), 'c, two hops out, stopped it');
    assert.equal(b!.events.filter((e) => e.type === 'undeliverable').length, 0);
    // a→b, b→c, and the failure c→a: nothing went round.
    assert.equal(net.posts - posts, 3);
  });
});

/** Sends like the API does an at-least-once message: into the outbox first, then through the router. */
function sendReliable(node: TestNode, to: string, id: string, content: unknown): void {
  const json = JSON.stringify({ performative: 'request', sender: 'client', receiver: to, content, message_id: id, conversation_id: 'c-1', delivery: 'at-least-once' });
  node.outbox.add(id, to, json, Date.now() + RELAY.baseDelayMs);
  node.pool.router.route(to, json, 1, 'client');
}

test('cross-node routing - at-least-once across nodes: with the receiving node down and back up, every increment is counted exactly once and both outboxes empty', async () => {
  await cluster(['a', 'b'], async ([a, b], world, net) => {
    world.endpoints.set('client', 'a');
    const client = new Client(a!.pool);
    await spawn(b!, agentWasm('counter'), 'counter');
    for (let i = 0; i < 10; i++) sendReliable(a!, 'counter', `inc-${i}`, { op: 'increment' });
    await until('the first ten counted', () => kv(b!, 'counter', 'count') === '10');
    net.down('b');
    // Taken in by a's outbox while b is unreachable (the router's post is refused, nothing is lost).
    for (let i = 10; i < 20; i++) sendReliable(a!, 'counter', `inc-${i}`, { op: 'increment' });
    await new Promise((r) => setTimeout(r, 400)); // several relay rounds fail meanwhile
    assert.ok(a!.outbox.count() >= 10, 'a keeps what b has not acknowledged');
    net.up('b');
    await until('every increment counted', () => kv(b!, 'counter', 'count') === '20', 10_000);
    await until('both outboxes empty', () => a!.outbox.count() === 0 && b!.outbox.count() === 0 && b!.remote.held === 0, 10_000);
    await new Promise((r) => setTimeout(r, 300)); // late copies, if any, would land now
    assert.equal(kv(b!, 'counter', 'count'), '20', 'no increment handled twice');
    // Only at-most-once replies b sent while it was cut off may be dead letters, never an increment.
    assert.deepEqual([...a!.deadLetters.list(), ...b!.deadLetters.list()].filter((l) => l.receiver !== 'client').map((l) => l.reason), []);
    assert.ok(client.inbox.length > 0, 'replies came back to the client on a');
  });
});

test('cross-node routing - at-least-once: copies of one message id, before and after its ack, are handled once and acknowledged again', async () => {
  await cluster(['a', 'b'], async ([a, b], _world, net) => {
    await spawn(b!, agentWasm('counter'), 'counter');
    const json = JSON.stringify({ performative: 'request', sender: 'x', receiver: 'counter', content: { op: 'increment' }, message_id: 'dup', delivery: 'at-least-once' });
    a!.outbox.add('dup', 'counter', json, Date.now() + 60_000);
    assert.equal(a!.remote.deliver('b', 'counter', json, 1, 1), true);
    assert.equal(a!.remote.deliver('b', 'counter', json, 1, 1), true); // a copy while b still holds it
    await until('acknowledged to a', () => a!.outbox.count() === 0);
    const [before] = await b!.pool.stats();
    // A late copy (as if the ack had been lost): answered with the ack, not handled.
    a!.outbox.add('dup', 'counter', json, Date.now() + 60_000);
    const posts = net.posts;
    assert.equal(a!.remote.deliver('b', 'counter', json, 1, 1), true);
    await until('acknowledged again', () => a!.outbox.count() === 0);
    assert.equal(net.posts - posts, 2, 'the copy and its ack');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(kv(b!, 'counter', 'count'), '1');
    // Dropped by b's RemoteDelivery, not by the worker's dedup window: the counter's mailbox never saw it.
    const [after] = await b!.pool.stats();
    assert.equal(after!.messagesIn, before!.messagesIn);
  });
});

test('cross-node routing - at-least-once to a name that exists nowhere: final on its owner, the sender hears no_such_agent and its outbox lets go', async () => {
  // "nowhere" is owned by b among {a, b} (asserted), so a forwards and b decides.
  assert.equal(ownerOf('nowhere', evenly(['a', 'b'])), 'b');
  await cluster(['a', 'b'], async ([a, b]) => {
    await initiate(a!, 'asker', { performative: 'request', receiver: 'nowhere', content: 'x', delivery: 'at-least-once' });
    const failure = await until('the failure', () => {
      const m = last(a!, 'asker');
      return m?.['performative'] === 'failure' ? m : undefined;
    });
    assert.equal((failure['content'] as { error: string }).error, 'no_such_agent');
    await until('both outboxes empty', () => a!.outbox.count() === 0 && b!.outbox.count() === 0);
    assert.equal(b!.events.filter(noSuchAgent).length, 1);
    assert.equal(a!.events.filter(noSuchAgent).length, 0);
    assert.equal(b!.deadLetters.count(), 1, 'the dead letter is on the node that decided');
  });
});

test('cross-node routing - at-least-once: the receiving node acks only once beforeAck settles (the hook state replication holds the ack with)', async () => {
  let release: () => void = () => {};
  const gated: string[] = [];
  const gate = (id: string) => {
    gated.push(id);
    return new Promise<void>((r) => (release = r));
  };
  await cluster(
    ['a', 'b'],
    async ([a, b]) => {
      await spawn(b!, agentWasm('counter'), 'counter');
      sendReliable(a!, 'counter', 'gated-1', { op: 'increment' });
      await until('handled on b', () => kv(b!, 'counter', 'count') === '1' && gated.length === 1);
      // Several ack scans, and a's relay redelivering (150 ms): the copy that arrives while the hook
      // holds the ack is dropped, not handled and gated a second time.
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(a!.outbox.count(), 1, 'not acknowledged while the hook holds it');
      release();
      await until('acknowledged once released', () => a!.outbox.count() === 0);
      assert.deepEqual(gated, ['gated-1']);
    },
    { b: gate },
  );
});

test('cross-node routing - a post that is not a message is ignored with a warning, and the node keeps routing', async () => {
  await cluster(['a', 'b'], async ([a, b], _world, net) => {
    await spawn(b!, await sinkAgent(), 'sink-b');
    const stranger = net.add('x');
    for (const body of ['garbage', ['sink-b', '{}', 9, 1, ''], ['sink-b', '{}', 1, 0, ''], { to: 'sink-b' }, [1, 2, 3, 4, 5]]) stranger.post('b', 'msg', body);
    stranger.post('b', 'ack', 'not a list');
    await until('the warnings', () => b!.warnings.length === 6);
    for (const w of b!.warnings) assert.match(w, /node x posted an? (msg|ack) .*ignored/);
    assert.equal(b!.events.filter((e) => e.type === 'undeliverable').length, 0);
    await initiate(a!, 'asker', { performative: 'inform', receiver: 'sink-b', content: 'still here' });
    const m = await until('the delivery', () => last(b!, 'sink-b'));
    assert.equal(m['content'], 'still here');
  });
});

test('cross-node routing - at-least-once: a message that comes back to the node that sent it (the agent moved there) is delivered there at once and acknowledged along the way', async () => {
  await cluster(['a', 'b'], async ([a, b], world) => {
    await spawn(a!, agentWasm('counter'), 'mover');
    world.stale.set('b', new Map([['mover', 'a']]));
    // Sent from a while a still believed mover on b; a's relay would not retry for a minute.
    const json = JSON.stringify({ performative: 'request', sender: 'x', receiver: 'mover', content: { op: 'increment' }, message_id: 'back-1', delivery: 'at-least-once' });
    a!.outbox.add('back-1', 'mover', json, Date.now() + 60_000);
    assert.equal(a!.remote.deliver('b', 'mover', json, 1, 1), true);
    await until('handled on a', () => kv(a!, 'mover', 'count') === '1', 5000);
    await until('both outboxes empty', () => a!.outbox.count() === 0 && b!.outbox.count() === 0, 5000);
  });
});
