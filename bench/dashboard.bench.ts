/**
 * The operator dashboard (opt-in: `npm run bench -- dashboard`, about a minute; needs Debian's
 * `chromium`): issue 15's three figures, on one `caxton server start` process and headless Chromium.
 *
 * Method
 * ------
 * 1. Transfer size: every resource the page loads from the node except the API's answers (HTML, CSS,
 *    the ES modules, uPlot, the icon), summed from the browser's Resource Timing `transferSize`,
 *    uncompressed (the node does not compress).
 * 2. First render with 1,000 agents: DASHBOARD_BENCH_AGENTS (1,000) echo agents deployed through the
 *    API; then, R times, a fresh browser context with the key already in sessionStorage opens
 *    `/dashboard/#agents`, and the time from navigation to the table holding every agent's row is
 *    taken (the page's own clock, performance.now()). P50 and worst of R.
 * 3. Responsiveness under events: the page shows the logging agent's view (each `agent.log` event adds
 *    a line: the busiest path of the page), and the bench posts messages to that agent at
 *    DASHBOARD_BENCH_RATE (1,000) per second for DASHBOARD_BENCH_SECONDS (10): each message is one
 *    `agent.log` event on the stream. The browser's Long Tasks API counts tasks over 50 ms on the
 *    page's main thread meanwhile; the row reports how many, the longest, the rate achieved and the
 *    load average (1 min) before and after.
 * 4. The page's own work, from Chromium's trace (CDP Tracing, bench/trace-summary.ts) over the stream and
 *    over each first render: every top-level task of the page's main thread has a wall time and a thread
 *    (CPU) time. The Long Tasks API counts wall time, so on a loaded machine a task of 20 ms of CPU that
 *    waited 150 ms for a core counts as long; a task over 50 ms of CPU is the page's own doing. Rows:
 *    tasks over 50 ms of CPU (and the buckets of the CPU of the tasks over 50 ms of wall time), and the
 *    main thread's CPU per second of stream by bucket (script, style, layout, paint, gc, other). The
 *    driver does nothing in the page while the events stream in (no polling, no evaluate), so none of it
 *    is the test's. DASHBOARD_BENCH_PROFILE=1 also prints the functions with the most self time (CDP
 *    Profiler).
 */
import { join } from 'node:path';
import { api, startServer, type RunningServer } from '../test/helpers/server.js';
import { agentWasm } from '../test/helpers/agents.js';
import { loggingAgent } from '../test/helpers/wat-agents.js';
import { chromiumTool, launchBrowser } from '../test/helpers/browser.js';
import type { Browser, Page } from 'playwright-core';
import { loadavg } from 'node:os';
import { percentile, sortedCopy, type Row } from './report.js';
import { describeBuckets, startProfile, startTrace, type TraceSummary } from './trace-summary.js';

const AGENTS = Number(process.env['DASHBOARD_BENCH_AGENTS'] ?? 1000);
const RENDERS = 5;
const RATE = Number(process.env['DASHBOARD_BENCH_RATE'] ?? 1000);
const SECONDS = Number(process.env['DASHBOARD_BENCH_SECONDS'] ?? 10);

