// The views. Each renders from `state` into #view with h() (text nodes only: see dom.js).

import { call, get, post } from './api.js';
import { fill, fmtBytes, fmtDuration, fmtTime, h } from './dom.js';
import { can, loadAgents, state } from './state.js';

// ---- members

export function members(el) {
  const p = state.partition;
  fill(
    el,
    h('h2', {}, 'Members'),
    p === null ? null : h('p', { class: 'partition', dataset: { state: p.state } }, `Partition: ${p.state}`, p.unreachable?.length ? ` (unreachable: ${p.unreachable.join(', ')})` : ''),
    table(
      ['Node', 'Status', 'Address', 'CPU', 'Memory', 'Agents', 'Since'],
      state.members.map((m) =>
        h('tr', { dataset: { node: m.name, status: m.status } },
          h('td', {}, m.name),
          h('td', {}, badge(m.status)),
          h('td', {}, m.address),
          h('td', { class: 'num' }, m.cpu_percent === null ? '–' : `${m.cpu_percent}%`),
          h('td', { class: 'num' }, fmtBytes(m.memory_rss_bytes)),
          h('td', { class: 'num' }, agentsOn(m)),
          h('td', {}, m.since ? fmtTime(m.since) : '–'),
        ),
      ),
      'members',
    ),
  );
}

/** Counted from the agents view when it has the node's rows; the member's `agents` tag (refreshed by gossip) otherwise. */
function agentsOn(m) {
  if (state.agentNodes.includes(m.name)) return state.agents.filter((a) => a.node === m.name).length;
  return m.agents ?? '–';
}

// ---- agents

const COLUMNS = [
  { key: 'name', label: 'Name', value: (a) => a.name },
  { key: 'node', label: 'Node', value: (a) => a.node },
  { key: 'state', label: 'State', value: (a) => a.state },
  { key: 'priority', label: 'Priority', value: (a) => a.priority },
  { key: 'uptime', label: 'Uptime', value: (a) => (a.running_since ? Date.now() - Date.parse(a.running_since) : -1), show: (v) => fmtDuration(v), num: true },
  { key: 'messages', label: 'Messages', value: (a) => (a.stats ? a.stats.messages_in + a.stats.messages_out : 0), num: true },
  { key: 'p99', label: 'P99 ms', value: (a) => a.stats?.latency?.p99_ms ?? 0, show: (v) => v.toFixed(3), num: true },
  { key: 'restarts', label: 'Restarts', value: (a) => a.restarts, num: true },
];

export const agentsUi = { filter: '', sort: 'name', desc: false };
/** localeCompare()'s order, with one collator: localeCompare() builds one per call, 10,000 calls to sort 1,000 rows. */
const byText = new Intl.Collator();

/**
 * Rows built per task: a first render of 1,000 agents is cut into tasks of this many new rows so that
 * it never holds the page for long. Each task also lays out the whole table so far, so the later ones
 * cost more: with 200 a task the longest took 46 to 52 ms of CPU, with 100 34 to 37 ms
 * (bench/dashboard.bench.ts, docs/dashboard.md).
 */
const NEW_ROWS_PER_TASK = 100;

/**
 * The agents view, kept between refreshes while it is shown: a refresh (every 5 s, and after events)
 * updates the cells whose text changed and moves rows, instead of building 1,000 rows again.
 * `rows`: node/name → { tr, cells (td per column), shown (their text) }.
 */
let agentsDom = null;
let moreRows = null;

