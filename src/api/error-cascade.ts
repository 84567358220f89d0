/**
 * `caxton trace --error-cascade` (GET /api/v1/error-cascade): the errors of a time window grouped into
 * cascades, each with its root cause. Built from what the node already keeps: the message journal
 * (agent faults, undeliverable messages, system failures sent to callers outside the agents) and the
 * agents' error log lines.
 *
 * Every error has a subject, the agent that failed or could not be reached, and may have a peer, the
 * agent (or caller) that felt it: the sender of an undeliverable message, the receiver of a failure.
 * A peer that itself has errors in the window carried the failure on, so its errors and the ones it
 * felt form one cascade (connected components over such subject–peer links); a peer that did not fail
 * (the API, a caller, an agent that coped) links nothing. A cascade's root cause is its earliest
 * error; each agent's `caused_by` is the agent whose failure it felt before its own first error.
 */
import type { JournalEntry } from '../messaging/journal.js';
import type { AgentLogLine } from '../observability/agent-logs.js';

/**
 * The longest window GET /error-cascade and GET /messages/analyze look back over, ms (30 days); the
 * CLI checks its --last against it before asking.
 */
export const MAX_WINDOW_MS = 30 * 86_400_000;

/**
 * Cascades GET /error-cascade returns at most, the largest first (`cascades_total` counts them all). A
 * window of unrelated errors — up to the journal's 50,000 entries — would otherwise be as many
 * singleton cascades in one answer.
 */
export const MAX_CASCADES = 100;

export type CascadeKind = 'fault' | 'undeliverable' | 'poison' | 'failure' | 'log.error';

export interface CascadeEvent {
  readonly time: number;
  readonly kind: CascadeKind;
  /** The agent that failed or could not be reached ('' when the journal does not say). */
  readonly agent: string;
  /** The agent or caller that felt it, if known. */
  readonly peer: string | undefined;
  readonly detail: string;
  readonly messageId: string | undefined;
  readonly conversationId: string | undefined;
  /** The node whose journal or log holds it (cluster-wide cascades); absent on a single node. */
  readonly node?: string;
}

export interface CascadeAgent {
  readonly name: string;
  readonly firstAt: number;
  readonly errors: number;
  /** The agent whose failure this one felt before its own first error; undefined for a root. */
  readonly causedBy: string | undefined;
}

export interface Cascade {
  readonly root: CascadeEvent;
  readonly firstAt: number;
  readonly lastAt: number;
  /** The agents that failed, in the order of their first error. */
  readonly agents: readonly CascadeAgent[];
  /** Agents and callers that felt a failure of this cascade without failing themselves. */
  readonly affected: readonly string[];
  /** In time order. */
  readonly events: readonly CascadeEvent[];
  /** The nodes its errors happened on, in the order the cascade reached them (empty on a single node). */
  readonly nodes: readonly string[];
  /** The conversations it spread through, in the order it reached them. */
  readonly conversations: readonly CascadeConversation[];
}

/** A conversation a cascade spread through: its errors, and the nodes they happened on. */
export interface CascadeConversation {
  readonly id: string;
  readonly firstAt: number;
  readonly errors: number;
  readonly nodes: readonly string[];
}

/** The errors since `since` among journal entries and log lines, in time order. */
export function cascadeEvents(journal: readonly JournalEntry[], logs: Iterable<AgentLogLine & { agent: string }>, since = 0): CascadeEvent[] {
  // A system failure names the message it answers; the journal's `sent` entry says whom that was for
  // (it may be older than the window).
  const sentTo = new Map<string, string>();
  for (const e of journal) if (e.kind === 'sent' && e.messageId !== undefined) sentTo.set(e.messageId, e.to);
  const out: CascadeEvent[] = [];
  for (const e of journal) {
    if (e.time < since) continue;
    const base = { time: e.time, detail: e.detail ?? '', messageId: e.messageId, conversationId: e.conversationId };
    switch (e.kind) {
      case 'fault':
        out.push({ ...base, kind: 'fault', agent: e.from, peer: undefined });
        break;
      case 'undeliverable':
      case 'poison': // the receiver crashed on it: its error, felt by the sender
        out.push({ ...base, kind: e.kind, agent: e.to, peer: e.from === '' ? undefined : e.from });
        break;
      case 'failure': {
        const f = failureContent(e.detail);
        out.push({ ...base, kind: 'failure', agent: (f.messageId === undefined ? undefined : sentTo.get(f.messageId)) ?? '', peer: e.to === '' ? undefined : e.to, detail: f.text });
        break;
      }
      default:
        break;
    }
  }
  for (const l of logs) {
    if (l.level !== 'error' || l.time < since) continue;
    out.push({ time: l.time, kind: 'log.error', agent: l.agent, peer: undefined, detail: l.text, messageId: undefined, conversationId: l.conversationId });
  }
  return out.sort((a, b) => a.time - b.time);
}

