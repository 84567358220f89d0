/** Messages: send (optionally waiting for the reply), conversations and their traces, analysis. */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { CaxtonError } from '../../errors.js';
import { checkMessageText, checkTextSize, validateMessage } from '../../messaging/validate.js';
import { SYSTEM_SENDER } from '../../messaging/system-messages.js';
import { priorityLevel, type PriorityLevel } from '../../sandbox/worker/mailbox.js';
import { QUEUED, type Router, type Where } from '../../messaging/router.js';
import type { AclMessage } from '../../messaging/message-schema.js';
import type { ApiContext } from '../context.js';
import { cascadeEvents, groupCascades, mergeNodeEvents, MAX_CASCADES, MAX_WINDOW_MS, type CascadeEvent } from '../error-cascade.js';
import { eventFromWire } from '../cluster-operations.js';
import { ReplyWaiters, type ReplyFields } from '../reply-waiters.js';
import { ApiSenders } from '../api-senders.js';
import { MCP_PREFIX } from '../../integrations/mcp/bridge.js';

/** Who the API sends as when the caller does not say. */
export const API_SENDER = 'api';

const SendQuery = Type.Object(
  {
    wait_reply: Type.Optional(Type.Boolean()),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 300_000 })),
  },
  { additionalProperties: false },
);
const ConversationParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) });
const LimitQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })) }, { additionalProperties: false });
const AnalyzeQuery = Type.Object(
  { pattern: Type.String({ minLength: 1, maxLength: 500 }), last_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_WINDOW_MS })) },
  { additionalProperties: false },
);

const CascadeQuery = Type.Object(
  {
    last_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_WINDOW_MS, description: 'the window, ms back from now (default 5 minutes)' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'errors listed per cascade (default 100); the counts cover them all' })),
  },
  { additionalProperties: false },
);

const iso = (ms: number) => new Date(ms).toISOString();