export function agents(el, go) {
  const f = agentsUi.filter.toLowerCase();
  const col = COLUMNS.find((c) => c.key === agentsUi.sort) ?? COLUMNS[0];
  const list = state.agents
    .filter((a) => f === '' || COLUMNS.some((c) => String(c.value(a)).toLowerCase().includes(f)))
    .sort((x, y) => {
      const a = col.value(x);
      const b = col.value(y);
      const r = typeof a === 'number' && typeof b === 'number' ? a - b : byText.compare(String(a), String(b));
      return agentsUi.desc ? -r : r;
    });
  if (agentsDom === null || agentsDom.el !== el || !agentsDom.tbody.isConnected) agentsDom = agentsSkeleton(el, go);
  const d = agentsDom;
  d.title.textContent = `Agents (${list.length}${list.length === state.agents.length ? '' : ` of ${state.agents.length}`})`;
  const missing = state.agentsMissing.map((m) => `${m.node} (${m.reason})`).join(', ');
  d.missing.hidden = missing === '';
  d.missing.textContent = missing === '' ? '' : `Not answering: ${missing}`;
  fill(d.head, COLUMNS.map((c) =>
    h('th', { class: c.num ? 'num' : undefined, 'aria-sort': c.key === agentsUi.sort ? (agentsUi.desc ? 'descending' : 'ascending') : undefined },
      h('button', { class: 'sort', dataset: { sort: c.key }, onclick: () => {
        agentsUi.desc = agentsUi.sort === c.key ? !agentsUi.desc : false;
        agentsUi.sort = c.key;
        agents(el, go);
      } }, c.label, c.key === agentsUi.sort ? (agentsUi.desc ? ' ▼' : ' ▲') : ''))));

  const wanted = [];
  const keep = new Set();
  let built = 0;
  for (const a of list) {
    const key = `${a.node}/${a.name}`;
    let r = d.rows.get(key);
    if (r === undefined) {
      // The rest are built in the next tasks (see NEW_ROWS_PER_TASK).
      if (built === NEW_ROWS_PER_TASK) continue;
      built++;
      r = agentRow(a);
      d.rows.set(key, r);
    }
    keep.add(key);
    wanted.push(r.tr);
    updateAgentRow(r, a);
  }
  // Rows a filter hides stay built (clearing it must not build them again); gone agents' rows go.
  const exists = keep.size === state.agents.length ? keep : new Set(state.agents.map((a) => `${a.node}/${a.name}`));
  for (const [key, r] of d.rows) {
    if (keep.has(key)) continue;
    r.tr.remove();
    if (!exists.has(key)) d.rows.delete(key);
  }
  // Rows in order, moving only those out of place (a sort moves many, a refresh usually none).
  let at = d.tbody.firstElementChild;
  for (const tr of wanted) {
    if (tr === at) at = at.nextElementSibling;
    else d.tbody.insertBefore(tr, at);
  }
  if (built === NEW_ROWS_PER_TASK && moreRows === null) {
    moreRows = setTimeout(() => {
      moreRows = null;
      if (agentsDom === d && d.tbody.isConnected) agents(el, go);
    }, 0);
  }
}

function agentsSkeleton(el, go) {
  const search = h('input', { type: 'search', id: 'agent-filter', placeholder: 'Filter (any column)', value: agentsUi.filter, 'aria-label': 'Filter agents' });
  search.addEventListener('input', () => {
    agentsUi.filter = search.value;
    agents(el, go);
  });
  const d = { el, title: h('h2'), missing: h('p', { class: 'error', id: 'agents-missing', hidden: true }), head: h('tr'), tbody: h('tbody'), rows: new Map() };
  fill(el, d.title, d.missing, search, h('div', { class: 'scroll' }, h('table', { id: 'agents' }, h('thead', {}, d.head), d.tbody)));
  return d;
}

function agentRow(a) {
  const cells = COLUMNS.map((c, i) => h('td', { class: c.num ? 'num' : undefined }, i === 0 ? h('a', { href: `#agent/${encodeURIComponent(a.name)}` }) : c.key === 'state' ? badge('') : null));
  return { tr: h('tr', { dataset: { agent: a.name, node: a.node } }, cells), cells, shown: [] };
}

/** Sets the cells whose text changed; the others are left alone (no style or layout work for them). */
function updateAgentRow(r, a) {
  if (r.tr.dataset.state !== a.state) r.tr.dataset.state = a.state;
  COLUMNS.forEach((c, i) => {
    const v = c.value(a);
    const text = c.show ? c.show(v) : String(v);
    if (r.shown[i] === text) return;
    r.shown[i] = text;
    const target = r.cells[i].firstElementChild ?? r.cells[i];
    target.textContent = text;
    if (c.key === 'state') target.dataset.s = text;
  });
}

