/**
 * Where a node keeps the last upgrade plan: `<data-dir>/upgrade.json`, written whole (temporary file,
 * then rename), so a crash leaves the old plan or the new one.
 *
 * A file rather than a table: the plan must be read by both releases of an upgrade, and by the older
 * one after a rollback. A migration would make every release before it refuse the database
 * ("newer than this Caxton", src/storage/database.ts), which is the very rollback this plan is for.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { UpgradePlan } from './plan.js';

export const PLAN_FILE = 'upgrade.json';

export class UpgradeStore {
  readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, PLAN_FILE);
  }

  /** The plan on disk; undefined when there is none, or it is not readable (logged by the caller). */
  load(): UpgradePlan | undefined {
    if (!existsSync(this.path)) return undefined;
    const p = JSON.parse(readFileSync(this.path, 'utf8')) as UpgradePlan;
    if (typeof p !== 'object' || p === null || typeof p.id !== 'string' || !Array.isArray(p.steps) || typeof p.seq !== 'number') throw new Error(`${this.path} does not hold an upgrade plan`);
    return p;
  }

  save(p: UpgradePlan): void {
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(p, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.path);
  }

  /**
   * A copy from the coordinator: kept when it is a later state of this plan, or a plan started later
   * (a rollback replaces the upgrade it undoes; the start times are ISO texts from the coordinator's
   * clock, so they compare as text).
   */
  accept(p: UpgradePlan, mine: UpgradePlan | undefined): boolean {
    if (mine !== undefined && (mine.id === p.id ? mine.seq >= p.seq : mine.started_at > p.started_at || (mine.started_at === p.started_at && mine.id > p.id))) return false;
    this.save(p);
    return true;
  }
}
