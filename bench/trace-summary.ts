/**
 * Where a page's main thread spent its time, from Chromium's own trace (the CDP Tracing domain): for the
 * dashboard bench, so that a reader can tell the page's work from the machine's starvation.
 *
 * A top-level task (`RunTask`) has a wall duration (`dur`) and a thread time (`tdur`, the CPU time the
 * thread really ran). On a loaded machine a task can take 300 ms of wall time for 20 ms of CPU: the
 * Long Tasks API counts it, but the page did not cause it. Thread time over 50 ms is the page's own.
 * Self time of each nested event goes to a bucket (script, style, layout, paint, gc...) by its name, or
 * its nearest named ancestor's.
 */
import type { CDPSession, Page } from 'playwright-core';

interface TraceEvent {
  readonly name: string;
  readonly ph: string;
  readonly pid: number;
  readonly tid: number;
  readonly ts: number;
  readonly dur?: number;
  readonly tdur?: number;
  readonly args?: { readonly name?: string };
}

export type Bucket = 'script' | 'style' | 'layout' | 'paint' | 'gc' | 'parse' | 'other';

export interface TraceSummary {
  /** Wall time the traced interval lasted, ms. */
  readonly spanMs: number;
  /** Sum of the main thread's top-level tasks: wall (ms) and thread CPU (ms). */
  readonly busyWallMs: number;
  readonly busyCpuMs: number;
  /** CPU ms per bucket (self time). */
  readonly cpuBy: Record<Bucket, number>;
  /** Tasks over 50 ms of wall time, and of thread (CPU) time: the latter are the page's own. */
  readonly longWall: number;
  readonly longCpu: number;
  readonly longestWallMs: number;
  readonly longestCpuMs: number;
  /** The CPU buckets of the tasks over 50 ms of wall time, summed. */
  readonly longCpuBy: Record<Bucket, number>;
  /** The events with the most self CPU in bucket `other`, "name ms", largest first. */
  readonly topOther: string[];
}

