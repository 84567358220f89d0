/**
 * The FIPA-ACL message model: one JSON Schema (TypeBox) that is both the validation schema (ajv in
 * ./validate.ts, fastify for the API, the OpenAPI document) and, through `Static`, the TypeScript type.
 * docs/messages.md is the user-facing description of this file; keep them in step.
 *
 * Unknown top-level fields are allowed (no `additionalProperties: false`): the ABI says agents ignore
 * fields they do not know and the host may add fields, so a newer peer's message must still validate.
 * What bounds a message is its total UTF-8 size (`messaging.max_message_size`), checked by the
 * validator before anything else.
 *
 * Defaults (`priority: normal`, `delivery: at-most-once`) are annotations only: the validator never
 * inserts them (that would make the checked object differ from the text that is forwarded). Read them
 * with `priorityOf` / `deliveryOf`.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { PERFORMATIVES, type Performative } from './performatives.js';

// ---- agent names -----------------------------------------------------------------------------------

/**
 * The agent name rule, shared by messages, deployment, the API and the CLI: 1 to 255 ASCII characters
 * from `A-Z a-z 0-9 _ . : @ -`, the first one a letter, a digit or `_`. Names are case-sensitive.
 *
 * Why: ASCII only (no look-alike or normalization issues; bytes = characters), safe unescaped in URL
 * paths, file names, SQLite keys, metric labels and log lines; no leading `-` (would read as a CLI
 * flag) or `.` (no `.`/`..` path segments). `:` and `@` leave room for qualified forms such as
 * `name@node`. Agent ids (UUIDs) satisfy the same rule, so `receiver` takes either.
 */
export const AGENT_NAME_MAX_LENGTH = 255;
export const AGENT_NAME_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,254}$';
const AGENT_NAME_RE = new RegExp(AGENT_NAME_PATTERN);
/** The name rule in words, for error messages and help texts. */
export const AGENT_NAME_RULE =
  '1 to 255 characters from A-Z a-z 0-9 _ . : @ -, starting with a letter, a digit or _';

export const AgentNameSchema = Type.String({
  minLength: 1,
  maxLength: AGENT_NAME_MAX_LENGTH,
  pattern: AGENT_NAME_PATTERN,
  description: `An agent name or id: ${AGENT_NAME_RULE}.`,
  examples: ['calculator', 'client-1', 'billing.eu@node-2'],
});
export type AgentName = Static<typeof AgentNameSchema>;

export function isAgentName(value: unknown): value is string {
  return typeof value === 'string' && value.length <= AGENT_NAME_MAX_LENGTH && AGENT_NAME_RE.test(value);
}

// ---- enumerations ----------------------------------------------------------------------------------

/** A string enum as `{type: 'string', enum}` (ajv checks it faster than TypeBox's anyOf of consts). */
function StringEnum<const T extends readonly string[]>(values: T, options: Record<string, unknown> = {}): TSchema & { static: T[number] } {
  return Type.Unsafe<T[number]>({ ...options, type: 'string', enum: [...values] });
}

export const PRIORITIES = ['low', 'normal', 'high', 'critical'] as const;
export type Priority = (typeof PRIORITIES)[number];
export const DEFAULT_PRIORITY: Priority = 'normal';

export const DELIVERY_MODES = ['at-most-once', 'at-least-once'] as const;
export type DeliveryMode = (typeof DELIVERY_MODES)[number];
export const DEFAULT_DELIVERY: DeliveryMode = 'at-most-once';

/** Interaction protocols Caxton knows (docs/messages.md). Others are allowed and routed as plain messages. */
export const KNOWN_PROTOCOLS = ['fipa-request', 'fipa-query', 'fipa-contract-net', 'fipa-subscribe'] as const;
export type KnownProtocol = (typeof KNOWN_PROTOCOLS)[number];

/** W3C Trace Context `traceparent`, version 00: version-traceid-parentid-flags in lowercase hex. */
export const TRACEPARENT_PATTERN = '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$';

