// What the page knows, refreshed from the API (at most every 5 s, sooner after an event says
// something changed) and from the event stream.

import { get } from './api.js';

export const state = {
  who: null,
  members: [],
  partition: null,
  agents: [],
  /** The nodes whose agents the last read has; the members that did not answer it. */
  agentNodes: [],
  agentsMissing: [],
  queue: null,
  deadLetters: [],
  events: [],
  /** Cluster totals every refresh, for the charts: {t, in, out, errors, p50, p99}. */
  samples: [],
  error: null,
};

export const MAX_EVENTS = 500;
/** 15 minutes of samples at one per 5 s. */
const MAX_SAMPLES = 180;

export const can = (permission) => state.who?.permissions.includes(permission) === true;

export async function loadMembers() {
  const [m, p] = await Promise.all([get('/cluster/members'), get('/cluster/partition').catch(() => null)]);
  state.members = m.members;
  state.partition = p;
}

export async function loadAgents() {
  const [a, s] = await Promise.all([get('/agents'), get('/stats/agents')]);
  const here = state.who?.node ?? '';
  const stats = new Map(s.agents.map((x) => [`${x.node ?? here}/${x.name}`, x]));
  state.agents = a.agents.map((x) => {
    const node = x.node ?? here;
    return { ...x, node, stats: stats.get(`${node}/${x.name}`) ?? null };
  });
  state.agentNodes = a.nodes ?? [here];
  state.agentsMissing = a.missing ?? [];
  sample(s.agents);
}

export async function loadQueues() {
  const [q, d] = await Promise.all([get('/queue'), get('/dead-letters?limit=100')]);
  state.queue = q;
  state.deadLetters = d.letters;
}

/** Totals over every agent's counters; the charts plot their rate between two samples. */
function sample(stats) {
  const t = Date.now() / 1000;
  let inn = 0;
  let out = 0;
  let errors = 0;
  let p50 = 0;
  let p99 = 0;
  for (const s of stats) {
    inn += s.messages_in;
    out += s.messages_out;
    errors += s.errors + s.faults;
    p50 = Math.max(p50, s.latency?.p50_ms ?? 0);
    p99 = Math.max(p99, s.latency?.p99_ms ?? 0);
  }
  state.samples.push({ t, in: inn, out, errors, p50, p99 });
  if (state.samples.length > MAX_SAMPLES) state.samples.shift();
}

export function addEvent(e) {
  state.events.unshift(e);
  if (state.events.length > MAX_EVENTS) state.events.length = MAX_EVENTS;
}
