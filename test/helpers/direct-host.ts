/** A worker as the direct path (src/sandbox/worker/direct-link.ts) sees it, for the direct-link unit tests. */
import { DIRECT_COUNTERS, type DirectHost } from '../../src/sandbox/worker/direct-link.js';
import type { PriorityLevel } from '../../src/sandbox/worker/mailbox.js';

export interface Delivery {
  readonly to: string;
  readonly json: string;
  readonly priority: PriorityLevel;
  readonly origin: string;
}

export interface Fence {
  readonly name: string;
  readonly node: string;
  readonly token: string;
  readonly host: string;
  readonly port: number;
}

/** A worker as the direct path sees it, with plain arrays for everything it is asked to do. */
export class FakeHost implements DirectHost {
  readonly counters = new Float64Array(DIRECT_COUNTERS);
  /** The agents this worker hosts: deliver() takes messages only for these. */
  readonly hosted = new Set<string>();
  readonly delivered: Delivery[] = [];
  /** deliver() calls for names not hosted here (answered false). */
  readonly notHosted: Delivery[] = [];
  readonly viaMainBatches: (string | number)[][] = [];
  readonly fences: Fence[] = [];
  readonly warnings: string[] = [];
  drains = 0;
  /** The main thread's part: what happens to a fence once asked for (the test wires it). */
  onFence: ((f: Fence) => void) | undefined;

  deliver(to: string, json: string, priority: PriorityLevel, origin: string): boolean {
    const d = { to, json, priority, origin };
    if (!this.hosted.has(to)) {
      this.notHosted.push(d);
      return false;
    }
    this.delivered.push(d);
    return true;
  }

  viaMain(batch: (string | number)[]): void {
    this.viaMainBatches.push([...batch]);
  }

  fence(name: string, node: string, token: string, host: string, port: number): void {
    const f = { name, node, token, host, port };
    this.fences.push(f);
    this.onFence?.(f);
  }

  drain(): void {
    this.drains++;
  }

  warn(text: string): void {
    this.warnings.push(text);
  }
}
