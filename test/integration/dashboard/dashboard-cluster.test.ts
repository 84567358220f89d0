/**
 * The dashboard of a real 3-node cluster (`caxton server start` processes on 127.0.0.249-251) in
 * headless Chromium (skipped, naming the package, where `chromium` is not installed): node-1's page
 * lists the three members and every node's agents; CLI deploys to node-1 and to node-3 come through
 * node-1's event stream (the page's 5 s refresh is lengthened to 10 minutes with `?refresh=600`, and
 * the timeline must hold node-3's own `agent.deployed` and `agent.started`, which only the stream
 * brings); an agent of node-3 opens from node-1's page; a crash and a restart on node-3 show in
 * node-1's timeline; the stream comes back after its connection drops (through a TCP proxy that the
 * test cuts); killing node-3 turns its row failed with the membership change in the timeline.
 * Screenshots: test-results/dashboard/cluster-*.png.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { api, runCli, type RunningServer } from '../../helpers/server.js';
import { until } from '../../helpers/until.js';
import { loggingAgent } from '../../helpers/wat-agents.js';
import { startServerCluster, type ServerCluster } from '../../helpers/server-cluster.js';
import { chromiumTool, cspViolations, launchBrowser, openPage, screenshot, signIn, type WatchedPage } from '../../helpers/browser.js';

const root = new URL('../../../', import.meta.url).pathname;
let c: ServerCluster | undefined;
let n1: RunningServer;
let browser: Browser | undefined;
let watched: WatchedPage;
let p: Page;
/** node-1's dashboard with the views' periodic read every 10 minutes: within a test, only the stream updates it. */
let streamOnly: string;

before(async () => {
  if (chromiumTool.skip !== false) return;
  c = await startServerCluster({ size: 3, base: 248, args: ['--set', 'security.api.rate_limit.enabled=false'] });
  n1 = c.nodes[0] as RunningServer;
  streamOnly = `${n1.apiUrl}/dashboard/?refresh=600`;
  browser = await launchBrowser();
  watched = await openPage(browser);
  p = watched.page;
});
after(async () => {
  await browser?.close();
  await c?.stop();
});

const deploy = (name: string, node: string) => runCli(['agent', 'deploy', join(root, 'build', 'agents', 'echo.wasm'), '--name', name, '--target-node', node, '--api-url', n1.apiUrl, '--api-key', n1.adminKey]);

test('dashboard (cluster) - node-1 shows the three members and every node\'s agents; deploys on node-1 and node-3 come through its stream', { skip: chromiumTool.skip, timeout: 120_000 }, async (t) => {
  await signIn(p, n1.apiUrl, n1.adminKey);
  // (Not waitForFunction: its string form evaluates code, which the page's CSP refuses.)
  await until('three members alive on the page', async () => (await p.$$eval('#members tr[data-status="alive"]', (x) => x.length)) === 3);
  await p.goto(`${streamOnly}#agents`);
  await p.waitForSelector('#agents');
  await p.waitForSelector('#conn[data-state="open"]');

  let r = await deploy('here', 'node-1');
  assert.equal(r.code, 0, r.stderr);
  let at = Date.now();
  // Bounds against a hang: with the refresh at 10 minutes, only an event can bring the row.
  await p.waitForSelector('#agents tr[data-agent="here"][data-node="node-1"][data-state="running"]', { timeout: 5000 });
  t.diagnostic(`deploy to node-1, row on node-1's page: ${Date.now() - at} ms after the CLI exited`);

  r = await deploy('there', 'node-3');
  assert.equal(r.code, 0, r.stderr);
  at = Date.now();
  await p.waitForSelector('#agents tr[data-agent="there"][data-node="node-3"][data-state="running"]', { timeout: 5000 });
  t.diagnostic(`deploy to node-3, row on node-1's page: ${Date.now() - at} ms after the CLI exited`);
  await screenshot(p, 'cluster-agents');

  // Node-3's own events reached node-1's stream (not a refresh that any event could have started).
  await p.goto(`${streamOnly}#timeline`);
  await p.waitForSelector('#timeline');
  const timeline = await p.$$eval('#timeline li', (rows) => rows.map((x) => { const d = (x as unknown as { dataset: Record<string, string> }).dataset; return `${d['type']} ${d['agent']} ${d['node']}`; }));
  for (const e of ['agent.deployed there node-3', 'agent.started there node-3', 'agent.deployed here node-1']) assert.ok(timeline.includes(e), `${e} in\n${timeline.join('\n')}`);
  assert.equal(timeline.filter((x) => x.startsWith('agent.deployed there')).length, 1, 'one agent.deployed per deploy');

  await p.goto(`${n1.apiUrl}/dashboard/#members`);
  await p.waitForSelector('#members tr[data-node="node-3"]');
  // Agents per node: one each on node-1 and node-3, none on node-2.
  const perNode = await p.$$eval('#members tbody tr', (rows) => rows.map((x) => [(x as unknown as { dataset: { node: string } }).dataset.node, (x as unknown as { children: { textContent: string }[] }).children[5]?.textContent]));
  assert.deepEqual(Object.fromEntries(perNode), { 'node-1': '1', 'node-2': '0', 'node-3': '1' });
  await screenshot(p, 'cluster-members');
});