// ---- one agent

/**
 * `live`: the lines of another node's agent received so far by its follower, shown after the last
 * 100 its node keeps (read through this node). Returns whether it is another node's.
 */
export async function agent(el, name, go, live = []) {
  const { a, logs, remote } = await loadAgent(name, true);
  const last = logs.logs.at(-1)?.time ?? '';
  const lines = remote ? [...logs.logs, ...live.filter((l) => l.time > last)] : logs.logs;
  fill(
    el,
    h('p', {}, h('a', { href: '#agents' }, '← Agents')),
    agentHead(el, name, go, a, remote),
    h('h3', {}, 'Recent log lines'),
    h('ol', { id: 'logs', class: 'logs', dataset: { agent: name } }, lines.slice().reverse().map(logLine)),
  );
  return { remote };
}

/**
 * The open agent's figures, state and buttons read again and changed where they differ, the log list
 * left as it is: drawing the view again would read the last 100 lines again and drop the live lines
 * shown since (of another node's agent, all of them). Nothing happens if the view was left meanwhile.
 */
export async function agentUpdate(el, name, go) {
  const { a, remote } = await loadAgent(name, false);
  const logs = el.querySelector('#logs');
  if (logs === null || logs.dataset.agent !== name) return;
  // The head: what lies between the link back and the log list's title.
  const title = logs.previousElementSibling;
  const old = [];
  for (let x = el.firstElementChild.nextElementSibling; x !== title; x = x.nextElementSibling) old.push(x);
  patch(old, agentHead(el, name, go, a, remote).filter(Boolean), title);
}

/** The elements `old` made equal to `fresh`: only the ones that differ are replaced (the figures one by one). */
function patch(old, fresh, before) {
  if (old.length !== fresh.length) {
    old.forEach((x) => x.remove());
    before.before(...fresh);
    return;
  }
  old.forEach((x, i) => {
    const next = fresh[i];
    if (x.isEqualNode(next)) return;
    // The figures' list keeps its terms; each changed value is replaced alone.
    if (x.tagName === 'DL' && next.tagName === 'DL' && x.children.length === next.children.length) patch(Array.from(x.children), Array.from(next.children), null);
    else x.replaceWith(next);
  });
}

function agentHead(el, name, go, a, remote) {
  const s = a.stats ?? {};
  const act = (label, path, body, confirmText) =>
    h('button', { class: 'danger', dataset: { action: label.toLowerCase() }, onclick: async (ev) => {
      if (confirmText && !confirm(confirmText)) return;
      ev.target.disabled = true;
      try {
        await (path === 'DELETE' ? callDelete(name) : post(path, body));
        if (path === 'DELETE') go('agents');
        else await agentUpdate(el, name, go);
      } catch (e) {
        flash(el, e.message);
        ev.target.disabled = false;
      }
    } }, label);
  const base = `/agents/${encodeURIComponent(name)}`;
  // The agent routes act on this node's agents only: another node's agent is acted on from its own dashboard.
  const buttons = remote ? [] : [
    can('control') && a.state === 'running' ? act('Suspend', `${base}/suspend`) : null,
    can('control') && a.state === 'suspended' ? act('Resume', `${base}/resume`) : null,
    can('control') ? act('Restart', `${base}/restart`) : null,
    can('control') && a.state !== 'stopped' ? act('Stop', `${base}/stop`, {}, `Stop ${name}?`) : null,
    can('deploy') ? act('Remove', 'DELETE', undefined, `Remove ${name} and its state?`) : null,
  ].filter(Boolean);
  const stat = (k, v) => [h('dt', {}, k), h('dd', {}, v)];
  const canary = a.canary === null ? null : h('p', { class: 'canary' }, `Canary: ${a.canary.percent}% on ${String(a.canary.module).slice(0, 12)}`, s.canary ? ` (in ${s.canary.messages_in}, errors ${s.canary.errors}, P99 ${s.canary.p99_ms} ms)` : '');
  return [
    h('h2', {}, name, ' ', badge(a.state)),
    buttons.length === 0 ? null : h('div', { class: 'actions' }, buttons),
    canary,
    h('dl', { class: 'stats' },
      stat('Node', a.node ?? state.who?.node ?? '–'),
      stat('Priority', a.priority),
      stat('Uptime', a.running_since ? fmtDuration(Date.now() - Date.parse(a.running_since)) : '–'),
      stat('Restarts', a.restarts),
      stat('Messages in / out', `${s.messages_in ?? 0} / ${s.messages_out ?? 0}`),
      stat('Errors / faults', `${s.errors ?? 0} / ${s.faults ?? 0}`),
      stat('P50 / P99 ms', `${(s.latency?.p50_ms ?? 0).toFixed(3)} / ${(s.latency?.p99_ms ?? 0).toFixed(3)}`),
      stat('Queued', s.queued ?? 0),
      stat('Memory', fmtBytes(s.memory_bytes)),
      stat('Circuit', s.circuit ?? '–'),
      stat('Module', String(a.module).slice(0, 16)),
      a.last_fault ? stat('Last fault', `${a.last_fault.kind} in ${a.last_fault.phase}: ${a.last_fault.message}`) : null,
    ),
    remote ? h('p', { class: 'remote', id: 'remote' }, `Runs on ${a.node}: the buttons to suspend, restart, stop or remove it are on ${a.node}'s dashboard. Its state changes, faults, restarts and new log lines show here as they happen.`) : null,
  ];
}