const CATEGORIES = ['toplevel', 'devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'v8.execute', 'blink.user_timing'];

/** Starts a trace of `page`; the returned function ends it and gives its events. */
export async function startTrace(page: Page): Promise<() => Promise<TraceSummary>> {
  const cdp: CDPSession = await page.context().newCDPSession(page);
  const events: TraceEvent[] = [];
  cdp.on('Tracing.dataCollected', (e) => {
    // The protocol types a trace event as a bag of fields: these are the ones read here.
    for (const x of e.value) events.push(x as unknown as TraceEvent);
  });
  await cdp.send('Tracing.start', { traceConfig: { includedCategories: CATEGORIES }, transferMode: 'ReportEvents' });
  return async () => {
    const complete = new Promise<void>((r) => cdp.once('Tracing.tracingComplete', () => r()));
    await cdp.send('Tracing.end');
    await complete;
    await cdp.detach();
    return summarize(events);
  };
}

function bucketOf(name: string): Bucket | undefined {
  if (/GC|GarbageCollect|Sweep|Marking/.test(name)) return 'gc';
  if (name === 'Layout' || name === 'LayoutShift' || name === 'UpdateLayoutTree.Layout') return 'layout';
  if (name === 'UpdateLayoutTree' || name === 'RecalculateStyles' || name === 'ParseAuthorStyleSheet' || name === 'ScheduleStyleRecalculation') return 'style';
  if (/^(Paint|PrePaint|Layerize|UpdateLayer|UpdateLayerTree|PaintImage|CompositeLayers|Commit|RasterTask|Decode)/.test(name)) return 'paint';
  if (name === 'ParseHTML') return 'parse';
  if (/^(FunctionCall|EvaluateScript|v8\.|V8\.|RunMicrotasks|TimerFire|FireAnimationFrame|EventDispatch|XHR|v8\.run|CompileScript|CompileCode)/.test(name)) return 'script';
  return undefined;
}

const zero = (): Record<Bucket, number> => ({ script: 0, style: 0, layout: 0, paint: 0, gc: 0, parse: 0, other: 0 });

export function summarize(all: readonly TraceEvent[]): TraceSummary {
  // The page's renderer main thread: of the threads named CrRendererMain, the busiest.
  const mains = new Set(all.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`));
  const busy = new Map<string, number>();
  for (const e of all) if (e.ph === 'X' && e.name === 'RunTask' && mains.has(`${e.pid}:${e.tid}`)) busy.set(`${e.pid}:${e.tid}`, (busy.get(`${e.pid}:${e.tid}`) ?? 0) + (e.dur ?? 0));
  const main = [...busy].sort((a, b) => b[1] - a[1])[0]?.[0];
  const xs = all.filter((e) => e.ph === 'X' && `${e.pid}:${e.tid}` === main && e.dur !== undefined).sort((a, b) => a.ts - b.ts || (b.dur ?? 0) - (a.dur ?? 0));
  // From the main thread's first task to the end of its last (a loop: a trace has too many events to spread).
  let first = Infinity;
  let last = -Infinity;
  for (const e of xs) {
    first = Math.min(first, e.ts);
    last = Math.max(last, e.ts + (e.dur ?? 0));
  }
  const spanMs = xs.length === 0 ? 0 : (last - first) / 1000;

  const cpuBy = zero();
  const longCpuBy = zero();
  let busyWallMs = 0;
  let busyCpuMs = 0;
  let longWall = 0;
  let longCpu = 0;
  let longestWallMs = 0;
  let longestCpuMs = 0;
  // A stack of open events: each frame's self CPU is its thread time less its children's.
  interface Frame { e: TraceEvent; end: number; bucket: Bucket; childCpu: number; top: Frame | null }
  const stack: Frame[] = [];
  const other = new Map<string, number>();
  const close = (f: Frame) => {
    const cpu = (f.e.tdur ?? f.e.dur ?? 0) / 1000;
    const self = Math.max(0, cpu - f.childCpu);
    cpuBy[f.bucket] += self;
    if (f.bucket === 'other') other.set(f.e.name, (other.get(f.e.name) ?? 0) + self);
    if (f.top !== null && (f.top.e.dur ?? 0) > 50_000) longCpuBy[f.bucket] += self;
  };
  for (const e of xs) {
    while (stack.length > 0 && (stack[stack.length - 1] as Frame).end <= e.ts) close(stack.pop() as Frame);
    const parent = stack[stack.length - 1];
    if (parent === undefined && e.name !== 'RunTask') continue;
    const end = e.ts + (e.dur ?? 0);
    const bucket = bucketOf(e.name) ?? parent?.bucket ?? 'other';
    if (parent !== undefined) parent.childCpu += (e.tdur ?? e.dur ?? 0) / 1000;
    const f: Frame = { e, end, bucket, childCpu: 0, top: null };
    f.top = parent === undefined ? f : parent.top;
    if (parent === undefined) {
      const wall = (e.dur ?? 0) / 1000;
      const cpu = (e.tdur ?? e.dur ?? 0) / 1000;
      busyWallMs += wall;
      busyCpuMs += cpu;
      if (wall > 50) longWall++;
      if (cpu > 50) longCpu++;
      longestWallMs = Math.max(longestWallMs, wall);
      longestCpuMs = Math.max(longestCpuMs, cpu);
    }
    stack.push(f);
  }
  while (stack.length > 0) close(stack.pop() as Frame);
  const topOther = [...other].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, v]) => `${k} ${Math.round(v)}`);
  return { spanMs, busyWallMs, busyCpuMs, cpuBy, longWall, longCpu, longestWallMs, longestCpuMs, longCpuBy, topOther };
}

/** "script 120, layout 40, ..." (ms), largest first, buckets under 1 ms left out. */
export function describeBuckets(by: Record<Bucket, number>, per = 1): string {
  return Object.entries(by)
    .filter(([, v]) => v / per >= 1)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${Math.round(v / per)}`)
    .join(', ');
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

/**
 * The CDP Profiler's sampled CPU profile of `page` (diagnostic, DASHBOARD_BENCH_PROFILE=1): the ending
 * function gives the functions with the most self time, "name (file:line) ms".
 */
export async function startProfile(page: Page): Promise<() => Promise<string[]>> {
  const cdp: CDPSession = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
  await cdp.send('Profiler.start');
  return async () => {
    const { profile } = (await cdp.send('Profiler.stop')) as unknown as { profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] } };
    await cdp.detach();
    const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map<string, number>();
    profile.samples.forEach((id, i) => {
      const f = byNode.get(id)?.callFrame;
      if (f === undefined) return;
      const key = `${f.functionName || '(anonymous)'} (${f.url.split('/').pop() ?? ''}:${f.lineNumber + 1})`;
      self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i + 1] ?? 0) / 1000);
    });
    return [...self].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, v]) => `${k} ${Math.round(v)} ms`);
  };
}