export function registerMessageRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const waiters = new ReplyWaiters();
  // In a cluster every node's API has its own name (api@node-1), so that an agent on another node
  // answering `api` reaches the API that asked, not its own node's (the router routes names that
  // came from another node back to it).
  const clustered = ctx.clusterViews !== undefined;
  const apiName = clustered ? `${API_SENDER}@${ctx.nodeId}` : API_SENDER;
  const senders = new ApiSenders(apiName);
  const names: ApiNames = { senders, routingOwn: false };
  // Messages agents send to the names the API sent as: replies, journalled whether or not a caller
  // still waits for them. Any other name that is no agent is refused by the pool (no_such_agent).
  // While the API routes a message of its own the endpoint takes nothing: the API does not send to its
  // own callers (deliver() refuses such a receiver), so a client cannot pass a message off as another
  // caller's reply.
  ctx.pool.addEndpoint({
    accepts: (name) => !names.routingOwn && senders.has(name),
    deliver: (_from, _to, json) => {
      let m: ReplyFields & { delivery?: unknown; message_id?: unknown } = {};
      try {
        m = JSON.parse(json) as typeof m;
      } catch {
        // an agent's message is JSON (the host checked it); journalled with what is known otherwise
      }
      // An at-least-once reply is delivered once the API takes it (to a waiting caller or, late, to the
      // journal only); acknowledged here, or the relay would redeliver it and dead-letter it unacknowledged.
      if (m.delivery === 'at-least-once' && typeof m.message_id === 'string') ctx.outbox.ack(m.message_id);
      waiters.offer(json, m);
      ctx.journal.recordParsed('reply', m);
    },
  });

  app.post<{ Querystring: Static<typeof SendQuery> }>(
    '/messages',
    // jsonBody 'message': the body parser keeps the text and leaves its checks to the message validator.
    { config: { permission: 'send', jsonBody: 'message' }, schema: { summary: 'Send a FIPA-ACL message (docs/messages.md)', querystring: SendQuery } },
    async (req, reply) => {
      const body = req.body;
      const text = req.jsonText;
      if (typeof body !== 'object' || body === null || Array.isArray(body) || text === undefined) {
        throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', 'body must be a FIPA-ACL message as a JSON object (docs/messages.md)', { field: 'body' });
      }
      const raw = body as Record<string, unknown>;
      // What the parsed body no longer shows (a key twice, nesting too deep), by the agents' check; the
      // size first, in the validator's order (the completed message is measured again below).
      checkTextSize(text, ctx.maxMessageBytes);
      checkMessageText(text, raw);
      const sender = raw['sender'] ?? apiName;
      if (typeof sender === 'string' && (sender === SYSTEM_SENDER || ctx.deployments.get(sender) !== undefined)) {
        throw new CaxtonError('CAXTON_ERR_MESSAGE_SPOOFED', `sender "${sender}" is ${sender === SYSTEM_SENDER ? 'the node itself' : 'an agent of this node'}; the API may not send in its name`, { field: '/sender' });
      }
      // In a cluster a client's name carries the node it sends through: replies find their way back to
      // it, and no client can pass for an agent of another node (which this node cannot check).
      if (clustered && typeof sender === 'string' && sender !== apiName && !sender.endsWith(`@${ctx.nodeId}`)) {
        throw new CaxtonError('CAXTON_ERR_MESSAGE_SPOOFED', `sender "${sender}": in a cluster a client's sender name ends with @${ctx.nodeId}, the node it sends through (e.g. "bob@${ctx.nodeId}"), or is left out (then it is ${apiName})`, { field: '/sender' });
      }
      // mcp:<server> is the node's MCP bridge: a client in its name could forge a tool's answer to an agent.
      if (typeof sender === 'string' && sender.startsWith(MCP_PREFIX)) {
        throw new CaxtonError('CAXTON_ERR_MESSAGE_SPOOFED', `sender "${sender}" names an MCP server of the node (mcp:<server>); the API may not send in its name`, { field: '/sender' });
      }
      // Tools are called by agents only (docs/tools.md): refused here, before the message is stored or
      // routed, so no client-chosen sender ever reaches a bridge (here, or on another node through the
      // outbox). Operators have their own route, checked by role.
      const receiver = raw['receiver'];
      if (typeof receiver === 'string' && receiver.startsWith(MCP_PREFIX)) {
        const server = receiver.slice(MCP_PREFIX.length);
        throw new CaxtonError('CAXTON_ERR_TOOL_FORBIDDEN', `API clients do not send messages to MCP servers (${receiver}): call a tool with POST /api/v1/tools/${server}/<tool> (caxton tools call ${server} <tool> --args '{...}'), which checks the key's role`, { field: '/receiver', server });
      }
      raw['sender'] = sender;
      raw['conversation_id'] ??= randomUUID();
      const wait = req.query.wait_reply === true;
      if (wait) raw['reply_with'] ??= `api-${randomUUID()}`;
      // The text was checked above: no second serialization to measure it.
      const msg = validateMessage(raw, { maxBytes: Infinity, complete: true });
      const json = JSON.stringify(msg);
      checkTextSize(json, ctx.maxMessageBytes);
      // Shedding on the operator's order takes a share of new messages only: a reply (in_reply_to)
      // belongs to a conversation already under way, and refusing it would waste the work done so far.
      // Decided after the checks, so that a bad message still gets its own error and is not counted.
      const shedder = ctx.loadShedding.shedder;
      if (msg.in_reply_to === undefined && shedder.shed()) throw shedder.refusal(ctx.nodeId);
      // `cluster stop --all` froze the node: what it took is finished and acknowledged before it stops.
      if (ctx.stopWithCluster().frozen) throw new CaxtonError('CAXTON_ERR_NODE_PARKED', `node ${ctx.nodeId} is stopping with its cluster (caxton cluster stop --all): it takes no new messages`);
      const t0 = performance.now();
      const waiting = wait ? waiters.wait(msg.sender, msg.reply_with as string, req.query.timeout_ms ?? 30_000) : undefined;
      let deliveredTo: string;
      try {
        deliveredTo = deliver(ctx, names, msg, json);
      } catch (e) {
        waiting?.cancel();
        throw e;
      }
      // Only a name the API really sent as takes replies: remembered once the message went somewhere.
      senders.remember(msg.sender);
      ctx.observeRouting((performance.now() - t0) / 1000);
      ctx.journal.recordParsed('sent', msg, `via API by key ${req.apiKey?.name ?? '?'}`);
      req.log.debug({ message_id: msg.message_id, conversation_id: msg.conversation_id, trace: msg.trace_context?.traceparent }, 'message sent');
      const head = { message_id: msg.message_id, conversation_id: msg.conversation_id, delivered_to: deliveredTo };
      if (waiting === undefined) return reply.status(202).send(head);
      const { reply: answer, interim } = await waiting.promise;
      if (answer === undefined) {
        throw new CaxtonError('CAXTON_ERR_MESSAGE_TIMEOUT', `no reply to message ${msg.message_id} within ${req.query.timeout_ms ?? 30_000} ms (it was delivered)`, {
          message_id: msg.message_id,
          conversation_id: msg.conversation_id,
        });
      }
      return { ...head, reply: JSON.parse(answer) as unknown, interim: interim.map((j) => JSON.parse(j) as unknown) };
    },
  );

  app.get<{ Querystring: Static<typeof LimitQuery> }>('/conversations', { config: { permission: 'read' }, schema: { querystring: LimitQuery } }, async (req) => {
    const all = await ctx.pool.conversations();
    all.sort((a, b) => b.lastActiveAt - a.lastActiveAt);
    return { conversations: all.slice(0, req.query.limit ?? 100).map(conversationView) };
  });

  app.get<{ Params: Static<typeof ConversationParams> }>('/conversations/:id', { config: { permission: 'read' }, schema: { params: ConversationParams } }, async (req) => {
    const id = req.params.id;
    const { info: c, hops } = await ctx.pool.conversation(id);
    const journal = ctx.journal.conversation(id);
    if (c === undefined && journal.length === 0 && hops.length === 0) {
      throw new CaxtonError('CAXTON_ERR_CONVERSATION_NOT_FOUND', `no conversation ${id} is known (idle conversations are forgotten after 5 minutes)`, { conversation_id: id });
    }
    // The journal has what crossed the main thread (from the API, to it, undeliverable, failures); the
    // workers' hop logs have what agents sent each other. A message in both is shown once, as the
    // journal has it (it says more: undeliverable and why).
    const journalled = new Set(journal.map((e) => e.messageId).filter((m) => m !== undefined));
    const rows = [
      ...journal.map((e) => ({ time: e.time, kind: e.kind, from: e.from, to: e.to, performative: e.performative ?? null, message_id: e.messageId ?? null, detail: e.detail ?? null })),
      ...hops.filter((h) => !journalled.has(h.messageId)).map((h) => ({ time: h.time, kind: 'sent', from: h.from, to: h.to, performative: h.performative, message_id: h.messageId, detail: null })),
    ].sort((a, b) => a.time - b.time);
    return {
      conversation: c === undefined ? null : conversationView(c),
      trace: rows.map((r) => ({ ...r, time: iso(r.time) })),
    };
  });

  app.get<{ Querystring: Static<typeof CascadeQuery> }>(
    '/error-cascade',
    { config: { permission: 'read' }, schema: { summary: 'The errors of a window grouped into cascades, each with its root cause (caxton trace --error-cascade)', querystring: CascadeQuery } },
    async (req) => {
      const until = Date.now();
      const since = until - (req.query.last_ms ?? 300_000);
      const limit = req.query.limit ?? 100;
      // In a cluster every node's errors, merged: a cascade that crossed nodes is one cascade, rooted
      // at its earliest error wherever that happened (src/api/error-cascade.ts mergeNodeEvents).
      const ops = ctx.operations;
      const gathered = ops.clustered ? await ops.errors(since) : undefined;
      const events = gathered === undefined
        ? cascadeEvents(ctx.journal.entries(), ctx.logs.since(since), since)
        : mergeNodeEvents(gathered.nodes.map((n) => ({ node: n.node, events: n.events.map((e) => eventFromWire(n.node, e)) })));
      const cascades = groupCascades(events);
      return {
        since: iso(since),
        until: iso(until),
        errors: events.length,
        cascades_total: cascades.length,
        truncated: cascades.length > MAX_CASCADES,
        cascades: cascades.slice(0, MAX_CASCADES).map((c) => ({
          root: cascadeEventView(c.root),
          first_at: iso(c.firstAt),
          last_at: iso(c.lastAt),
          errors: c.events.length,
          agents: c.agents.map((a) => ({ name: a.name, first_at: iso(a.firstAt), errors: a.errors, caused_by: a.causedBy ?? null })),
          affected: c.affected,
          nodes: c.nodes,
          conversations: c.conversations.map((x) => ({ id: x.id, first_at: iso(x.firstAt), errors: x.errors, nodes: x.nodes })),
          events: c.events.slice(0, limit).map(cascadeEventView),
        })),
        ...(gathered === undefined
          ? {}
          : {
              nodes: gathered.nodes.map((n) => n.node),
              missing: gathered.missing,
              // A node with more errors in the window than it sends kept its earliest (the roots).
              dropped: gathered.nodes.filter((n) => n.dropped > 0).map((n) => ({ node: n.node, errors: n.dropped })),
            }),
      };
    },
  );

  app.get<{ Querystring: Static<typeof AnalyzeQuery> }>(
    '/messages/analyze',
    { config: { permission: 'read' }, schema: { summary: 'Group failures, dead letters and log lines matching a pattern', querystring: AnalyzeQuery } },
    async (req) => analyze(ctx, req.query.pattern, req.query.last_ms ?? 3_600_000),
  );
}