/**
 * This node's agent from its own routes; another node's from the cluster-wide views (the last refresh
 * says which node runs it). With `withLogs` its last 100 lines too, which the node reads from the node
 * running it.
 */
async function loadAgent(name, withLogs) {
  const here = state.who?.node;
  const known = state.agents.find((x) => x.name === name);
  const path = `/agents/${encodeURIComponent(name)}`;
  const logs = withLogs ? get(`${path}/logs?tail=100`).catch(() => ({ logs: [] })) : Promise.resolve(null);
  if (known === undefined || known.node === here) {
    const [a, l] = await Promise.all([get(path), logs]);
    return { a, logs: l, remote: false };
  }
  const node = encodeURIComponent(known.node);
  const [list, stats, l] = await Promise.all([get(`/agents?node=${node}`), get(`/stats/agents?node=${node}`), logs]);
  const a = list.agents.find((x) => x.name === name);
  if (a === undefined) throw new Error(`${name} is no longer on ${known.node}`);
  return { a: { ...a, node: known.node, stats: stats.agents.find((x) => x.name === name) ?? null }, logs: l, remote: true };
}

export function logLine(l) {
  return h('li', { dataset: { level: l.level } }, h('time', {}, fmtTime(l.time)), ' ', h('span', { class: 'level' }, l.level), ' ', h('span', { class: 'text' }, l.text));
}

function callDelete(name) {
  return call('DELETE', `/agents/${encodeURIComponent(name)}`);
}

// ---- timeline

export function timeline(el) {
  // Shown already: the stream adds its rows as events come (app.js), so a refresh has nothing to
  // redraw; building 500 rows again on every read of the views was a long task each second.
  const shown = el.querySelector('#timeline');
  if (shown !== null && shown.isConnected) return;
  fill(el, h('h2', {}, 'Timeline'), h('ol', { id: 'timeline', class: 'timeline' }, state.events.map(eventRow)));
}

export function eventRow(e) {
  return h('li', { dataset: { type: e.type, kind: kind(e.type), agent: e.agent, node: e.node } },
    h('time', {}, fmtTime(e.time)), ' ',
    h('span', { class: 'type' }, e.type), ' ',
    h('span', { class: 'subject' }, e.agent ?? e.node ?? e.node_id ?? ''),
    e.agent !== undefined && e.node !== undefined ? h('span', { class: 'where' }, ` on ${e.node}`) : null, ' ',
    h('span', { class: 'detail' }, describe(e)));
}

function kind(type) {
  if (/fault|failed|poisoned|undeliverable|rolled_back|conflict|unavailable/.test(type)) return 'bad';
  if (/suspect|stopped|removed|left|shutdown|move_failed/.test(type)) return 'warn';
  return 'ok';
}

