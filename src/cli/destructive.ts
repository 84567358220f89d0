/**
 * Commands that destroy something or take something out of service: removing an agent (and its
 * state), stopping, suspending or restarting agents, leaving the cluster, revoking a key, changing the
 * gossip keyring, promoting or rolling back a canary, an emergency stop; and changing circuit
 * breakers: opening them takes agents out of service, resetting them discards what they tripped on
 * and sends traffic back to agents they were protecting.
 *
 * The CLI never suggests one of them for a mistyped command ("did you mean remove?" after
 * `caxton cluster rejoin` invites running the opposite of what was meant). Each command file marks
 * its own; test/unit/cli/unknown-command.test.ts checks the whole tree against DESTRUCTIVE_WORDS.
 */
import type { Command } from 'commander';

const marked = new WeakSet<Command>();

export function destructive(cmd: Command): Command {
  marked.add(cmd);
  return cmd;
}

export function isDestructive(cmd: Command): boolean {
  return marked.has(cmd);
}

/** Command names that are destructive wherever they appear in the tree (a name alone can tell). */
export const DESTRUCTIVE_WORDS: readonly string[] = [
  'remove', 'delete', 'undeploy', 'leave', 'stop', 'suspend', 'purge', 'reset', 'revoke', 'restart', 'rollback', 'promote',
  'upgrade', 'kill', 'drop', 'destroy', 'wipe', 'clear', 'evict', 'prune', 'shutdown', 'isolate', 'shed-load', 'force-leave',
];
