/**
 * The directory seam the cluster will fill: two pools in one process stand for two nodes, linked
 * by a Directory whose links deliver into the other pool. The router code is the same either way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AgentPool, type PoolEvent } from '../../src/sandbox/index.js';
import { SqliteAgentStateStore } from '../../src/storage/index.js';
import { initiatorAgent } from '../helpers/wat-agents.js';
import { until } from '../helpers/until.js';
import type { Directory, RemoteLink } from '../../src/messaging/directory.js';
import { Client, spawnAgent } from '../helpers/agents.js';
import { tempDir } from '../helpers/tmp.js';

/** Knows which names live on the other pool, and links straight into its router. */
class PeerDirectory implements Directory {
  peer: AgentPool | undefined;
  readonly link: RemoteLink = {
    deliver: (_node, to, json, priority, hops) => {
      const where = this.peer?.router.route(to, json, priority as 0 | 1 | 2 | 3, '', hops);
      return where !== undefined && where !== 'refused';
    },
  };
  constructor(readonly remoteNames: Set<string>) {}
  nodeFor(name: string): string | undefined {
    return this.remoteNames.has(name) ? 'peer' : undefined;
  }
  capabilityNodes(): readonly string[] {
    return [];
  }
  topicNodes(): readonly string[] {
    return [];
  }
}

test('directory - a message to an agent on another node goes through its link, and the reply comes back', async () => {
  const dir = tempDir();
  const toB = new PeerDirectory(new Set(['echo-b']));
  const toA = new PeerDirectory(new Set(['client', 'asker-a']));
  const a = await AgentPool.start({ databasePath: join(dir.path, 'a.db'), workers: 1, directory: toB, link: toB.link });
  const b = await AgentPool.start({ databasePath: join(dir.path, 'b.db'), workers: 1, directory: toA, link: toA.link });
  toB.peer = b;
  toA.peer = a;
  try {
    await spawnAgent(b, 'echo', 'echo-b');
    const client = new Client(a); // an API client on node A
    assert.equal(a.route('echo-b', JSON.stringify({ performative: 'request', sender: 'client', receiver: 'echo-b', content: 'across', reply_with: 'r1' })), 'remote');
    const reply = await client.waitFor((m) => m.in_reply_to === 'r1');
    assert.equal(reply.sender, 'echo-b');
    assert.equal(reply.content, 'across');
    // A name no node knows: nobody takes it.
    assert.equal(b.route('nowhere', '{}'), undefined);
  } finally {
    await a.close();
    await b.close();
    dir.cleanup();
  }
});

test('directory - a node whose link refuses the message is a receiver that takes no messages now (agent_unavailable), not one that exists nowhere', async () => {
  const dir = tempDir();
  const toB = new PeerDirectory(new Set(['echo-b']));
  const a = await AgentPool.start({ databasePath: join(dir.path, 'a.db'), workers: 1, directory: toB, link: toB.link });
  const b = await AgentPool.start({ databasePath: join(dir.path, 'b.db'), workers: 1 });
  toB.peer = b;
  const events: PoolEvent[] = [];
  a.onEvent((e) => events.push(e));
  try {
    await spawnAgent(b, 'echo', 'echo-b');
    await b.stop('echo-b');
    assert.equal(a.route('echo-b', '{}'), 'refused');
    const asker = await a.admit(await initiatorAgent(JSON.stringify({ performative: 'request', receiver: 'echo-b', content: 'hi', reply_with: 'q1' })));
    await a.spawn({ name: 'asker', module: asker.hash });
    a.deliver('asker', JSON.stringify({ performative: 'inform', sender: 'client', receiver: 'asker', content: 'go' }));
    const refused = await until('the refusal', () => events.find((e): e is Extract<PoolEvent, { type: 'undeliverable' }> => e.type === 'undeliverable' && e.to === 'echo-b'));
    assert.match(refused.reason, /the node hosting agent echo-b takes no messages for it now/);
    const store = new SqliteAgentStateStore(join(dir.path, 'a.db'));
    try {
      const failure = await until('the failure reply', () => {
        const v = store.get('asker', new TextEncoder().encode('last'));
        const m = v === undefined ? undefined : (JSON.parse(new TextDecoder().decode(v)) as { performative: string; content: { error: string } });
        return m?.performative === 'failure' ? m : undefined;
      });
      assert.equal(failure.content.error, 'agent_unavailable');
    } finally {
      store.close();
    }
  } finally {
    await a.close();
    await b.close();
    dir.cleanup();
  }
});
