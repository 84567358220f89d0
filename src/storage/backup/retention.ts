/**
 * `backup prune --keep-last N --keep-daily D`: which backups stay. Pure, so that the rule is tested on
 * its own (test/unit/storage/backup/retention.test.ts).
 *
 * - the N newest backups stay;
 * - for each of the D most recent days (UTC) that have a backup, that day's newest stays;
 * - a backup that stays keeps its whole chain: an incremental is useless without its parents.
 * Everything else goes. Both 0 keeps nothing but what a chain needs (and nothing at all then).
 */

export interface RetentionRule {
  readonly keepLast: number;
  readonly keepDaily: number;
}

export interface Dated {
  readonly id: string;
  /** ISO time. */
  readonly created_at: string;
  readonly parent: string | null;
}

/** The ids to keep, and those to delete (newest first). */
export function applyRetention(backups: readonly Dated[], rule: RetentionRule): { keep: string[]; remove: string[] } {
  const newest = [...backups].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || (a.id < b.id ? 1 : -1));
  const keep = new Set<string>();
  newest.slice(0, Math.max(0, rule.keepLast)).forEach((b) => keep.add(b.id));
  const days = new Set<string>();
  for (const b of newest) {
    if (days.size >= rule.keepDaily) break;
    const day = new Date(b.created_at).toISOString().slice(0, 10);
    if (days.has(day)) continue;
    days.add(day);
    keep.add(b.id);
  }
  const byId = new Map(newest.map((b) => [b.id, b]));
  for (const id of [...keep]) {
    let p = byId.get(id)?.parent ?? null;
    while (p !== null && !keep.has(p) && byId.has(p)) {
      keep.add(p);
      p = byId.get(p)?.parent ?? null;
    }
  }
  return { keep: newest.filter((b) => keep.has(b.id)).map((b) => b.id), remove: newest.filter((b) => !keep.has(b.id)).map((b) => b.id) };
}
