/**
 * Keeps the directory told about this node's agents: the node is the authority for the agents it
 * hosts (docs/cluster-routing.md, "Directory"), so every change of one of them (started, stopped,
 * capabilities or topics registered, removed, moved here by failover) is announced. Changes are
 * gathered per agent and announced once per event-loop turn, so that an agent registering ten
 * capabilities in its agent_init costs one update.
 */
import type { ClusterDirectory, HostedAgent } from './directory.js';

/** What this node hosts, as the directory holds it. */
export interface HostedSource {
  /** The agent as the directory should hold it now, or undefined when this node no longer hosts it. */
  hosted(name: string): HostedAgent | undefined;
}

export class DirectoryAnnouncer {
  readonly #pending = new Set<string>();
  #scheduled = false;
  #closed = false;

  constructor(
    readonly directory: ClusterDirectory,
    readonly source: HostedSource,
  ) {}

  /** Agent `name` changed (or may have): its entry is announced on the next turn. */
  changed(name: string): void {
    if (this.#closed) return;
    this.#pending.add(name);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Announces what changed since the last flush now. */
  flush(): void {
    this.#scheduled = false;
    if (this.#closed) return;
    for (const name of this.#pending) {
      const a = this.source.hosted(name);
      if (a === undefined) this.directory.remove(name);
      else this.directory.upsert(a);
    }
    this.#pending.clear();
  }

  close(): void {
    this.#closed = true;
    this.#pending.clear();
  }
}
