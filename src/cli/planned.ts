/**
 * The operational runbook's commands that this version does not have yet, by the part of Caxton they
 * come with, so that `caxton backup create` says what is missing and what exists instead of
 * failing on an option of a command that is not there. When a command arrives, drop it here
 * (test/unit/cli/unknown-command.test.ts fails while a planned command also exists).
 */

export interface PlannedArea {
  /** What the commands come with. */
  readonly arrives: string;
  /** Command paths below `caxton`, as the runbook writes them. */
  readonly commands: readonly string[];
  /** What this version offers meanwhile, never a destructive command. */
  readonly meanwhile?: string;
}

export const PLANNED: readonly PlannedArea[] = [
  {
    arrives: 'the backup milestone',
    commands: ['backup create', 'backup verify', 'backup restore'],
    meanwhile: 'a copy of <data-dir>/caxton.db taken while the node is stopped is a complete backup (docs/operations.md)',
  },
];

/** The planned commands at or below `path` (`security`, `cluster rejoin`), with their area. */
export function plannedUnder(path: string): { area: PlannedArea; commands: string[] } | undefined {
  for (const area of PLANNED) {
    const commands = area.commands.filter((c) => c === path || c.startsWith(`${path} `));
    if (commands.length > 0) return { area, commands };
  }
  return undefined;
}