export async function dashboardBenchmarks(): Promise<Row[]> {
  if (chromiumTool.skip !== false) throw new Error(chromiumTool.skip);
  const s = await startServer({ args: ['--set', 'security.api.rate_limit.enabled=false', '--set', `runtime.max_agents=${AGENTS + 10}`, '--workers', '2'], timeoutMs: 60_000 });
  let browser: Browser | undefined;
  try {
    const echo = Buffer.from(agentWasm('echo')).toString('base64');
    for (let i = 0; i < AGENTS; i += 20) {
      await Promise.all(Array.from({ length: Math.min(20, AGENTS - i) }, async (_, k) => {
        const r = await api(s, 'POST', '/agents', { name: `a-${String(i + k).padStart(4, '0')}`, module: echo });
        if (r.status !== 201) throw new Error(`deploy: ${r.status} ${JSON.stringify(r.body)}`);
      }));
    }
    const logger = await api(s, 'POST', '/agents', { name: 'logger', module: Buffer.from(await loggingAgent()).toString('base64') });
    if (logger.status !== 201) throw new Error(`deploy logger: ${logger.status} ${JSON.stringify(logger.body)}`);
    browser = await launchBrowser();

    const renders: number[] = [];
    const renderTraces: TraceSummary[] = [];
    let bytes = 0;
    for (let r = 0; r < RENDERS; r++) {
      const page = await signedInPage(browser, s);
      const endTrace = await startTrace(page);
      await page.goto(`${s.apiUrl}/dashboard/#agents`);
      await page.waitForSelector(`#agents tr[data-agent="a-${String(AGENTS - 1).padStart(4, '0')}"]`, { timeout: 60_000 });
      renders.push(await page.evaluate<number>('performance.now()'));
      renderTraces.push(await endTrace());
      bytes = await page.evaluate<number>("performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource')).filter((e) => !e.name.includes('/api/v1/')).reduce((n, e) => n + e.transferSize, 0)");
      await page.context().close();
    }
    const sorted = sortedCopy(renders);
    const renderCpu = renderTraces.slice().sort((a, b) => a.busyCpuMs - b.busyCpuMs);
    const midRender = renderCpu[Math.floor(renderCpu.length / 2)] as TraceSummary;

    const page = await signedInPage(browser, s);
    await page.goto(`${s.apiUrl}/dashboard/#agent/logger`);
    await page.waitForSelector('#logs');
    await page.waitForSelector('#conn[data-state="open"]');
    await new Promise((r) => setTimeout(r, 1000));
    // Only the tasks while events stream in: not the page's load.
    await page.evaluate('window.__long.length = 0');
    const endTrace = await startTrace(page);
    const endProfile = process.env['DASHBOARD_BENCH_PROFILE'] === '1' ? await startProfile(page) : undefined;
    const loadBefore = loadavg()[0] as number;
    const sent = await sendAt(s, RATE, SECONDS);
    await new Promise((r) => setTimeout(r, 1000));
    const loadAfter = loadavg()[0] as number;
    const long = await page.evaluate<number[]>('window.__long');
    if (endProfile !== undefined) console.error(`dashboard: the page's functions with the most self time while events stream in:\n  ${(await endProfile()).join('\n  ')}`);
    const t = await endTrace();
    const perS = t.spanMs / 1000;
    const lines = await page.$$eval('#logs li', (x) => x.length);
    return [
      { name: 'dashboard: page transfer size (uncompressed)', value: Math.round(bytes / 1024), unit: 'KiB', budget: '< 200 KB', ok: bytes < 200 * 1024 },
      { name: `dashboard: first render of ${AGENTS} agents, P50 of ${RENDERS}`, value: Math.round(percentile(sorted, 0.5)), unit: 'ms', note: `worst ${Math.round(sorted[sorted.length - 1] ?? NaN)} ms; the page's main thread meanwhile (median run, trace): ${Math.round(midRender.busyCpuMs)} ms CPU (${describeBuckets(midRender.cpuBy)}), longest task ${Math.round(midRender.longestCpuMs)} ms CPU / ${Math.round(midRender.longestWallMs)} ms wall` },
      { name: `dashboard: long tasks (> 50 ms) while ${Math.round(sent.rate)} agent.log events/s stream in for ${SECONDS} s`, value: long.length, unit: 'tasks', budget: '0', ok: long.length === 0, note: `longest ${Math.round(Math.max(0, ...long))} ms (Long Tasks API, wall time); ${sent.accepted} messages accepted; ${lines} lines shown (the view keeps 1,000); load average ${loadBefore.toFixed(1)} to ${loadAfter.toFixed(1)}` },
      { name: 'dashboard: of those, tasks over 50 ms of the page\'s own CPU time (trace)', value: t.longCpu, unit: 'tasks', budget: '0', ok: t.longCpu === 0, note: `longest ${Math.round(t.longestCpuMs)} ms CPU; the trace's tasks over 50 ms of wall time: ${t.longWall} (longest ${Math.round(t.longestWallMs)} ms), their CPU: ${describeBuckets(t.longCpuBy)} ms` },
      { name: 'dashboard: main-thread CPU per second of stream (trace)', value: Math.round(t.busyCpuMs / perS), unit: 'ms/s', note: `${describeBuckets(t.cpuBy, perS)} ms/s; wall time in tasks ${Math.round(t.busyWallMs / perS)} ms/s (the rest of wall over CPU is the machine); \`other\` over the ${Math.round(perS)} s, ms: ${t.topOther.join(', ')}` },
    ];
  } finally {
    await browser?.close();
    await s.stop();
    s.cleanup();
  }
}

/** A page whose tab already holds the key (as after signing in) and records long tasks. */
async function signedInPage(browser: Browser, s: RunningServer): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript(`sessionStorage.setItem('caxton.apiKey', ${JSON.stringify(s.adminKey)}); window.__long = []; new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); }).observe({ type: 'longtask', buffered: true });`);
  return context.newPage();
}

/** Posts messages to the logging agent at `rate` per second (batches every 100 ms) for `seconds`. */
async function sendAt(s: RunningServer, rate: number, seconds: number): Promise<{ accepted: number; rate: number }> {
  const perTick = Math.max(1, Math.round(rate / 10));
  const start = Date.now();
  let accepted = 0;
  for (let tick = 0; tick < seconds * 10; tick++) {
    await Promise.all(Array.from({ length: perTick }, async (_, i) => {
      const r = await api(s, 'POST', '/messages', { performative: 'inform', sender: 'bench', receiver: 'logger', content: `line ${tick}.${i}` });
      if (r.status === 202) accepted++;
    }));
    const wait = start + (tick + 1) * 100 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  return { accepted, rate: accepted / ((Date.now() - start) / 1000) };
}