/** What deliver() needs to know about the names the API answers for. */
interface ApiNames {
  readonly senders: ApiSenders;
  /** True while the API routes a message of its own: its endpoint then takes nothing. */
  routingOwn: boolean;
}

/**
 * Hands a message to its receiver, capability or topic, through the node's router (here or on another
 * node). Returns where it went; throws when nowhere, before anything was delivered or stored. An
 * at-least-once message is in the outbox before this returns: from then on the relay delivers it,
 * even after a crash, and a remote node's acknowledgement removes it.
 */
function deliver(ctx: ApiContext, names: ApiNames, msg: AclMessage, json: string): string {
  const pool = ctx.pool;
  const router = pool.router;
  const priority = priorityLevel(msg.priority);
  // Topics are at-most-once (docs/messages.md): the outbox redelivers to one receiver or provider.
  if (msg.topic !== undefined) return `topic:${router.publish(msg.topic, json, '', priority)}`;
  const reliableId = msg.delivery === 'at-least-once' ? msg.message_id : undefined;
  if (msg.capability !== undefined) {
    const capability = msg.capability;
    if (reliableId === undefined) {
      const to = router.toCapability(capability, json, priority, 0, msg.sender);
      if (to === undefined) throw undeliverable(`no running agent provides capability ${JSON.stringify(capability)}`);
      return placeOf(to);
    }
    // As an agent's at-least-once send to a capability: kept with receiver '', which the relay
    // redelivers to a provider of the capability the message names.
    if (!router.provided(capability)) throw undeliverable(`no agent provides capability ${JSON.stringify(capability)}`);
    ctx.outbox.add(reliableId, '', json, Date.now() + ctx.redeliverAfterMs);
    const to = router.toCapability(capability, json, priority, 0, msg.sender);
    return to === undefined ? 'local' : placeOf(to); // refused now (busy, full): the relay retries
  }
  const to = msg.receiver as string;
  const ours = pool.agent(to) !== undefined || ctx.deployments.get(to) !== undefined;
  if (reliableId !== undefined) {
    // The API's own names first: the directory computes an owner for any name.
    if (!ours) {
      const own = ownName(names, to);
      if (own !== undefined) throw own;
      if (!router.exists(to)) throw undeliverable(`no agent named ${to}`);
    }
    ctx.outbox.add(reliableId, to, json, Date.now() + ctx.redeliverAfterMs);
    // Refused now (stopped, full, its node unreachable): the relay retries.
    const where = routeAsApi(names, router, to, json, priority, msg.sender);
    return where === 'remote' ? 'remote' : where === 'held' ? QUEUED : 'local';
  }
  if (pool.deliver(to, json, priority)) return 'local';
  if (ours) {
    const state = pool.agent(to)?.state ?? 'stopped';
    throw new CaxtonError('CAXTON_ERR_AGENT_STATE', `agent ${to} takes no messages now: it is ${state}`, { agent: to, state });
  }
  // Another node's agent, if the directory knows one; never the API's own endpoint.
  const own = ownName(names, to);
  if (own !== undefined) throw own;
  const where = routeAsApi(names, router, to, json, priority, msg.sender);
  if (where === 'remote') return 'remote';
  if (where === 'external') return to; // a receiver of the node that is no agent: an MCP server (mcp:<name>)
  if (where === 'held') return QUEUED;
  if (where === 'refused') {
    throw new CaxtonError('CAXTON_ERR_AGENT_STATE', `agent ${to} takes no messages now: the node hosting it refused the message`, { agent: to });
  }
  throw undeliverable(`no agent named ${to}`);
}

