/**
 * Stopping a node: open event streams end with a last `shutdown` event instead of holding the stop up,
 * and the agents finish what they are sending each other before any of them stops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { CaxtonNode } from '../../src/node.js';
import { createLogger } from '../../src/observability/logger.js';
import { spawnAgent } from '../helpers/agents.js';
import { initiatorAgent } from '../helpers/wat-agents.js';
import { api, startServer } from '../helpers/server.js';
import { spawn } from 'node:child_process';
import { DeadLetterStore, openDatabase, SqliteAgentStateStore } from '../../src/storage/index.js';
import { wat } from '../helpers/wat.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { caxtonArgs } from '../helpers/caxton-command.js';

const quiet = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) });

/** Logs one line in agent_init, so that `agent logs` has a tail to print. */
function talkerAgent(): Promise<Uint8Array> {
  return wat(`(module
    (import "caxton" "log" (func $log (param i32 i32 i32)))
    (memory (export "memory") 1)
    (data (i32.const 0) "hello from init")
    (func (export "caxton_abi_version") (result i32) i32.const 1)
    (func (export "caxton_alloc") (param i32) (result i32) i32.const 8192)
    (func (export "agent_init") (param i32 i32) (result i32) (call $log (i32.const 2) (i32.const 0) (i32.const 15)) (i32.const 0))
    (func (export "handle_message") (param i32 i32) (result i32) (i32.const 0)))`);
}

test('shutdown - with event streams open (a raw SSE client and `caxton agent logs --follow`), SIGTERM ends them with a shutdown event and the node exits', async () => {
  const server = await startServer();
  try {
    const ac = new AbortController();
    const res = await fetch(`${server.apiUrl}/api/v1/events?types=cluster.*`, { headers: { authorization: `Bearer ${server.adminKey}` }, signal: ac.signal });
    assert.equal(res.status, 200);
    let text = '';
    const reading = (async () => {
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        text += decoder.decode(value, { stream: true });
      }
    })();
    // `caxton agent logs --follow` subscribes, then prints the tail: once the tail is out, it listens.
    assert.equal((await api(server, 'POST', '/agents', { name: 'talker', module: Buffer.from(await talkerAgent()).toString('base64') })).status, 201);
    const follower = spawn(process.execPath, [...caxtonArgs, 'agent', 'logs', 'talker', '--follow', '--api-url', server.apiUrl], {
      env: { ...process.env, CAXTON_DATA_DIR: server.dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    follower.stdout.on('data', (d: Buffer) => (out += d.toString()));
    follower.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const followerExit = new Promise<number>((r) => follower.once('exit', (c) => r(c ?? -1)));
    await until('the follower printed the tail', () => out.includes('hello from init'), 30_000);
    const t0 = Date.now();
    // A stop held up by a stream never exits; 30 s is far beyond a bounded stop on any machine.
    const code = await Promise.race([server.stop(), new Promise<string>((r) => setTimeout(() => r('still running after 30 s'), 30_000).unref())]);
    assert.equal(code, 0, server.logs().slice(-3000));
    await reading;
    assert.match(text, /event: shutdown\ndata: \{[^\n]*"type":"system.shutdown"/, `the stream's last event: ${text.slice(-500)}`);
    assert.ok(text.trimEnd().endsWith('}'), 'the shutdown event is the last thing on the stream');
    assert.equal(await followerExit, 1, err);
    assert.match(err, /is shutting down: the event stream ended/);
    ac.abort();
    assert.ok(Date.now() - t0 < 30_000);
  } finally {
    server.cleanup();
  }
});

for (const workers of [1, 2]) {
  test(`shutdown - agents finish the messages they send each other before any stops: a reply to an agent is never refused because it stopped first (${workers} worker${workers > 1 ? 's, one agent on each' : ''})`, async () => {
    const dir = tempDir();
    const node = await CaxtonNode.start({ dataDir: dir.path, nodeId: 't', logger: quiet, workers });
    await spawnAgent(node.pool, 'echo', 'echo');
    const init = await node.pool.admit(await initiatorAgent(JSON.stringify({ performative: 'request', receiver: 'echo', content: 'last words', reply_with: 'r1' })));
    await node.pool.spawn({ name: 'init', module: init.hash });
    if (workers > 1) assert.notEqual(node.pool.agent('init')?.worker, node.pool.agent('echo')?.worker, 'the request and the reply cross between workers');
    // The stop begins in the same tick: init has not even handled "go" yet, and echo has nothing queued.
    node.pool.deliver('init', JSON.stringify({ performative: 'inform', sender: 'client', receiver: 'init', content: 'go' }));
    await node.stop();
    const db = openDatabase(node.databasePath);
    const letters = new DeadLetterStore(db).count({});
    db.close();
    const store = new SqliteAgentStateStore(node.databasePath);
    try {
      const last = store.get('init', new TextEncoder().encode('last'));
      assert.ok(last !== undefined);
      const m = JSON.parse(new TextDecoder().decode(last)) as { performative: string; sender: string; in_reply_to?: string };
      assert.deepEqual([m.performative, m.sender, m.in_reply_to], ['inform', 'echo', 'r1'], 'init got the echo before it stopped');
    } finally {
      store.close();
      dir.cleanup();
    }
    assert.equal(letters, 0, 'nothing was dead-lettered');
  });
}
