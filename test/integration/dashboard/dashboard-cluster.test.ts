/**
 * The dashboard of a real 3-node cluster (`caxton server start` processes on 127.0.0.249-251) in
 * headless Chromium (skipped, naming the package, where `chromium` is not installed): node-1's page
 * lists the three members and every node's agents, CLI deploys to node-1 and to node-3 show up, and
 * killing node-3 turns its row failed with the membership change in the timeline.
 * Screenshots: test-results/dashboard/cluster-*.png.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { runCli, type RunningServer } from '../../helpers/server.js';
import { until } from '../../helpers/until.js';
import { startServerCluster, type ServerCluster } from '../../helpers/server-cluster.js';
import { chromiumTool, cspViolations, launchBrowser, openPage, screenshot, signIn, type WatchedPage } from '../../helpers/browser.js';

const root = new URL('../../../', import.meta.url).pathname;
let c: ServerCluster | undefined;
let n1: RunningServer;
let browser: Browser | undefined;
let watched: WatchedPage;
let p: Page;

before(async () => {
  if (chromiumTool.skip !== false) return;
  c = await startServerCluster({ size: 3, base: 248, args: ['--set', 'security.api.rate_limit.enabled=false'] });
  n1 = c.nodes[0] as RunningServer;
  browser = await launchBrowser();
  watched = await openPage(browser);
  p = watched.page;
});
after(async () => {
  await browser?.close();
  await c?.stop();
});

const deploy = (name: string, node: string) => runCli(['agent', 'deploy', join(root, 'build', 'agents', 'echo.wasm'), '--name', name, '--target-node', node, '--api-url', n1.apiUrl, '--api-key', n1.adminKey]);

test('dashboard (cluster) - node-1 shows the three members alive and the agents of every node', { skip: chromiumTool.skip, timeout: 120_000 }, async (t) => {
  await signIn(p, n1.apiUrl, n1.adminKey);
  // (Not waitForFunction: its string form evaluates code, which the page's CSP refuses.)
  await until('three members alive on the page', async () => (await p.$$eval('#members tr[data-status="alive"]', (x) => x.length)) === 3);
  await p.waitForSelector('#conn[data-state="open"]');
  await p.goto(`${n1.apiUrl}/dashboard/#agents`);
  await p.waitForSelector('#agents');

  // On node-1 itself: its event stream has the start, so the row comes well before the 5 s refresh.
  let r = await deploy('here', 'node-1');
  assert.equal(r.code, 0, r.stderr);
  let at = Date.now();
  await p.waitForSelector('#agents tr[data-agent="here"][data-node="node-1"][data-state="running"]', { timeout: 3000 });
  t.diagnostic(`deploy to node-1, row on node-1's page: ${Date.now() - at} ms after the CLI exited`);

  // On node-3: another node's agent events are not on node-1's stream, so the 5 s refresh brings it.
  r = await deploy('there', 'node-3');
  assert.equal(r.code, 0, r.stderr);
  at = Date.now();
  await p.waitForSelector('#agents tr[data-agent="there"][data-node="node-3"][data-state="running"]', { timeout: 10_000 });
  t.diagnostic(`deploy to node-3, row on node-1's page: ${Date.now() - at} ms after the CLI exited`);
  await screenshot(p, 'cluster-agents');
  await p.goto(`${n1.apiUrl}/dashboard/#members`);
  await p.waitForSelector('#members tr[data-node="node-3"]');
  // Agents per node: one each on node-1 and node-3, none on node-2.
  const perNode = await p.$$eval('#members tbody tr', (rows) => rows.map((r) => [(r as unknown as { dataset: { node: string } }).dataset.node, (r as unknown as { children: { textContent: string }[] }).children[5]?.textContent]));
  assert.deepEqual(Object.fromEntries(perNode), { 'node-1': '1', 'node-2': '0', 'node-3': '1' });
  await screenshot(p, 'cluster-members');
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
