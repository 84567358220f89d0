/**
 * Checks a message an agent hands to the host (`caxton.send`, `caxton.timer_set`) and completes it.
 * The agent may omit `sender` and `message_id`; the host fills them in. A `sender` naming anyone else
 * is refused: an agent cannot speak for another. Every other rule is the message model's
 * (src/messaging/validate.ts, docs/messages.md).
 */
import { randomUUID } from 'node:crypto';
import { HostError } from './abi.js';
import { CaxtonError } from '../errors.js';
import type { AclMessage } from '../messaging/message-schema.js';
import { checkTextSize, parseMessageObject, validateInPlace } from '../messaging/validate.js';

/** A validated, completed message (unknown fields are kept: the ABI lets the host and agents add fields). */
export type OutgoingMessage = AclMessage & { [field: string]: unknown };

export type Prepared = { readonly json: string; readonly msg: OutgoingMessage } | { readonly error: number; readonly reason: string };

export interface PrepareOptions {
  /**
   * Largest message in UTF-8 bytes. The host checks the guest's byte length before calling, so the
   * default is no second check.
   */
  readonly maxBytes?: number;
  /**
   * Accept a message whose receiver is the agent itself: timer messages are (ABI §4). Messages an
   * agent sends with `caxton.send` may not be addressed to itself. @default false
   */
  readonly allowSelfAddressed?: boolean;
}

export function prepareOutgoing(self: string, text: string, opts: PrepareOptions = {}): Prepared {
  try {
    if (opts.maxBytes !== undefined) checkTextSize(text, opts.maxBytes);
    // Also refuses a key twice in the message object: the text is forwarded as the agent wrote it, and
    // a receiver's parser may read the other copy of `sender` than the one checked here.
    const msg = parseMessageObject(text);
    // Fields the host adds. When they are simply absent (the common case: SDKs leave them to the host),
    // they are spliced in front of the agent's own text instead of re-serializing the whole message.
    let prefix = '';
    let reserialize = false;

    const sender = msg['sender'];
    if (sender === undefined) {
      msg['sender'] = self;
      prefix += `"sender":${JSON.stringify(self)},`;
    } else if (sender === null) {
      msg['sender'] = self;
      reserialize = true;
    }

    const id = msg['message_id'];
    if (typeof id !== 'string' || id === '') {
      const fresh = randomUUID();
      msg['message_id'] = fresh;
      if (id === undefined) prefix += `"message_id":"${fresh}",`;
      else reserialize = true;
    }

    // Checks performative, sender (= self), receiver/capability, content and the rest of the schema.
    if (validateInPlace(msg, { maxBytes: Infinity, actualSender: self, allowSelfAddressed: opts.allowSelfAddressed ?? false })) {
      reserialize = true;
    }

    const out = msg as OutgoingMessage;
    if (reserialize) return { json: JSON.stringify(out), msg: out };
    if (prefix === '') return { json: text, msg: out };
    return { json: splice(text, prefix), msg: out };
  } catch (e) {
    if (!(e instanceof CaxtonError)) throw e;
    return { error: e.code === 'CAXTON_ERR_MESSAGE_TOO_LARGE' ? HostError.TOO_LARGE : HostError.INVALID_MESSAGE, reason: e.message };
  }
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
