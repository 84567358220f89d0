/**
 * The node's MCP servers (docs/tools.md): `GET /tools` (`caxton tools list`) and `POST
 * /tools/:server/:tool` (`caxton tools call`, operators testing a tool). There is deliberately no route
 * that adds, changes or removes a server: servers come from the node's config file only, so that no
 * API key can make the node run a command.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { CaxtonError } from '../../errors.js';
import type { ServerView } from '../../integrations/mcp/index.js';
import type { ApiContext } from '../context.js';
import { actorOf } from '../audit-hook.js';

const ListQuery = Type.Object({ server: Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: 'only this server' })) }, { additionalProperties: false });
const CallParams = Type.Object({
  server: Type.String({ minLength: 1, maxLength: 63, description: 'an MCP server of the node (integrations.mcp.servers[].name)' }),
  tool: Type.String({ minLength: 1, maxLength: 256, description: 'one of its tools' }),
});
const CallBody = Type.Object(
  { arguments: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'the tool\'s arguments, as its input schema says (default {})' })) },
  { additionalProperties: false },
);

export function registerToolRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/tools',
    { config: { permission: 'read' }, schema: { summary: 'The node\'s MCP servers: state, tools, who may use them', querystring: ListQuery } },
    async (req) => {
      const bridge = ctx.tools();
      if (bridge === undefined) {
        if (req.query.server !== undefined) throw noServer(req.query.server, ctx.nodeId);
        return { node: ctx.nodeId, servers: [] };
      }
      return { node: ctx.nodeId, servers: bridge.list(req.query.server).map(serverView) };
    },
  );

  app.post<{ Params: Static<typeof CallParams>; Body: Static<typeof CallBody> }>(
    '/tools/:server/:tool',
    { config: { permission: 'control' }, schema: { summary: 'Call a tool as an operator (audited as tool.call; the allow list does not apply, the limits and timeout do)', params: CallParams, body: CallBody } },
    async (req) => {
      const bridge = ctx.tools();
      if (bridge === undefined) throw noServer(req.params.server, ctx.nodeId);
      const who = actorOf(req, ctx.keys);
      const kind = who.actorKind === 'key' || who.actorKind === 'cert' ? who.actorKind : 'anonymous';
      const caller = { name: who.actor, kind, ...(who.actorId === null ? {} : { id: who.actorId }) } as const;
      const result = await bridge.callAsOperator(req.params.server, req.params.tool, req.body?.arguments ?? {}, caller);
      return { node: ctx.nodeId, server: req.params.server, tool: req.params.tool, result };
    },
  );
}

function noServer(server: string, node: string): CaxtonError {
  return new CaxtonError('CAXTON_ERR_TOOL_NOT_FOUND', `no MCP server named ${server} on node ${node} (its configuration lists none: integrations.mcp.servers)`, { server });
}

function serverView(s: ServerView) {
  return {
    name: s.name,
    transport: s.transport,
    state: s.state,
    tools: s.tools.map((t) => ({ name: t.name, description: t.description ?? null, input_schema: t.inputSchema })),
    allow: s.allow,
    in_flight: s.inFlight,
    restarts: s.restarts,
    last_error: s.lastError === '' ? null : s.lastError,
    pid: s.pid ?? null,
    server_info: s.serverInfo ?? null,
  };
}
