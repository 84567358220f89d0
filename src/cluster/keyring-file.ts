/**
 * The gossip keyring on disk (`<data_dir>/gossip.keyring`), as serf's -keyring-file: a key rotation
 * changes the keys at run time, and the node must come back after a restart with the keys the
 * cluster uses now, not with the ones its config file was written with. JSON: an array of base64
 * keys, the primary first; mode 0600; replaced atomically.
 */
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateKey, type Keyring } from './wire/index.js';

export const KEYRING_FILE = 'gossip.keyring';

/** The keys in `path`, primary first; undefined when there is no file. Throws with the path on bad content. */
export function loadKeyringFile(path: string): Uint8Array[] | undefined {
  if (!existsSync(path)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not JSON (${(e as Error).message}); delete it to start from security.cluster.gossip.keys again`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((k): k is string => typeof k === 'string')) {
    throw new Error(`${path}: expected a JSON array of base64 keys, primary first; delete it to start from security.cluster.gossip.keys again`);
  }
  return parsed.map((k, i) => {
    const key = new Uint8Array(Buffer.from(k, 'base64'));
    try {
      validateKey(key);
    } catch {
      throw new Error(`${path}: key ${i} is ${key.length} bytes, not 16, 24 or 32`);
    }
    return key;
  });
}

/** Writes the ring's keys, primary first. */
export function saveKeyringFile(path: string, ring: Keyring): void {
  const primary = ring.getPrimaryKey();
  const b64 = (k: Uint8Array): string => Buffer.from(k).toString('base64');
  const rest = ring.getKeys().map(b64).filter((k) => primary === undefined || k !== b64(primary));
  const keys = primary === undefined ? rest : [b64(primary), ...rest];
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(keys)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/**
 * The keys a node starts with: the keyring file in `dataDir` when a rotation wrote one (it holds what
 * the cluster uses now), else the configured keys. `warning` says when the file overrides a config
 * that names other keys.
 */
export function startupGossipKeys(dataDir: string, configured: readonly Uint8Array[] | undefined): { keys: readonly Uint8Array[] | undefined; file: string; fromFile: boolean; warning?: string } {
  const file = join(dataDir, KEYRING_FILE);
  const saved = loadKeyringFile(file);
  if (saved === undefined) return { keys: configured, file, fromFile: false };
  const b64 = (ks: readonly Uint8Array[]): string => ks.map((k) => Buffer.from(k).toString('base64')).join(',');
  const differs = configured === undefined || b64(configured) !== b64(saved);
  return {
    keys: saved,
    file,
    fromFile: true,
    ...(differs ? { warning: `gossip keys come from ${file} (written by a key rotation), not from security.cluster.gossip.keys; delete the file to use the config's keys` } : {}),
  };
}
