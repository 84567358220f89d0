/**
 * API keys and roles. A route declares the permission it needs in its `config.permission`; routes
 * without one are public (health, readiness, the OpenAPI document). Keys are looked up by their
 * SHA-256, so the database never holds a usable key.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CaxtonError } from '../errors.js';
import type { ApiKeyRecord, ApiKeyStore } from '../storage/index.js';

export const PERMISSIONS = ['read', 'deploy', 'control', 'send', 'admin'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const ROLES = {
  viewer: ['read'],
  developer: ['read', 'deploy', 'send'],
  operator: ['read', 'control', 'send'],
  admin: PERMISSIONS,
} as const satisfies Record<string, readonly Permission[]>;
export type Role = keyof typeof ROLES;
export const ROLE_NAMES = Object.keys(ROLES) as Role[];

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && Object.hasOwn(ROLES, v);
}

export function roleAllows(role: string, permission: Permission): boolean {
  return isRole(role) && (ROLES[role] as readonly Permission[]).includes(permission);
}

/** An API key's name: 1 to 100 characters, so it reads unescaped in logs and `caxton key list`. */
export const KEY_NAME_PATTERN = '^[A-Za-z0-9_.@:-]+$';
export const KEY_NAME_RULE = 'a key name (1 to 100 characters from A-Z a-z 0-9 _ . @ : -)';

/** The file the first start writes the admin key to, and the local CLI reads. */
export const ADMIN_KEY_FILE = 'admin.key';

export function newKey(): string {
  return `cax_${randomBytes(32).toString('base64url')}`;
}

/**
 * Makes sure `<dataDir>/admin.key` holds a working admin key: on the first start (or when the file
 * was deleted, or holds a revoked key) a new admin key is created and written, readable by the owner
 * only. Whoever can write the data dir controls the node anyway.
 */
export function ensureAdminKey(store: ApiKeyStore, dataDir: string): { created: boolean; path: string } {
  const path = join(dataDir, ADMIN_KEY_FILE);
  if (existsSync(path)) {
    const key = readFileSync(path, 'utf8').trim();
    const rec = store.find(key);
    if (rec !== undefined && rec.role === 'admin') return { created: false, path };
  }
  const key = newKey();
  store.add({ id: randomUUID(), name: 'local-admin', role: 'admin' }, key);
  writeFileSync(path, `${key}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return { created: true, path };
}

/** The key presented by a request, from `Authorization: Bearer` or `X-Caxton-Api-Key`. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers['authorization'];
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m !== null) return m[1];
  }
  const k = headers['x-caxton-api-key'];
  return typeof k === 'string' && k.length > 0 ? k.trim() : undefined;
}

/** Checks a request's key against a permission. Throws 401/403 CaxtonErrors. */
export function authorize(store: ApiKeyStore, key: string | undefined, permission: Permission): ApiKeyRecord {
  if (key === undefined) {
    throw new CaxtonError('CAXTON_ERR_API_UNAUTHORIZED', 'this route needs an API key: send "Authorization: Bearer <key>"');
  }
  // Keys are short; anything longer is not one of ours, and is not worth hashing.
  const rec = key.length <= 256 ? store.find(key) : undefined;
  if (rec === undefined) throw new CaxtonError('CAXTON_ERR_API_UNAUTHORIZED', 'the API key is not valid on this node (unknown or revoked)');
  if (!roleAllows(rec.role, permission)) {
    throw new CaxtonError('CAXTON_ERR_API_FORBIDDEN', `key "${rec.name}" has role ${rec.role}, which does not include the "${permission}" permission this route needs`, {
      role: rec.role,
      permission,
    });
  }
  return rec;
}

/**
 * Checks a verified client certificate (./client-cert.ts) against a permission, as `authorize` checks
 * a key: its role is the OU. Throws 401 for a certificate without a role, 403 for a role that lacks it.
 */
export function authorizeCert(cert: { name: string; role: Role | undefined }, permission: Permission): void {
  if (cert.role === undefined) {
    throw new CaxtonError('CAXTON_ERR_API_UNAUTHORIZED', `the client certificate "${cert.name}" carries no role (its OU is not one of ${ROLE_NAMES.join(', ')}), and no API key was sent: send "Authorization: Bearer <key>", or use a certificate from \`caxton security gen-client-cert --role <role>\``);
  }
  if (!roleAllows(cert.role, permission)) {
    throw new CaxtonError('CAXTON_ERR_API_FORBIDDEN', `client certificate "${cert.name}" has role ${cert.role}, which does not include the "${permission}" permission this route needs`, {
      role: cert.role,
      permission,
    });
  }
}