function describe(e) {
  if (typeof e.text === 'string' && e.type !== 'agent.log') return e.text;
  switch (e.type) {
    case 'agent.deployed': return `deployed (${e.priority ?? 'normal'} priority, module ${String(e.module ?? '').slice(0, 12)})`;
    case 'agent.state': return `${e.from} → ${e.to}`;
    case 'agent.started': return e.restarts > 0 ? `restarted (restart ${e.restarts})` : 'started';
    case 'agent.fault': return `${e.kind ?? 'fault'}${e.phase ? ` in ${e.phase}` : ''}: ${e.message ?? ''}`;
    case 'agent.log': return `[${e.level}] ${e.text}`;
    case 'agent.canary_step': return `canary ${e.percent ?? ''}%`;
    case 'message.poisoned':
    case 'message.undeliverable': return `${e.sender ?? ''} → ${e.receiver ?? e.agent ?? ''}: ${e.reason ?? ''}`;
    default: return e.status ?? e.address ?? '';
  }
}

// ---- messages (charts)

const charts = [];
export function messages(el) {
  for (const c of charts.splice(0)) c.destroy();
  fill(el, h('h2', {}, 'Messages (last 15 minutes)'), h('div', { id: 'charts', class: 'charts' }));
  const box = el.querySelector('#charts');
  const uPlot = window.uPlot;
  const series = rates();
  if (uPlot === undefined || series[0].length < 2) {
    box.append(h('p', {}, 'Collecting samples: a point every 5 s.'));
    return;
  }
  const width = Math.min(560, el.clientWidth - 16);
  const plot = (title, labels, data) => {
    const div = h('div', { class: 'chart' });
    box.append(div);
    charts.push(new uPlot({ title, width, height: 160, series: [{}, ...labels.map((label, i) => ({ label, stroke: ['#2a7', '#27c', '#c33'][i] }))] }, data, div));
  };
  plot('Messages/s', ['in', 'out'], [series[0], series[1], series[2]]);
  plot('Latency ms (worst agent)', ['P50', 'P99'], [series[0], series[4], series[5]]);
  plot('Errors/s', ['errors'], [series[0], series[3]]);
}

/** [t, in/s, out/s, errors/s, p50, p99] between consecutive samples. */
function rates() {
  const out = [[], [], [], [], [], []];
  const s = state.samples;
  for (let i = 1; i < s.length; i++) {
    const dt = s[i].t - s[i - 1].t;
    if (dt <= 0) continue;
    out[0].push(s[i].t);
    out[1].push(Math.max(0, (s[i].in - s[i - 1].in) / dt));
    out[2].push(Math.max(0, (s[i].out - s[i - 1].out) / dt));
    out[3].push(Math.max(0, (s[i].errors - s[i - 1].errors) / dt));
    out[4].push(s[i].p50);
    out[5].push(s[i].p99);
  }
  return out;
}

// ---- conversations

export async function conversations(el) {
  const r = await get('/conversations?limit=100');
  fill(
    el,
    h('h2', {}, 'Conversations'),
    table(['Id', 'Protocol', 'Participants', 'Messages', 'Last', 'Started', 'Last active'], r.conversations.map((c) =>
      h('tr', { dataset: { conversation: c.id } },
        h('td', {}, h('a', { href: `#conversation/${encodeURIComponent(c.id)}` }, String(c.id).slice(0, 13))),
        h('td', {}, c.protocol ?? '–'),
        h('td', {}, (c.participants ?? []).join(', ')),
        h('td', { class: 'num' }, c.messages),
        h('td', {}, c.last_performative ?? '–'),
        h('td', {}, fmtTime(c.started_at)),
        h('td', {}, fmtTime(c.last_active_at)))), 'conversations'),
  );
}

