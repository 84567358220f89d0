/**
 * Checks a message an agent hands to the host (`caxton.send`, `caxton.timer_set`) and completes it.
 * The agent may omit `sender` and `message_id`; the host fills them in. A `sender` naming anyone else
 * is refused: an agent cannot speak for another.
 */
import { randomUUID } from 'node:crypto';
import { HostError } from './abi.js';
import { normalizePerformative } from '../messaging/performatives.js';

export interface OutgoingMessage {
  performative: string;
  sender: string;
  receiver?: string;
  capability?: string;
  message_id: string;
  content?: unknown;
  conversation_id?: string;
  reply_with?: string;
  in_reply_to?: string;
  [field: string]: unknown;
}

export type Prepared = { readonly json: string; readonly msg: OutgoingMessage } | { readonly error: number; readonly reason: string };

export function prepareOutgoing(self: string, text: string): Prepared {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return { error: HostError.INVALID_MESSAGE, reason: `message is not JSON: ${(e as Error).message}` };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { error: HostError.INVALID_MESSAGE, reason: 'message must be a JSON object' };
  }
  const msg = parsed as Record<string, unknown>;
  // Fields the host adds. When they are simply absent (the common case: SDKs leave them to the host),
  // they are spliced in front of the agent's own text instead of re-serializing the whole message.
  let prefix = '';
  let reserialize = false;

  const performative = normalizePerformative(msg['performative']);
  if (performative === undefined) {
    return { error: HostError.INVALID_MESSAGE, reason: `unknown performative ${JSON.stringify(msg['performative'])}` };
  }
  if (performative !== msg['performative']) {
    msg['performative'] = performative;
    reserialize = true;
  }

  const sender = msg['sender'];
  if (sender === undefined) {
    msg['sender'] = self;
    prefix += `"sender":${JSON.stringify(self)},`;
  } else if (sender === null) {
    msg['sender'] = self;
    reserialize = true;
  } else if (sender !== self) {
    return { error: HostError.INVALID_MESSAGE, reason: `sender ${JSON.stringify(sender)} is not this agent (${self})` };
  }

  const receiver = msg['receiver'];
  const capability = msg['capability'];
  const hasReceiver = typeof receiver === 'string' && receiver.length > 0;
  const hasCapability = typeof capability === 'string' && capability.length > 0;
  if (hasReceiver === hasCapability) {
    return { error: HostError.INVALID_MESSAGE, reason: 'message needs exactly one of receiver or capability' };
  }

  const id = msg['message_id'];
  if (typeof id !== 'string' || id === '') {
    msg['message_id'] = randomUUID();
    if (id === undefined) prefix += `"message_id":"${msg['message_id'] as string}",`;
    else reserialize = true;
  }

  if (reserialize) return { json: JSON.stringify(msg), msg: msg as OutgoingMessage };
  if (prefix === '') return { json: text, msg: msg as OutgoingMessage };
  return { json: splice(text, prefix), msg: msg as OutgoingMessage };
}

/** Inserts `prefix` (members ending in a comma) right after the opening brace of a JSON object. */
function splice(text: string, prefix: string): string {
  let i = 0;
  while (text.charCodeAt(i) !== 0x7b /* { */) i++; // leading JSON whitespace; the text parsed as an object
  let j = i + 1;
  while (j < text.length && /\s/.test(text[j] as string)) j++;
  const empty = text.charCodeAt(j) === 0x7d; /* } */
  return `{${empty ? prefix.slice(0, -1) : prefix}${text.slice(i + 1)}`;
}