/** Routes by name while the API's own endpoint takes nothing (the API does not send to its own callers). */
function routeAsApi(names: ApiNames, router: Router, to: string, json: string, priority: PriorityLevel, from: string): Where {
  names.routingOwn = true;
  try {
    return router.route(to, json, priority, from);
  } finally {
    names.routingOwn = false;
  }
}

/** `delivered_to` for a capability: the local agent's name, or `remote` when another node took it. */
function placeOf(to: string): string {
  return to.startsWith('remote:') ? 'remote' : to;
}

/** The refusal of a receiver that is no agent but a name the API itself answers for, if `to` is one. */
function ownName(names: ApiNames, to: string): CaxtonError | undefined {
  if (!names.senders.has(to)) return undefined;
  const whose = to === names.senders.permanent ? 'the API\'s own name' : 'a name API clients send as';
  return new CaxtonError(
    'CAXTON_ERR_MESSAGE_INVALID',
    `/receiver: ${JSON.stringify(to)} is not an agent but ${whose}; the API does not send messages to its own callers (they get the replies agents send to them): address an agent, a capability or a topic`,
    { field: '/receiver' },
  );
}

function cascadeEventView(e: CascadeEvent) {
  return {
    time: iso(e.time),
    kind: e.kind,
    agent: e.agent === '' ? null : e.agent,
    peer: e.peer ?? null,
    detail: e.detail,
    message_id: e.messageId ?? null,
    conversation_id: e.conversationId ?? null,
    ...(e.node === undefined ? {} : { node: e.node }),
  };
}

