/**
 * The event stream: Server-Sent Events of agent and node events, filtered by type; in a cluster, other
 * nodes' agent lifecycle events too (src/cluster/event-relay.ts). When the node
 * shuts down, every stream gets a last event `shutdown` (whatever its filter) and is ended, so that a
 * watcher never holds the shutdown up and knows why its stream ended.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ApiContext, NodeEvent } from '../context.js';
import { RELAYED_TYPES } from '../../cluster/event-relay.js';
import { AGENT_NAME_PATTERN } from '../../messaging/message-schema.js';

const EventsQuery = Type.Object(
  {
    types: Type.Optional(Type.String({ maxLength: 1000 })),
    agent: Type.Optional(Type.String({ pattern: AGENT_NAME_PATTERN, description: 'only the events of this agent; in a cluster its log lines too when it runs on another node' })),
  },
  { additionalProperties: false },
);

/** A comment line this often keeps proxies and idle-timeouts from closing the stream. */
const KEEPALIVE_MS = 15_000;
/** A client that reads slower than events come is cut off beyond this many buffered bytes. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export function registerEventRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: Static<typeof EventsQuery> }>(
    '/events',
    { config: { permission: 'read' }, schema: { summary: 'Server-Sent Events: agent and node events', querystring: EventsQuery } },
    (req, reply) => {
      const byType = typeFilter(req.query.types);
      const agent = req.query.agent;
      const wanted = (e: NodeEvent) => byType(e.type) && (agent === undefined || e['agent'] === agent);
      // In a cluster, a stream that takes agent lifecycle events gets the other nodes' too, while it is
      // open; one for an agent of another node, that agent's log lines too.
      const unwatch = RELAYED_TYPES.some(byType) ? ctx.watchRemoteEvents?.() : undefined;
      const unwatchLogs = agent !== undefined && byType('agent.log') && ctx.deployments.get(agent) === undefined ? ctx.watchRemoteLogs?.(agent) : undefined;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write(': connected\n\n');
      const send = (e: NodeEvent) => {
        if (e.type === 'system.shutdown') {
          res.end(`event: shutdown\ndata: ${JSON.stringify(e)}\n\n`);
          return;
        }
        if (!wanted(e)) return;
        if (res.writableLength > MAX_BUFFERED_BYTES) {
          res.destroy();
          return;
        }
        res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
      };
      const off = ctx.onEvent(send);
      const keepalive = setInterval(() => res.write(': keep-alive\n\n'), KEEPALIVE_MS);
      keepalive.unref();
      const close = () => {
        off();
        unwatch?.();
        unwatchLogs?.();
        clearInterval(keepalive);
      };
      res.on('close', close);
      res.on('error', close);
    },
  );
}

/** `agent.*,message.undeliverable` → a predicate; empty or missing: everything. */
export function typeFilter(types: string | undefined): (type: string) => boolean {
  const pats = (types ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  if (pats.length === 0 || pats.includes('*')) return () => true;
  return (type) => pats.some((p) => (p.endsWith('*') ? type.startsWith(p.slice(0, -1)) : type === p));
}
