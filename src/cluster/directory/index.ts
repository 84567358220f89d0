/** The cluster directory's public entry (docs/cluster-routing.md#directory). */
export { ClusterDirectory, DIRECTORY_WIRE } from './directory.js';
export type { DirectoryOptions, DirectoryStats, HostedAgent, Provider, WhereIs } from './directory.js';
export { clusterView, StaticView } from './view.js';
export type { MembershipView } from './view.js';
export { computeDrift, compareState } from './drift.js';
export type { DriftReport, DriftRow, NodeReport, StateRow } from './drift.js';
export type { DirectoryEntry, EntryKind } from './entry.js';
