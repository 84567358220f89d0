/**
 * Messages the node itself sends, as FIPA expects: a `failure` back to whoever sent a message that
 * could not be delivered or whose handler crashed, so that a conversation never just hangs.
 * They come from the reserved sender `caxton`, which no agent may take as its name.
 */
import { randomUUID } from 'node:crypto';

export const SYSTEM_SENDER = 'caxton';

/** Machine-readable reasons in a system failure's content. Only append. */
export const SystemError = {
  noSuchAgent: 'no_such_agent',
  mailboxFull: 'mailbox_full',
  agentUnavailable: 'agent_unavailable',
  agentCrashed: 'agent_crashed',
  noRoute: 'no_route',
  circuitOpen: 'circuit_open',
} as const;
export type SystemErrorCode = (typeof SystemError)[keyof typeof SystemError];

/** Replying to these would risk an endless exchange of failures. */
const NEVER_ANSWERED = new Set(['failure', 'not-understood']);

export interface SystemReply {
  readonly to: string;
  readonly json: string;
}

/**
 * The `failure` that tells the sender of `originalJson` why it got nowhere, or undefined when none
 * is due (a failure or not-understood, a system message, no sender, unparsable input).
 */
export function systemFailure(originalJson: string, error: SystemErrorCode, reason: string): SystemReply | undefined {
  let m: Record<string, unknown>;
  try {
    const v: unknown = JSON.parse(originalJson);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    m = v as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const sender = m['sender'];
  if (typeof sender !== 'string' || sender === '' || sender === SYSTEM_SENDER) return undefined;
  if (NEVER_ANSWERED.has(String(m['performative']))) return undefined;
  // An agent answering the node (say, an echo replying to a system failure) gets no answer back.
  if (m['receiver'] === SYSTEM_SENDER) return undefined;
  const reply: Record<string, unknown> = {
    message_id: randomUUID(),
    performative: 'failure',
    sender: SYSTEM_SENDER,
    receiver: sender,
    content: { error, reason, ...(typeof m['message_id'] === 'string' ? { message_id: m['message_id'] } : {}) },
  };
  for (const field of ['conversation_id', 'protocol', 'language', 'ontology', 'trace_context'] as const) {
    if (m[field] !== undefined && m[field] !== null) reply[field] = m[field];
  }
  if (typeof m['reply_with'] === 'string') reply['in_reply_to'] = m['reply_with'];
  return { to: sender, json: JSON.stringify(reply) };
}
