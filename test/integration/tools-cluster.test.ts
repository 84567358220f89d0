/**
 * MCP servers in a cluster: node-1 runs server-everything (as `tools`), node-2 none. An agent on node-2 calls
 * mcp:tools and is served by node-1's bridge (announced in node-1's `mcp` tag); node-1 audits the
 * call as that agent. An API client on node-2 is refused by node-2's API (never stored or routed); a server no
 * node runs is no_such_agent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServerCluster } from '../helpers/server-cluster.js';
import { api } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { EVERYTHING_BIN } from '../helpers/mcp/servers.js';
import { evenly, ownerOf } from '../../src/cluster/placement/rendezvous.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('tools-cluster - an agent on a node without the server is served by the node that has it', async (t) => {
  const files = tempDir('caxton-tools-cluster-');
  t.after(() => files.cleanup());
  const config = join(files.path, 'node-1.yaml');
  writeFileSync(config, `integrations:\n  mcp:\n    servers:\n      - name: tools\n        transport: stdio\n        command: ${EVERYTHING_BIN}\n        allow: ["remote-*"]\n`);
  // The directory's rendezvous owner of the name mcp:tools is node-2, the node without the server: only
  // the `mcp` tag can send the call to node-1 (the directory alone would answer no_such_agent).
  assert.equal(ownerOf('mcp:tools', evenly(['node-1', 'node-2'])), 'node-2');
  const cluster = await startServerCluster({ size: 2, base: 200, nodeArgs: (i) => (i === 0 ? ['--config', config] : []) });
  t.after(() => cluster.stop());
  const [n1, n2] = cluster.nodes as [NonNullable<(typeof cluster.nodes)[0]>, NonNullable<(typeof cluster.nodes)[0]>];
  const module = readFileSync(join(root, 'build', 'agents', 'tool-user.wasm')).toString('base64');
  const deployed = await api(n2, 'POST', '/agents', { name: 'remote-caller', module, target_node: 'node-2' });
  assert.equal(deployed.status, 201, JSON.stringify(deployed.body));

  const ask = (content: unknown) => api(n2, 'POST', '/messages?wait_reply=true&timeout_ms=20000', { performative: 'request', receiver: 'remote-caller', content });
  // Until node-2 has heard node-1's tags (gossip) and node-1's server is up.
  let answer: { performative: string; content: Record<string, unknown> } | undefined;
  await until('the call across nodes is answered', async () => {
    const r = await ask({ server: 'tools', tool: 'echo', arguments: { message: 'across' } });
    answer = r.body.reply;
    return answer?.performative === 'inform';
  }, 30_000);
  assert.equal(answer?.content['text'], 'Echo: across');
  assert.equal(answer?.content['server'], 'tools');

  // Node-1's bridge audited it, as the agent on node-2.
  const audit = await api(n1, 'GET', '/audit?action=tool.call');
  const entry = (audit.body.entries as { actor: string; actor_kind: string; target: string; result: string }[]).find((e) => e.result === 'ok');
  assert.deepEqual([entry?.actor, entry?.actor_kind, entry?.target], ['remote-caller', 'agent', 'tools/echo']);
  // Node-2 runs no MCP server itself.
  assert.deepEqual((await api(n2, 'GET', '/tools')).body.servers, []);

  // An API client of node-2 is no agent: refused by node-2's API before anything is stored or routed,
  // whatever name it chose, at most or at least once (an outbox row would be redelivered to node-1).
  for (const delivery of ['at-most-once', 'at-least-once']) {
    const direct = await api(n2, 'POST', '/messages', { performative: 'request', delivery, sender: 'remote-fake@node-2', receiver: 'mcp:tools', content: { tool: 'echo', arguments: { message: 'x' } } });
    assert.equal(direct.status, 403, JSON.stringify(direct.body));
    assert.equal(direct.body.error.code, 'CAXTON_ERR_TOOL_FORBIDDEN');
    assert.match(direct.body.error.message, /POST \/api\/v1\/tools\/tools\/<tool>/);
  }

  // A server no node runs: the node answers no_such_agent, at once.
  const nowhere = await ask({ server: 'nothing', tool: 'echo', arguments: {} });
  assert.equal(nowhere.body.reply?.performative, 'failure', JSON.stringify(nowhere.body));
  assert.equal(nowhere.body.reply.content.error, 'no_such_agent');
});
