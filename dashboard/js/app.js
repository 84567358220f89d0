// The dashboard's entry: sign-in, navigation by the URL's fragment (#agents, #agent/<name>), the event
// stream, and the refresh schedule: every 5 s, and 250 ms after an event says something changed.

import { get, session, whenUnauthorized } from './api.js';
import { follow } from './sse.js';
import { h, fill } from './dom.js';
import { addEvent, loadAgents, loadMembers, loadQueues, MAX_EVENTS, state } from './state.js';
import * as views from './views.js';

/**
 * The views are read every 5 s; `?refresh=<seconds>` in the page's address makes that longer (never
 * shorter), for a slow link, or for a test that must see that an update came through the stream.
 */
const REFRESH_MS = Math.max(5, Number(new URLSearchParams(location.search).get('refresh')) || 5) * 1000;
const AFTER_EVENT_MS = 250;
const MIN_REFRESH_GAP_MS = 1000;
/** The agent view's live log: as many lines as the node keeps per agent. */
const MAX_LOG_LINES = 1000;

const $ = (id) => document.getElementById(id);
let stopStream = null;
let refreshTimer = null;
let soon = null;
let current = '';
let lastRefresh = 0;
/** The log lines of an agent of another node, while its detail is open: their own stream (the node asks that agent's node for them). */
let remoteLogs = null;

function route() {
  return decodeURIComponent(location.hash.slice(1)) || 'members';
}

async function render() {
  const r = route();
  current = r;
  document.querySelectorAll('#nav a').forEach((a) => a.classList.toggle('active', r === a.dataset.view || (r.startsWith('agent/') && a.dataset.view === 'agents') || (r.startsWith('conversation/') && a.dataset.view === 'conversations')));
  const el = $('view');
  el.dataset.view = r.split('/')[0];
  // A follower of another view's agent ends when its view is left, whatever happens next.
  if (remoteLogs !== null && r !== `agent/${remoteLogs.agent}`) followRemoteLogs(null);
  try {
    if (r === 'members') views.members(el);
    else if (r === 'agents') views.agents(el, go);
    else if (r === 'messages') views.messages(el);
    else if (r === 'timeline') views.timeline(el);
    else if (r === 'conversations') await views.conversations(el);
    else if (r.startsWith('conversation/')) await views.conversation(el, r.slice(13));
    else if (r === 'queues') {
      // Read on entering the view (and by the refresh while it is shown), not in the background.
      if (state.queue === null) views.queues(el, go);
      await loadQueues();
      views.queues(el, go);
    }
    else if (r.startsWith('agent/')) {
      const name = r.slice(6);
      const { remote } = await views.agent(el, name, go, remoteLogs?.agent === name ? remoteLogs.lines : []);
      followRemoteLogs(remote ? name : null);
    }
    else fill(el, h('p', {}, 'Unknown view'));
  } catch (e) {
    fill(el, h('p', { class: 'error' }, e.message));
  }
}

function go(r) {
  if (location.hash === `#${r}`) void render();
  else location.hash = r;
}

