/**
 * `backup prune`: applies the retention rule (retention.ts) to a node's catalog and deletes what it
 * does not keep, from its location and from the catalog. A backup whose location cannot be reached
 * stays in the catalog and is reported, so a later prune can finish the job.
 */
import { isCaxtonError } from '../../errors.js';
import { readCatalog, removeFromCatalog } from './catalog.js';
import { applyRetention, type RetentionRule } from './retention.js';
import { openStore, type S3Options } from './store.js';

export interface PruneResult {
  readonly kept: string[];
  readonly removed: string[];
  /** Backups that should have gone but could not be deleted, with why. */
  readonly failed: { readonly id: string; readonly reason: string }[];
}

export async function pruneBackups(dataDir: string, rule: RetentionRule, s3: S3Options = {}): Promise<PruneResult> {
  const entries = readCatalog(dataDir);
  const { keep, remove } = applyRetention(entries, rule);
  const removed: string[] = [];
  const failed: { id: string; reason: string }[] = [];
  for (const id of remove) {
    const e = entries.find((x) => x.id === id);
    if (e === undefined) continue;
    try {
      const store = await openStore(e.location, s3);
      await store.remove(`${id}/`);
      removed.push(id);
    } catch (err) {
      failed.push({ id, reason: isCaxtonError(err) ? err.message : String(err) });
    }
  }
  removeFromCatalog(dataDir, new Set(removed));
  return { kept: keep, removed, failed };
}