// ---- the message -----------------------------------------------------------------------------------

/** Optional top-level fields for which `null` means "absent" (the validator removes them). */
export const NULLABLE_FIELDS = [
  'receiver',
  'capability',
  'conversation_id',
  'reply_with',
  'in_reply_to',
  'reply_by',
  'protocol',
  'language',
  'ontology',
  'trace_context',
  'priority',
  'delivery',
  'topic',
] as const;

const Str = (min: number, max: number, description: string): ReturnType<typeof Type.String> =>
  Type.String({ minLength: min, maxLength: max, description });

export const TraceContextSchema = Type.Object(
  {
    traceparent: Type.Optional(Type.String({ pattern: TRACEPARENT_PATTERN, description: 'W3C traceparent, version 00.' })),
    tracestate: Type.Optional(Type.String({ maxLength: 512, description: 'W3C tracestate, passed on unchanged.' })),
  },
  { description: 'W3C Trace Context of the span that sent the message.' },
);

export const AclMessageSchema = Type.Object(
  {
    message_id: Str(1, 128, 'Unique id of this message; the host assigns a UUID v4 when the sender leaves it out.'),
    performative: StringEnum(PERFORMATIVES, {
      description: 'FIPA communicative act, canonical lowercase-hyphenated form (variants are normalized on input).',
    }),
    sender: AgentNameSchema,
    receiver: Type.Optional(AgentNameSchema),
    capability: Type.Optional(Str(1, 128, 'Instead of receiver: a capability; the router picks an agent that registered it.')),
    content: Type.Unknown({
      not: { enum: [null, ''] },
      description: 'Any JSON value except null and the empty string. {} and [] are allowed.',
    }),
    conversation_id: Type.Optional(Str(1, 256, 'Groups the messages of one conversation; messages of a conversation are delivered in order.')),
    reply_with: Type.Optional(Str(1, 256, 'Token the receiver puts into in_reply_to of its reply.')),
    in_reply_to: Type.Optional(Str(1, 256, 'The reply_with of the message this one answers.')),
    reply_by: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'Deadline for a reply: RFC 3339 / ISO-8601 date-time with a timezone (Z or ±hh:mm).',
      }),
    ),
    protocol: Type.Optional(Str(1, 64, `Interaction protocol, e.g. ${KNOWN_PROTOCOLS.join(', ')}.`)),
    language: Type.Optional(Str(1, 64, 'Content language, e.g. json.')),
    ontology: Type.Optional(Str(1, 64, 'Ontology the content refers to.')),
    trace_context: Type.Optional(TraceContextSchema),
    priority: Type.Optional(StringEnum(PRIORITIES, { default: DEFAULT_PRIORITY, description: 'Mailbox priority.' })),
    delivery: Type.Optional(StringEnum(DELIVERY_MODES, { default: DEFAULT_DELIVERY, description: 'Delivery guarantee.' })),
    topic: Type.Optional(Str(1, 256, 'Publish to every subscriber of this topic (instead of receiver or capability).')),
  },
  {
    $id: 'https://caxton.dev/schemas/acl-message.json',
    title: 'AclMessage',
    description: 'A FIPA-ACL message (docs/messages.md). Exactly one address: receiver, capability or topic. Unknown fields are allowed.',
    oneOf: [{ required: ['receiver'] }, { required: ['capability'] }, { required: ['topic'] }],
  },
);

export type AclMessage = Static<typeof AclMessageSchema>;
export type TraceContext = Static<typeof TraceContextSchema>;
export type { Performative };

export function priorityOf(msg: AclMessage): Priority {
  return msg.priority ?? DEFAULT_PRIORITY;
}

export function deliveryOf(msg: AclMessage): DeliveryMode {
  return msg.delivery ?? DEFAULT_DELIVERY;
}

/** The reply deadline in ms since the epoch, or undefined. Validated messages always parse. */
export function replyByMs(msg: AclMessage): number | undefined {
  return msg.reply_by === undefined ? undefined : Date.parse(msg.reply_by);
}
