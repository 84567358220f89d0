/**
 * Host-wide resource readings for the caxton_system_* gauges. Host-wide on purpose: the runbook uses
 * them to judge whether the machine has headroom, which the process' own numbers (process_cpu_*,
 * nodejs_*) cannot tell.
 */
import { cpus, freemem } from 'node:os';
import { readFile } from 'node:fs/promises';

/** Cumulative CPU time of all cores, ms: busy (everything but idle) and total. */
export interface CpuTimes {
  readonly busy: number;
  readonly total: number;
}

export function cpuTimes(): CpuTimes {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    const all = t.user + t.nice + t.sys + t.idle + t.irq;
    total += all;
    busy += all - t.idle;
  }
  return { busy, total };
}

/**
 * CPU use of the whole host, in percent of all cores, over the time between two readings. Read on
 * each scrape, so the value covers the scrape interval; no timer runs between scrapes. The first
 * reading covers the time since construction.
 */
export class CpuSampler {
  readonly #read: () => CpuTimes;
  #last: CpuTimes;
  #percent = 0;

  /** `read` is for tests; it defaults to os.cpus(). */
  constructor(read: () => CpuTimes = cpuTimes) {
    this.#read = read;
    this.#last = read();
  }

  /** Percent busy since the previous call (0..100). Two calls within one clock tick repeat the last value. */
  sample(): number {
    const now = this.#read();
    const total = now.total - this.#last.total;
    const busy = now.busy - this.#last.busy;
    if (total > 0) {
      this.#percent = Math.min(100, Math.max(0, (100 * busy) / total));
      this.#last = now;
    }
    return this.#percent;
  }
}

/**
 * Memory available to new work, in bytes: MemAvailable from /proc/meminfo where there is one (it counts
 * reclaimable page cache, which os.freemem() — MemFree — does not, so freemem() would report a busy
 * Linux box as nearly full), else os.freemem().
 */
export async function memoryAvailableBytes(meminfoPath = '/proc/meminfo'): Promise<number> {
  try {
    const kb = parseMemAvailableKb(await readFile(meminfoPath, 'utf8'));
    if (kb !== undefined) return kb * 1024;
  } catch {
    // not Linux, or /proc not mounted
  }
  return freemem();
}

/** The MemAvailable line of /proc/meminfo, in kB, if present. */
export function parseMemAvailableKb(text: string): number | undefined {
  const m = /^MemAvailable:\s+(\d+)\s*kB/m.exec(text);
  return m === null ? undefined : Number(m[1]);
}
