import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ToolAcl, globToRegExp } from '../../../src/integrations/mcp/acl.js';
import { ServerLimits, TokenBucket } from '../../../src/integrations/mcp/limits.js';
import { SecretMask } from '../../../src/integrations/mcp/secrets.js';
import { mcpServers } from '../../helpers/mcp/servers.js';
import { McpBridge } from '../../../src/integrations/mcp/bridge.js';
import { boundedFetch } from '../../../src/integrations/mcp/bounded-fetch.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';

test('mcp acl - name patterns with * and ?, capability entries, nothing else', () => {
  const acl = new ToolAcl(['billing-*', 'exact', 'a?c', 'capability:weather.read']);
  const none = () => [];
  assert.ok(acl.allows('billing-eu', none));
  assert.ok(acl.allows('billing-', none));
  assert.ok(acl.allows('exact', none));
  assert.ok(!acl.allows('exact-not', none));
  assert.ok(acl.allows('abc', none));
  assert.ok(!acl.allows('abbc', none));
  // Regex characters in a pattern are literal: "." is a dot, not any character.
  assert.ok(!new ToolAcl(['a.b']).allows('axb', none));
  assert.ok(new ToolAcl(['a.b']).allows('a.b', none));
  assert.ok(acl.allows('someone', () => ['other', 'weather.read']));
  assert.ok(!acl.allows('someone', () => ['weather']));
  // A capability named like a pattern is no pattern, and an agent named capability:x is matched by name only.
  assert.ok(!new ToolAcl([]).allows('anyone', () => ['x']));
  assert.ok(new ToolAcl(['*']).allows('capability:x', none));
  assert.equal(globToRegExp('a*b?').source, '^a.*b.$');
});

test('mcp limits - token bucket: burst at once, then the rate; 0 is no limit', () => {
  const b = new TokenBucket(2, 3, 0);
  assert.deepEqual([b.take(0), b.take(0), b.take(0)], [0, 0, 0]);
  assert.equal(b.take(0), 500);
  assert.equal(b.take(400), 100);
  assert.equal(b.take(500), 0);
  const free = new TokenBucket(0, 1, 0);
  for (let i = 0; i < 100; i++) assert.equal(free.take(0), 0);
});

test('mcp limits - server and per-agent concurrency; refusals reserve nothing; release gives slots back', () => {
  const [o] = mcpServers('- { name: s, transport: stdio, command: x, max_concurrent: 3, max_concurrent_per_agent: 2, rate_limit: { calls_per_second: 0, agent_calls_per_second: 0 } }');
  const l = new ServerLimits(o!, 0);
  assert.equal(l.take('a', 0), undefined);
  assert.equal(l.take('a', 0), undefined);
  assert.deepEqual(l.take('a', 0), { kind: 'busy', reason: 'a has 2 calls in flight on MCP server s, its max_concurrent_per_agent' });
  assert.equal(l.take('b', 0), undefined);
  assert.deepEqual(l.take('c', 0), { kind: 'busy', reason: 'MCP server s has 3 calls in flight, its max_concurrent' });
  l.release('a');
  assert.equal(l.take('c', 0), undefined);
  assert.equal(l.inFlight, 3);
});

test('mcp limits - rate: the agent\'s bucket, then the server\'s, with the wait', () => {
  const [o] = mcpServers('- { name: s, transport: stdio, command: x, max_concurrent: 100, max_concurrent_per_agent: 100, rate_limit: { calls_per_second: 10, burst: 3, agent_calls_per_second: 1, agent_burst: 2 } }');
  const l = new ServerLimits(o!, 0);
  assert.equal(l.take('a', 0), undefined);
  assert.equal(l.take('a', 0), undefined);
  const r = l.take('a', 0);
  assert.equal(r?.kind, 'rate');
  assert.equal(r?.kind === 'rate' ? r.retryInMs : 0, 1000);
  assert.equal(l.take('b', 0), undefined);
  const s = l.take('c', 0);
  assert.match(s?.reason ?? '', /MCP server s used up its calls \(10\/s, burst 3\)/);
  // The server's refusal did not spend c's own tokens: once the server has one again, c has its burst of 2.
  assert.equal(l.take('c', 300), undefined);
  assert.equal(l.take('c', 300), undefined);
});

test('mcp secrets - env and header values are masked in any text, a bearer token alone too; short values are not searched', () => {
  const m = new SecretMask({ API_KEY: 'sk-abcdef123', DEBUG: '1' }, { Authorization: 'Bearer tok-999999' });
  assert.equal(m.mask('key sk-abcdef123 and header Bearer tok-999999, token tok-999999'), 'key *** and header ***, token ***');
  assert.equal(m.mask('level 1 debug'), 'level 1 debug');
});

test('mcp cluster - the mcp tag carries sorted names up to its bound; other nodes serve mcp:<server> by their tag', async () => {
  const { mcpTag, mcpServersOf, nodeTags } = await import('../../../src/cluster/node-tags.js');
  const { mcpRoutes } = await import('../../../src/integrations/mcp/cluster-routes.js');
  assert.deepEqual(mcpTag(['memory', 'everything', 'memory']), { value: 'everything,memory', left: [] });
  const long = Array.from({ length: 10 }, (_, i) => `server-${i}-${'x'.repeat(20)}`);
  const t = mcpTag(long);
  assert.ok(t.value.length <= 160);
  assert.equal(t.value.split(',').length + t.left.length, 10);
  assert.equal(nodeTags({ version: '1', agents: 0, cpuPercent: 0, rssBytes: 0, capabilities: [] })['mcp'], undefined);
  assert.deepEqual(mcpServersOf(nodeTags({ version: '1', agents: 0, cpuPercent: 0, rssBytes: 0, capabilities: [], mcpServers: ['b', 'a'] })), ['a', 'b']);
  const members: { name: string; status: string; tags: Record<string, string> }[] = [
    { name: 'self', status: 'alive', tags: { mcp: 'web' } },
    { name: 'n2', status: 'alive', tags: { mcp: 'db,web' } },
    { name: 'n3', status: 'failed', tags: { mcp: 'web' } },
    { name: 'n4', status: 'alive', tags: {} },
  ];
  const lookup = mcpRoutes(() => members, 'self');
  assert.deepEqual(lookup('mcp:web'), ['n2']);
  assert.deepEqual(lookup('mcp:none'), []);
  assert.equal(lookup('web'), undefined, 'an agent name is not the lookup\'s business');
});