function undeliverable(why: string): CaxtonError {
  return new CaxtonError('CAXTON_ERR_MESSAGE_UNDELIVERABLE', why);
}

function conversationView(c: { id: string; protocol: string | undefined; participants: readonly string[]; messages: number; startedAt: number; lastActiveAt: number; lastPerformative: string | undefined }) {
  return {
    id: c.id,
    protocol: c.protocol ?? null,
    participants: c.participants,
    messages: c.messages,
    started_at: iso(c.startedAt),
    last_active_at: iso(c.lastActiveAt),
    last_performative: c.lastPerformative ?? null,
  };
}

interface Group {
  kind: string;
  agent: string;
  reason: string;
  count: number;
  last_at: number;
}

/** Matches `pattern` against failures, undeliverable messages, dead letters and agent log lines of the window. */
function analyze(ctx: ApiContext, pattern: string, lastMs: number) {
  let re: RegExp;
  try {
    re = new RegExp(pattern, 'i');
  } catch (e) {
    throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', `query.pattern is not a valid regular expression: ${(e as Error).message}`, { field: 'query.pattern' });
  }
  const since = Date.now() - lastMs;
  const groups = new Map<string, Group>();
  const hit = (kind: string, agent: string, reason: string, at: number) => {
    if (!re.test(reason) && !re.test(kind)) return;
    // Numbers and ids vary per occurrence; grouping on them would give one group per line.
    const shape = reason.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/gi, '<id>').replace(/\d+/g, 'N').slice(0, 200);
    const key = `${kind}\n${agent}\n${shape}`;
    const g = groups.get(key) ?? { kind, agent, reason: shape, count: 0, last_at: 0 };
    g.count++;
    g.last_at = Math.max(g.last_at, at);
    groups.set(key, g);
  };
  for (const e of ctx.journal.since(since)) {
    if (e.kind === 'sent' || e.kind === 'reply') continue;
    hit(e.kind, e.kind === 'failure' ? e.to : e.to || e.from, e.detail ?? '', e.time);
  }
  for (const l of ctx.deadLetters.list({}, 10_000)) if (l.createdAt >= since) hit('dead_letter', l.receiver, l.reason, l.createdAt);
  for (const l of ctx.logs.since(since)) if (l.level === 'warn' || l.level === 'error') hit(`log.${l.level}`, l.agent, l.text, l.time);
  const list = [...groups.values()].sort((a, b) => b.count - a.count);
  return { pattern, since: iso(since), total: list.reduce((n, g) => n + g.count, 0), groups: list.map((g) => ({ ...g, last_at: iso(g.last_at) })) };
}