/**
 * A system failure's content as the journal summarized it (JSON, cut at 300 characters): the message
 * it answers, and `error: reason` to show.
 */
function failureContent(detail: string | undefined): { messageId: string | undefined; text: string } {
  if (detail === undefined) return { messageId: undefined, text: '' };
  try {
    const c = JSON.parse(detail) as { message_id?: unknown; error?: unknown; reason?: unknown };
    const text = typeof c.error === 'string' && typeof c.reason === 'string' ? `${c.error}: ${c.reason}` : detail;
    return { messageId: typeof c.message_id === 'string' ? c.message_id : undefined, text };
  } catch {
    return { messageId: /"message_id":"([^"]+)"/.exec(detail)?.[1], text: detail }; // cut short: read what is there
  }
}

/**
 * Every node's errors in one time-ordered list, each marked with its node. Agent names are unique in
 * the cluster, so a failure felt on one node and carried on by an agent on another links the two
 * nodes' errors into one cascade (groupCascades), whose root is the earliest error anywhere: per node,
 * each would look like a cascade of its own with a root of its own. Times are the nodes' clocks; on
 * machines whose clocks differ by more than the spread of a cascade, its order can be off by that much.
 */
export function mergeNodeEvents(perNode: readonly { readonly node: string; readonly events: readonly CascadeEvent[] }[]): CascadeEvent[] {
  return perNode.flatMap((n) => n.events.map((e) => ({ ...e, node: n.node }))).sort((a, b) => a.time - b.time);
}

/** The conversations of a cascade's time-ordered events, in the order the cascade reached them. */
function conversationsOf(events: readonly CascadeEvent[]): CascadeConversation[] {
  const byId = new Map<string, { id: string; firstAt: number; errors: number; nodes: Set<string> }>();
  for (const e of events) {
    if (e.conversationId === undefined) continue;
    let c = byId.get(e.conversationId);
    if (c === undefined) byId.set(e.conversationId, (c = { id: e.conversationId, firstAt: e.time, errors: 0, nodes: new Set() }));
    c.errors++;
    if (e.node !== undefined) c.nodes.add(e.node);
  }
  return [...byId.values()].map((c) => ({ id: c.id, firstAt: c.firstAt, errors: c.errors, nodes: [...c.nodes] }));
}

/** Groups time-ordered errors into cascades, the largest first. */
export function groupCascades(events: readonly CascadeEvent[]): Cascade[] {
  // Union-find over names; an error with no agent and no peer stands alone under a name of its own.
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r) as string;
    for (let y = x; y !== r; ) {
      const next = parent.get(y) as string;
      parent.set(y, r);
      y = next;
    }
    return r;
  };
  const add = (x: string) => {
    if (!parent.has(x)) parent.set(x, x);
  };
  const keyOf = (e: CascadeEvent, i: number) => (e.agent !== '' ? e.agent : `#${i}`);
  const failing = new Set(events.map((e) => e.agent).filter((a) => a !== ''));
  events.forEach((e, i) => {
    const k = keyOf(e, i);
    add(k);
    if (e.peer !== undefined && failing.has(e.peer) && e.peer !== k) {
      add(e.peer);
      parent.set(find(e.peer), find(k));
    }
  });
  const groups = new Map<string, CascadeEvent[]>();
  events.forEach((e, i) => {
    const root = find(keyOf(e, i));
    const g = groups.get(root);
    if (g === undefined) groups.set(root, [e]);
    else g.push(e);
  });
  const cascades = [...groups.values()].map((list): Cascade => {
    const agents = new Map<string, { name: string; firstAt: number; errors: number; causedBy: string | undefined }>();
    // Who felt whose failure first, before failing itself.
    const felt = new Map<string, string>();
    for (const e of list) {
      if (e.peer !== undefined && e.agent !== '' && !felt.has(e.peer)) felt.set(e.peer, e.agent);
      if (e.agent === '') continue;
      const a = agents.get(e.agent);
      if (a === undefined) agents.set(e.agent, { name: e.agent, firstAt: e.time, errors: 1, causedBy: felt.get(e.agent) });
      else a.errors++;
    }
    const affected = [...new Set(list.map((e) => e.peer).filter((p): p is string => p !== undefined && !agents.has(p)))];
    const first = list[0] as CascadeEvent;
    return {
      root: first,
      firstAt: first.time,
      lastAt: (list[list.length - 1] as CascadeEvent).time,
      agents: [...agents.values()],
      affected,
      events: list,
      nodes: [...new Set(list.map((e) => e.node).filter((n): n is string => n !== undefined))],
      conversations: conversationsOf(list),
    };
  });
  return cascades.sort((a, b) => b.events.length - a.events.length || a.firstAt - b.firstAt);
}