test('dashboard (cluster) - an agent that runs on node-3 opens from node-1\'s page, without buttons that would act on node-1', { skip: chromiumTool.skip, timeout: 120_000 }, async () => {
  await p.goto(`${n1.apiUrl}/dashboard/#agents`);
  await p.click('#agents tr[data-agent="there"] a');
  await p.waitForSelector('#remote');
  assert.match((await p.textContent('#view h2')) ?? '', /there\s*running/);
  const stats = await p.$$eval('dl.stats dt', (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent, (dt as unknown as { nextElementSibling: { textContent: string } }).nextElementSibling.textContent])));
  assert.equal(stats['Node'], 'node-3');
  assert.match(stats['Module'] ?? '', /^[0-9a-f]{16}$/);
  assert.equal(await p.$$eval('button[data-action]', (x) => x.length), 0);
  await screenshot(p, 'cluster-agent-remote');
});

test('dashboard (cluster) - the live log lines of an agent on node-3 show in its detail on node-1; its crash and restart in node-1\'s timeline', { skip: chromiumTool.skip, timeout: 120_000 }, async () => {
  const d = await api(n1, 'POST', '/agents', { name: 'loud', target_node: 'node-3', module: Buffer.from(await loggingAgent()).toString('base64') });
  assert.equal(d.status, 201, JSON.stringify(d.body));
  // A line from before the view opens: kept on node-3, read through node-1's GET /agents/loud/logs.
  assert.equal((await api(n1, 'POST', '/messages', { performative: 'inform', sender: 'greeter@node-1', receiver: 'loud', content: 'said before the view opened' })).status, 202);
  await until('the earlier line kept on node-3', async () => JSON.stringify((await api(c?.nodes[2] as RunningServer, 'GET', '/agents/loud/logs')).body).includes('said before the view opened'));
  await p.goto(`${streamOnly}#agent/loud`);
  await p.waitForSelector('#remote');
  await p.waitForSelector('#logs li .text >> text=said before the view opened');
  await p.waitForSelector('#conn[data-state="open"]');
  // The logging agent logs what it is sent; node-3 relays the line while the detail is open.
  const line = 'hello from node-1 <b>not bold</b>';
  // (The follower's own stream may still be opening: send until a line arrives, a few times at most.)
  await until('the line in the detail', async () => {
    assert.equal((await api(n1, 'POST', '/messages', { performative: 'inform', sender: 'greeter@node-1', receiver: 'loud', content: line })).status, 202);
    return p.$$eval('#logs li .text', (x) => x.some((li) => (li.textContent ?? '').includes('hello from node-1 <b>not bold</b>')));
  }, 15_000, 1000);
  assert.equal(await p.$$eval('#view b', (x) => x.length), 0);
  await screenshot(p, 'cluster-agent-remote-logs');

  await p.goto(`${streamOnly}#timeline`);
  await p.waitForSelector('#timeline');
  assert.equal((await api(n1, 'POST', '/messages', { performative: 'inform', sender: 'crasher@node-1', receiver: 'loud', content: 'crash now' })).status, 202);
  await p.waitForSelector('#timeline li[data-type="agent.fault"][data-agent="loud"][data-node="node-3"]', { timeout: 15_000 });
  await p.waitForSelector('#timeline li[data-type="agent.started"][data-agent="loud"][data-node="node-3"]', { timeout: 15_000 });
  assert.match((await p.textContent('#timeline li[data-type="agent.started"][data-agent="loud"]')) ?? '', /loud on node-3 restarted \(restart 1\)/);
  await screenshot(p, 'cluster-timeline-crash');
});

