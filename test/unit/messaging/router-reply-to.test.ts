/**
 * The "no agent" marker (replyTo) the router hands the remote link: a receiving node trusts the
 * sender of a message with replyTo '' as an agent of the node that handed it over (the MCP bridge's
 * allow list rests on it, docs/tools.md). A message from an API caller must keep its caller's name as
 * replyTo on every path: the outbox relay's redelivery and a second hop. The link here records what
 * it is given: what the router decides is what is tested.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router, type LocalAgents } from '../../../src/messaging/router.js';
import { Registry } from '../../../src/messaging/registry.js';
import type { Directory, RemoteLink } from '../../../src/messaging/directory.js';
import type { PriorityLevel } from '../../../src/sandbox/worker/mailbox.js';

interface Sent {
  node: string;
  to: string;
  hops: number;
  replyTo: string;
}

function routerWith(agents: readonly string[], serving: Record<string, string[]>): { router: Router; sent: Sent[] } {
  const local: LocalAgents = {
    deliver: () => false, // the local agents take nothing now: everything here goes remote
    stateOf: (name) => (agents.includes(name) ? 'running' : undefined),
    undeliverable: () => {},
    warn: () => {},
  };
  const registry = new Registry('round-robin', { deliver: () => false, accepting: () => false, queued: async () => [] });
  const sent: Sent[] = [];
  const link: RemoteLink = {
    deliver: (node, to, _json, _priority, hops, replyTo = '') => {
      sent.push({ node, to, hops, replyTo });
      return true;
    },
  };
  const directory: Directory = { nodeFor: (name) => (name.startsWith('far-') ? 'node-3' : undefined), capabilityNodes: () => [], topicNodes: () => [] };
  const router = new Router(local, registry, { directory, link });
  router.routeEndpointsTo((name) => serving[name]);
  return { router, sent };
}

const request = (sender: string) => JSON.stringify({ message_id: 'm-1', performative: 'request', sender, receiver: 'mcp:tools', delivery: 'at-least-once', content: { tool: 'echo', arguments: {} } });

test('router - a redelivered message keeps its stored sender: an API caller stays "no agent" on the other node', () => {
  const { router, sent } = routerWith(['caller'], { 'mcp:tools': ['node-2'] });
  assert.equal(router.redelivery.deliver('mcp:tools', request('report-x@node-1')), true);
  assert.deepEqual(sent.at(-1), { node: 'node-2', to: 'mcp:tools', hops: 1, replyTo: 'report-x@node-1' });
  // An agent of this node's own stored message: '' (the other node trusts its worker's stamp).
  assert.equal(router.redelivery.deliver('mcp:tools', request('caller')), true);
  assert.equal(sent.at(-1)?.replyTo, '');
});

test('router - a message forwarded a second time keeps the replyTo it arrived with', () => {
  const { router, sent } = routerWith([], { 'mcp:tools': ['node-3'] });
  router.fromNode('mcp:tools', request('report-x@node-1'), 1 as PriorityLevel, 1, 'node-1', 'report-x@node-1');
  assert.deepEqual(sent.at(-1), { node: 'node-3', to: 'mcp:tools', hops: 2, replyTo: 'report-x@node-1' });
  // By name through the directory too, and an agent's message (replyTo '') stays ''.
  router.fromNode('far-agent', request('report-x@node-1'), 1 as PriorityLevel, 1, 'node-1', 'report-x@node-1');
  assert.deepEqual(sent.at(-1), { node: 'node-3', to: 'far-agent', hops: 2, replyTo: 'report-x@node-1' });
  router.fromNode('far-agent', request('caller'), 1 as PriorityLevel, 1, 'node-1', '');
  assert.equal(sent.at(-1)?.replyTo, '');
});
