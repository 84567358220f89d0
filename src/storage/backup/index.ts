/** Backups of a node's state (docs/operations.md, "Backups"): create, list, verify, restore, prune. */
export { createBackup, freeBackupId, snapshotDatabase } from './create.js';
export type { BackupPhase, BackupProgress, BackupResult, CreateOptions, NodeFiles } from './create.js';
export { restoreBackup } from './restore.js';
export type { RestoreOptions, RestoreResult, RestoredFile } from './restore.js';
export { listBackups, loadManifest, resolveChain, verifyBackup } from './read.js';
export type { ListedBackup, VerifyResult } from './read.js';
export { addToCatalog, CATALOG_FILE, findInCatalogs, readCatalog, removeFromCatalog } from './catalog.js';
export type { CatalogEntry } from './catalog.js';
export { applyRetention } from './retention.js';
export type { RetentionRule } from './retention.js';
export { pruneBackups } from './prune.js';
export type { PruneResult } from './prune.js';
export { childLocation, isS3Url, openStore } from './store.js';
export type { BackupStore, S3Options } from './store.js';
export { BACKUP_FORMAT, MANIFEST } from './manifest.js';
export type { BackupType, Manifest, ManifestFile } from './manifest.js';