test('dashboard (cluster) - the stream reconnects after its connection drops, and other nodes\' events flow again', { skip: chromiumTool.skip, timeout: 120_000 }, async () => {
  // A TCP proxy in front of node-1 that the test can cut: the node keeps running, the connection drops.
  const sockets = new Set<Socket>();
  let refusing = false;
  const proxy: Server = createServer((client) => {
    if (refusing) return void client.destroy();
    const upstream = connect(Number(new URL(n1.apiUrl).port), new URL(n1.apiUrl).hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.248', resolve));
  const proxied = `http://127.0.0.248:${(proxy.address() as { port: number }).port}`;
  const w = await openPage(browser as Browser);
  try {
    await signIn(w.page, proxied, n1.adminKey);
    await w.page.goto(`${proxied}/dashboard/?refresh=600#timeline`);
    await w.page.waitForSelector('#conn[data-state="open"]');

    refusing = true;
    for (const s of sockets) s.destroy();
    await w.page.waitForSelector('#conn[data-state="reconnecting"]', { timeout: 10_000 });
    assert.match((await w.page.textContent('#conn')) ?? '', /^reconnecting \(.+\)$/);
    await screenshot(w.page, 'cluster-reconnecting');
    refusing = false;
    // The backoff starts at 1 s and doubles: a few seconds, 30 only catches a hang.
    await w.page.waitForSelector('#conn[data-state="open"]', { timeout: 30_000 });
    assert.equal(await w.page.textContent('#conn'), 'live');

    const r = await deploy('after-drop', 'node-2');
    assert.equal(r.code, 0, r.stderr);
    await w.page.waitForSelector('#timeline li[data-type="agent.started"][data-agent="after-drop"][data-node="node-2"]', { timeout: 10_000 });
    await screenshot(w.page, 'cluster-reconnected');
    assert.deepEqual(await cspViolations(w.page), []);
    // The browser logs the requests the cut connection failed: expected here, and only those.
    assert.deepEqual(w.problems.filter((x) => !/net::ERR_[A-Z_]+/.test(x)), []);
  } finally {
    await w.page.context().close();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => proxy.close(resolve));
  }
});

test('dashboard (cluster) - killing node-3 turns its row failed and puts the change in the timeline', { skip: chromiumTool.skip, timeout: 120_000 }, async () => {
  await p.goto(`${n1.apiUrl}/dashboard/#members`);
  await p.waitForSelector('#members tr[data-node="node-3"][data-status="alive"]');
  await (c as ServerCluster).nodes[2]?.kill('SIGKILL');
  // The fast profile declares a dead member failed within a few seconds; 30 s only catches a hang.
  await p.waitForSelector('#members tr[data-node="node-3"][data-status="failed"]', { timeout: 30_000 });
  await screenshot(p, 'cluster-members-failed');
  await p.goto(`${n1.apiUrl}/dashboard/#timeline`);
  await p.waitForSelector('#timeline li[data-type="cluster.failed"]');
  assert.match((await p.textContent('#timeline li[data-type="cluster.failed"]')) ?? '', /node-3/);
  await screenshot(p, 'cluster-timeline');
  assert.deepEqual(await cspViolations(p), []);
  assert.deepEqual(watched.problems, []);
});
