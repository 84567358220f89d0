/**
 * The few fields the main thread reads from a message's JSON. Agent-to-agent messages by name cross
 * it unread; only these cases parse, and each first checks cheaply whether it has to.
 */

/**
 * The message_id of an at-least-once message, or undefined (a substring test first: most are not).
 * At-least-once means: kept in the outbox until handled, so a message published to a topic never is
 * (topics are at most once, docs/messages.md), whatever its `delivery` says.
 */
export function reliableIdOf(json: string): string | undefined {
  if (!json.includes('"at-least-once"')) return undefined;
  try {
    const m = JSON.parse(json) as { delivery?: unknown; message_id?: unknown; topic?: unknown };
    return m.delivery === 'at-least-once' && m.topic === undefined && typeof m.message_id === 'string' ? m.message_id : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a message is at-least-once: in the outbox until handled (see reliableIdOf). */
export function isReliable(json: string): boolean {
  return reliableIdOf(json) !== undefined;
}

/** The sender a message names ('' when it names none or is not JSON): its worker or the API stamped it. */
export function senderOf(json: string): string {
  try {
    const m = JSON.parse(json) as { sender?: unknown };
    return typeof m.sender === 'string' ? m.sender : '';
  } catch {
    return '';
  }
}

/** Where a message without a receiver goes: a topic (checked first) or a capability. */
export function addressOf(json: string): { capability?: string; topic?: string } {
  try {
    const m = JSON.parse(json) as { capability?: unknown; topic?: unknown };
    if (typeof m.topic === 'string') return { topic: m.topic };
    if (typeof m.capability === 'string') return { capability: m.capability };
  } catch {
    // not JSON: no address
  }
  return {};
}
