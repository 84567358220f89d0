/**
 * Finding and checking backups: a backup's manifest, its chain back to a full backup, the backups at
 * a location, and `backup verify` (every byte of every file of the chain against its manifest).
 */
import { CaxtonError, isCaxtonError } from '../../errors.js';
import { MANIFEST, parseManifest, requireFile, storedBytes, type Manifest } from './manifest.js';
import { openStore, type BackupStore, type S3Options } from './store.js';
import type { BackupProgress } from './create.js';
import { memorySink, nullSink, readFile } from './streams.js';

export async function loadManifest(store: BackupStore, id: string): Promise<Manifest> {
  const where = `${id}/${MANIFEST}`;
  const m = memorySink();
  const source = await store.get(where);
  await new Promise<void>((resolve, reject) => {
    source.on('error', reject);
    source.on('end', resolve);
    source.pipe(m.sink);
  });
  const manifest = parseManifest(m.bytes().toString('utf8'), where);
  if (manifest.id !== id) throw new CaxtonError('CAXTON_ERR_BACKUP_CORRUPT', `${where}: it is the manifest of ${manifest.id}, not of ${id}`, { file: where });
  return manifest;
}

/** One backup of a chain and the store it is in. */
export interface ChainLink {
  readonly store: BackupStore;
  readonly manifest: Manifest;
}

/**
 * The chain of `id`, oldest (the full backup) first. A parent is looked for beside its child first,
 * then at the location the child recorded. Throws CAXTON_ERR_BACKUP_CHAIN naming a missing parent.
 */
export async function resolveChain(store: BackupStore, id: string, s3: S3Options = {}): Promise<ChainLink[]> {
  const chain: ChainLink[] = [{ store, manifest: await loadManifest(store, id) }];
  for (;;) {
    const child = chain[0] as ChainLink;
    const ref = child.manifest.parent;
    if (child.manifest.type === 'full' || ref === null) return chain;
    if (chain.length > 10_000) throw new CaxtonError('CAXTON_ERR_BACKUP_CHAIN', `${id}: the chain does not end in a full backup`, { parent: ref.id });
    let found: ChainLink | undefined;
    for (const where of [child.store, ref.location]) {
      try {
        const s = typeof where === 'string' ? await openStore(where, s3) : where;
        found = { store: s, manifest: await loadManifest(s, ref.id) };
        break;
      } catch (e) {
        if (!isCaxtonError(e, 'CAXTON_ERR_BACKUP_NOT_FOUND')) throw e;
      }
    }
    if (found === undefined) {
      throw new CaxtonError('CAXTON_ERR_BACKUP_CHAIN', `${child.manifest.id} is incremental on ${ref.id}, which is neither beside it (${child.store.url}) nor at ${ref.location}: the chain is broken`, { parent: ref.id, backup: child.manifest.id });
    }
    chain.unshift(found);
  }
}

export interface VerifyResult {
  readonly id: string;
  readonly location: string;
  /** Oldest first. */
  readonly chain: string[];
  readonly files: number;
  readonly bytes: number;
  readonly created_at: string;
  readonly node: string;
  readonly type: string;
}

/** Reads every file of the chain of `id` and checks each against its manifest. */
export async function verifyBackup(o: { source: string; id: string; s3?: S3Options; onProgress?: (p: BackupProgress) => void }): Promise<VerifyResult> {
  const store = await openStore(o.source, o.s3);
  const chain = await resolveChain(store, o.id, o.s3);
  const total = chain.reduce((n, l) => n + storedBytes(l.manifest), 0);
  let done = 0;
  let files = 0;
  let previous: Manifest | undefined;
  for (const link of chain) {
    for (const f of link.manifest.files) {
      await readFile(link.store, link.manifest.id, f, nullSink(), (n) => o.onProgress?.({ phase: 'verifying', doneBytes: (done += n), totalBytes: total }));
      files++;
    }
    if (previous !== undefined) checkLink(previous, link.manifest);
    previous = link.manifest;
  }
  const last = (chain.at(-1) as ChainLink).manifest;
  return { id: o.id, location: store.url, chain: chain.map((l) => l.manifest.id), files, bytes: total, created_at: last.created_at, node: last.node, type: last.type };
}

export interface ListedBackup {
  readonly id: string;
  readonly type: string;
  readonly parent: string | null;
  readonly node: string;
  readonly created_at: string;
  readonly size_bytes: number;
  readonly location: string;
}

/** The backups at a location (each `<id>/manifest.json`), oldest first; unreadable manifests are skipped. */
export async function listBackups(location: string, s3: S3Options = {}): Promise<ListedBackup[]> {
  const store = await openStore(location, s3);
  const ids = (await store.list('')).filter((k) => k.endsWith(`/${MANIFEST}`) && k.split('/').length === 2).map((k) => k.split('/')[0] as string);
  const out: ListedBackup[] = [];
  for (const id of ids) {
    try {
      const m = await loadManifest(store, id);
      out.push({ id, type: m.type, parent: m.parent?.id ?? null, node: m.node, created_at: m.created_at, size_bytes: storedBytes(m), location: store.url });
    } catch {
      // listed as found by verify, not here
    }
  }
  return out.sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
}

/**
 * An incremental must sit on the very backup it was computed against, not on another backup that
 * happens to have the parent's id: its parent's page hashes are pinned by their sha256.
 */
export function checkLink(parent: Manifest, child: Manifest): void {
  if (child.parent?.page_hashes_sha256 !== requireFile(parent, 'page-hashes').content_sha256) {
    throw new CaxtonError('CAXTON_ERR_BACKUP_CHAIN', `${child.id} was taken against another ${parent.id} than the one found at ${parent.id}/`, { parent: parent.id, backup: child.id });
  }
}