export async function conversation(el, id) {
  const r = await get(`/conversations/${encodeURIComponent(id)}`);
  fill(
    el,
    h('p', {}, h('a', { href: '#conversations' }, '← Conversations')),
    h('h2', {}, `Conversation ${id}`),
    r.conversation === null ? null : h('p', {}, `${r.conversation.protocol ?? 'no protocol'}: ${(r.conversation.participants ?? []).join(', ')}`),
    table(['Time', 'Hop', 'From', 'To', 'Performative', 'Detail'], r.trace.map((x) =>
      h('tr', { dataset: { kind: x.kind } },
        h('td', {}, fmtTime(x.time)),
        h('td', {}, badge(x.kind)),
        h('td', {}, x.from ?? '–'),
        h('td', {}, x.to ?? '–'),
        h('td', {}, x.performative ?? '–'),
        h('td', { class: 'wrap' }, x.detail ?? ''))), 'trace'),
  );
}

// ---- queues and dead letters

export function queues(el, go) {
  const q = state.queue;
  const replay = (label, body) =>
    h('button', { class: 'danger', dataset: { action: 'replay' }, onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        const r = await post('/dead-letters/replay', body);
        flash(el, `replayed ${r.replayed}, failed ${r.failed}`);
        go('queues');
      } catch (e) {
        flash(el, e.message);
      }
    } }, label);
  fill(
    el,
    h('h2', {}, 'Queues'),
    q === null ? h('p', {}, 'Loading…') : h('p', {}, `Queued ${q.total_queued} (${fmtBytes(q.total_queued_bytes)}), outbox ${q.outbox_pending}, dead letters ${q.dead_letters}`),
    q === null ? null : table(['Agent', 'Node', 'State', 'Queued', 'Bytes'], q.agents.map((a) => h('tr', {}, h('td', {}, a.name), h('td', {}, a.node ?? state.who?.node ?? ''), h('td', {}, badge(a.state)), h('td', { class: 'num' }, a.queued), h('td', { class: 'num' }, fmtBytes(a.queued_bytes)))), 'queue'),
    h('h2', {}, 'Circuit breakers'),
    table(['Agent', 'Node', 'Circuit', 'Blocked senders', ''], state.agents.filter((a) => a.stats && a.stats.circuit !== 'closed').map((a) =>
      h('tr', { dataset: { agent: a.name, node: a.node, circuit: a.stats.circuit } },
        h('td', {}, a.name), h('td', {}, a.node), h('td', {}, badge(a.stats.circuit)), h('td', {}, (a.stats.blocked_senders ?? []).map((b) => b.sender).join(', ')),
        h('td', {}, can('control') ? resetCircuit(el, a.name, go) : null))), 'circuits'),
    h('h2', {}, 'Dead letters ', can('control') && state.deadLetters.length > 0 ? replay('Replay all', {}) : null),
    table(['Id', 'Time', 'Sender', 'Receiver', 'Reason', ''], state.deadLetters.map((d) => h('tr', {}, h('td', { class: 'num' }, d.id), h('td', {}, fmtTime(d.created_at)), h('td', {}, d.sender), h('td', {}, d.receiver), h('td', {}, d.reason), h('td', {}, can('control') ? replay('Replay', { ids: [d.id] }) : null))), 'dead-letters'),
  );
}

/** POST /circuit-breakers/reset for one agent (wherever it runs), then the views again: the reset is no event. */
function resetCircuit(el, name, go) {
  return h('button', { class: 'danger', dataset: { action: 'reset-circuit' }, onclick: async (ev) => {
    ev.target.disabled = true;
    try {
      await post('/circuit-breakers/reset', { agent: name });
      // The row goes once the views are read again: that is the answer.
      await loadAgents();
      go('queues');
    } catch (e) {
      flash(el, e.message);
      ev.target.disabled = false;
    }
  } }, 'Close');
}

// ---- shared

function table(headers, rows, id) {
  return h('div', { class: 'scroll' }, h('table', { id }, h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))), h('tbody', {}, rows.length === 0 ? h('tr', {}, h('td', { colspan: headers.length, class: 'empty' }, 'none')) : rows)));
}

function badge(s) {
  return h('span', { class: 'badge', dataset: { s } }, s);
}

export function flash(el, text) {
  el.prepend(h('p', { class: 'flash' }, text));
}