async function refresh() {
  lastRefresh = Date.now();
  try {
    await Promise.all([loadMembers(), loadAgents()]);
    state.error = null;
  } catch (e) {
    state.error = e.message;
  }
  // Views with their own reads (an agent's log, a trace) are not redrawn on the refresh: they hold
  // what the user may be reading.
  if (!/^(agent|conversation)\//.test(current)) void render();
}

/** Events may come by the thousand a second: they cause at most one read of the views a second. */
function refreshSoon() {
  if (soon !== null) return;
  soon = setTimeout(() => {
    soon = null;
    void refresh();
  }, Math.max(AFTER_EVENT_MS, lastRefresh + MIN_REFRESH_GAP_MS - Date.now()));
}

/** Starts following `name`'s log lines (null: stops), keeping the last MAX_LOG_LINES for redraws of the view. */
function followRemoteLogs(name) {
  if (remoteLogs?.agent === name) return;
  remoteLogs?.stop();
  remoteLogs = null;
  if (name === null) return;
  const lines = [];
  const stop = follow((e) => {
    if (e.type !== 'agent.log' || e.agent !== name) return;
    lines.push({ time: e.time, level: e.level, text: e.text });
    if (lines.length > MAX_LOG_LINES) lines.shift();
    showLogLine(e);
  }, () => {}, `?types=agent.log&agent=${encodeURIComponent(name)}`);
  remoteLogs = { agent: name, lines, stop };
}

/** A log line to the open agent view, if it is that agent's. */
function showLogLine(e) {
  const logs = document.getElementById('logs');
  if (logs !== null && logs.dataset.agent === e.agent) queueRow(logs, () => views.logLine({ time: e.time, level: e.level, text: e.text }), MAX_LOG_LINES);
}

function onEvent(e) {
  if (e.type === 'agent.log') {
    // Another node's lines (they have `node`) are the remote follower's: on this stream too, they would show twice.
    if (e.node === undefined) showLogLine(e);
    return;
  }
  addEvent(e);
  const tl = current === 'timeline' ? $('timeline') : null;
  if (tl !== null) queueRow(tl, () => views.eventRow(e), MAX_EVENTS);
  if (current === `agent/${e.agent}`) updateAgentSoon(e.agent);
  refreshSoon();
}

/**
 * An event about the open agent (a state change, a fault, a restart) updates its figures in place:
 * one read at a time, and one more after it if events came meanwhile, however many they were.
 */
let agentUpdate = null;
function updateAgentSoon(name) {
  if (agentUpdate !== null) {
    agentUpdate.next = name;
    return;
  }
  agentUpdate = { next: name };
  void (async () => {
    try {
      while (agentUpdate.next !== null && current === `agent/${agentUpdate.next}`) {
        const n = agentUpdate.next;
        agentUpdate.next = null;
        await views.agentUpdate($('view'), n, go);
      }
    } catch (e) {
      // A failed read (the agent removed, its node gone) leaves the figures as they were and says why.
      views.flash($('view'), e.message);
    } finally {
      agentUpdate = null;
    }
  })();
}

/**
 * Rows for the live lists wait and go in together, at most every LIVE_GAP_MS (on the next frame after
 * that): each insertion lays the list out and paints it again whatever the number of rows, and at
 * 1,000 events a second once per frame was most of the page's work (the trace in
 * bench/dashboard.bench.ts). A row after a quiet spell still goes in on the next frame. A list keeps
 * its newest `max` rows (a chatty agent must not grow the page without end), and rows that would be
 * dropped at once are never built.
 */
const LIVE_GAP_MS = 200;
const pending = new Map();
let lastFlush = 0;
function queueRow(list, make, max) {
  let q = pending.get(list);
  if (q === undefined) {
    q = { make: [], max };
    pending.set(list, q);
    if (pending.size === 1) setTimeout(() => requestAnimationFrame(flushRows), Math.max(0, lastFlush + LIVE_GAP_MS - performance.now()));
  }
  q.make.push(make);
  if (q.make.length > max) q.make.shift();
}

function flushRows() {
  lastFlush = performance.now();
  for (const [list, q] of pending) {
    if (!list.isConnected) continue;
    const rows = document.createDocumentFragment();
    for (let i = q.make.length - 1; i >= 0; i--) rows.append(q.make[i]());
    list.prepend(rows);
    // The oldest rows beyond `max` go in one operation, not one removal each.
    if (list.childElementCount > q.max) {
      const old = document.createRange();
      old.setStartBefore(list.children[q.max]);
      old.setEndAfter(list.lastChild);
      old.deleteContents();
    }
  }
  pending.clear();
}

function setConn(s, detail) {
  const c = $('conn');
  // Back after a drop: what happened meanwhile came on no stream, so the views are read again.
  if (s === 'open' && c.dataset.state === 'reconnecting') refreshSoon();
  c.dataset.state = s;
  c.textContent = s === 'open' ? 'live' : s === 'reconnecting' ? `reconnecting (${detail ?? ''})` : s;
}

async function start() {
  try {
    state.who = await get('/whoami');
  } catch (e) {
    session.clear();
    showLogin(e.message);
    return;
  }
  $('login').hidden = true;
  $('nav').hidden = false;
  document.body.dataset.role = state.who.role;
  fill($('who'), h('span', {}, `${state.who.name ?? 'anonymous'} (${state.who.role}) on ${state.who.node}`), ' ', h('button', { id: 'logout', onclick: logout }, 'Sign out'));
  stopStream = follow(onEvent, setConn);
  refreshTimer = setInterval(refresh, REFRESH_MS);
  await refresh();
  await render();
}

function logout() {
  session.clear();
  stopStream?.();
  followRemoteLogs(null);
  clearInterval(refreshTimer);
  location.hash = '';
  location.reload();
}

function showLogin(error = '') {
  $('nav').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = error;
  fill($('view'));
  $('key').focus();
}

whenUnauthorized(() => {
  if (session.key !== null) logout();
});

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const key = $('key').value.trim();
  if (key === '') return;
  session.set(key);
  $('key').value = '';
  void start();
});
window.addEventListener('hashchange', () => void render());

if (session.key === null) showLogin();
else void start();