test('mcp bridge - an answer the routing fails to send is logged, never thrown out of the bridge (an immediate refusal and a call that ran)', async () => {
  const [o] = mcpServers('- { name: s, transport: stdio, command: x, allow: ["agent-*"] }');
  const warnings: string[] = [];
  const logger = { info() {}, debug() {}, warn: (_o: object, msg: string) => void warnings.push(msg), child: () => logger };
  const bridge = new McpBridge({
    servers: [o!],
    logger,
    maxMessageBytes: 1 << 20,
    routing: {
      send: () => {
        throw new Error('the router is gone');
      },
      isLocalAgent: (name) => name.startsWith('agent-'),
      capabilitiesOf: () => [],
      ack: () => {},
      journal: () => {},
    },
  });
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => void uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  try {
    const msg = (sender: string, extra: Record<string, unknown> = {}) => JSON.stringify({ message_id: `m-${sender}`, performative: 'request', sender, receiver: 'mcp:s', content: { tool: 't', arguments: {} }, ...extra });
    // Refused at once (no agent), and a call whose reply_by already passed (answered without the server).
    bridge.endpoint.deliver('', 'mcp:s', msg('outsider'), undefined);
    bridge.endpoint.deliver('agent-1', 'mcp:s', msg('agent-1', { reply_by: new Date(Date.now() - 1000).toISOString() }), undefined);
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  }
  assert.deepEqual(uncaught, []);
  assert.deepEqual(warnings, ['MCP bridge: a message could not be handled', 'MCP bridge: a message could not be handled']);
});

/** A real HTTP server on loopback that answers every request with `parts`, written one by one. */
async function streamingServer(contentType: string, parts: readonly string[]): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': contentType });
    void (async () => {
      for (const p of parts) {
        // Let each part go out as its own chunk (an event split across reads included).
        if (!res.write(p)) await once(res, 'drain');
        await new Promise((r) => setImmediate(r));
      }
      res.end();
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/mcp`, close: () => new Promise((r) => server.close(() => r())) };
}

async function readAll(fetchLike: FetchLike, url: string): Promise<string> {
  const res = await fetchLike(url);
  return await res.text();
}

test('mcp bounded fetch - an SSE stream is bounded per event: many small events past the bound in total pass, one event past it is refused', async () => {
  const bound = 4096;
  // 600 events of ~90 bytes (54 KB in all, 13 times the bound), with LF, CRLF and CR line ends, and
  // events split across writes.
  const events: string[] = [];
  for (let i = 0; i < 600; i++) {
    const eol = ['\n', '\r\n', '\r'][i % 3]!;
    const ev = `event: message${eol}id: ${i}${eol}data: {"jsonrpc":"2.0","method":"notifications/message","params":{"n":${i}}}${eol}${eol}`;
    events.push(ev.slice(0, 20), ev.slice(20));
  }
  const floods: string[] = [];
  const small = await streamingServer('text/event-stream', events);
  try {
    const text = await readAll(boundedFetch(bound, (r) => floods.push(r)), small.url);
    assert.ok(text.length > 10 * bound, `the whole stream was read: ${text.length} bytes`);
    assert.equal(text.match(/^data: /gm)?.length, 600);
    assert.equal(floods.length, 0, floods.join('; '));
  } finally {
    await small.close();
  }
  // One event of many lines, each short, without the blank line that would end it.
  const line = `data: ${'x'.repeat(100)}\n`;
  const big = await streamingServer('text/event-stream; charset=utf-8', ['event: message\n', ...Array.from({ length: 60 }, () => line), '\n']);
  try {
    await assert.rejects(readAll(boundedFetch(bound, (r) => floods.push(r)), big.url), /an event of more than 4096 bytes on an SSE stream/);
    assert.deepEqual(floods, ['it sent an event of more than 4096 bytes on an SSE stream']);
  } finally {
    await big.close();
  }
});

test('mcp bounded fetch - a body that is no SSE stream is bounded in total', async () => {
  const floods: string[] = [];
  const chunks = (n: number) => Array.from({ length: n }, () => 'x'.repeat(1000));
  const under = await streamingServer('application/json', chunks(4));
  try {
    assert.equal((await readAll(boundedFetch(4096, (r) => floods.push(r)), under.url)).length, 4000);
  } finally {
    await under.close();
  }
  // Blank lines mean nothing outside SSE: they do not reset the count.
  const over = await streamingServer('application/json', [...chunks(3), '\n\n', ...chunks(2)]);
  try {
    await assert.rejects(readAll(boundedFetch(4096, (r) => floods.push(r)), over.url), /a response of more than 4096 bytes/);
    assert.deepEqual(floods, ['it sent a response of more than 4096 bytes']);
  } finally {
    await over.close();
  }
});
