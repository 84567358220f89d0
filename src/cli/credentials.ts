/**
 * Where the CLI finds the API and its key. The key comes from the first of: `--api-key`, the
 * environment variable CAXTON_API_KEY, the file `<data-dir>/admin.key` that a node writes on its first
 * start (data dir from `--data-dir`, CAXTON_DATA_DIR, or ./.caxton). Without any, requests go out
 * without a key and the API answers 401, which the CLI explains.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';
export const DEFAULT_DATA_DIR = './.caxton';
export const ADMIN_KEY_FILE = 'admin.key';

export type KeySource =
  | { kind: 'flag' }
  | { kind: 'env'; variable: string }
  | { kind: 'file'; path: string }
  | { kind: 'none'; path: string; problem: string };

export type UrlSource = 'flag' | 'env' | 'default';

/**
 * The files for an HTTPS API beyond the system's trust store (docs/cli.md): the CA that issued the
 * node's certificate, and a client certificate with its key. Paths, as given.
 */
export interface TlsFiles {
  readonly caCert?: string;
  readonly clientCert?: string;
  readonly clientKey?: string;
}

export interface Connection {
  /** Without a trailing slash or `/api/v1`. */
  readonly apiUrl: string;
  readonly urlSource: UrlSource;
  readonly apiKey: string | undefined;
  readonly keySource: KeySource;
  /** undefined: none given, and fetch uses the system's CAs (an https:// URL works with a public certificate). */
  readonly tls?: TlsFiles;
}

export interface ConnectionOptions {
  apiUrl?: string | undefined;
  apiKey?: string | undefined;
  dataDir?: string | undefined;
  caCert?: string | undefined;
  clientCert?: string | undefined;
  clientKey?: string | undefined;
}

/** Each TLS file's flag and environment variable; the flag wins. */
const TLS_SOURCES = [
  ['caCert', 'CAXTON_CA_CERT'],
  ['clientCert', 'CAXTON_CLIENT_CERT'],
  ['clientKey', 'CAXTON_CLIENT_KEY'],
] as const;

export function resolveConnection(opts: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): Connection {
  let apiUrl: string;
  let urlSource: UrlSource;
  if (nonEmpty(opts.apiUrl)) {
    apiUrl = opts.apiUrl;
    urlSource = 'flag';
  } else if (nonEmpty(env['CAXTON_API_URL'])) {
    apiUrl = env['CAXTON_API_URL'];
    urlSource = 'env';
  } else {
    apiUrl = DEFAULT_API_URL;
    urlSource = 'default';
  }
  const key = resolveKey(opts, env);
  const tls: { -readonly [k in keyof TlsFiles]: string } = {};
  for (const [field, variable] of TLS_SOURCES) {
    const v = nonEmpty(opts[field]) ? opts[field] : env[variable];
    if (nonEmpty(v)) tls[field] = v.trim();
  }
  return { apiUrl: normalizeApiUrl(apiUrl), urlSource, apiKey: key.key, keySource: key.source, ...(Object.keys(tls).length === 0 ? {} : { tls }) };
}

function resolveKey(opts: ConnectionOptions, env: NodeJS.ProcessEnv): { key: string | undefined; source: KeySource } {
  if (nonEmpty(opts.apiKey)) return { key: opts.apiKey.trim(), source: { kind: 'flag' } };
  if (nonEmpty(env['CAXTON_API_KEY'])) return { key: env['CAXTON_API_KEY'].trim(), source: { kind: 'env', variable: 'CAXTON_API_KEY' } };
  const path = adminKeyPath(opts.dataDir, env);
  try {
    const key = readFileSync(path, 'utf8').trim();
    if (key === '') return { key: undefined, source: { kind: 'none', path, problem: 'is empty' } };
    return { key, source: { kind: 'file', path } };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by this user' : `cannot be read (${code ?? (e as Error).message})`;
    return { key: undefined, source: { kind: 'none', path, problem } };
  }
}

/** The absolute path of the admin key file the CLI reads. */
export function adminKeyPath(dataDir: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const dir = nonEmpty(dataDir) ? dataDir : nonEmpty(env['CAXTON_DATA_DIR']) ? env['CAXTON_DATA_DIR'] : DEFAULT_DATA_DIR;
  return resolve(join(dir, ADMIN_KEY_FILE));
}

/** `http://host:8080/`, `http://host:8080/api/v1` and `host:8080` all become `http://host:8080`. */
export function normalizeApiUrl(url: string): string {
  let u = url.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) u = `http://${u}`;
  u = u.replace(/\/+$/, '');
  u = u.replace(/\/api\/v1$/, '');
  return u;
}

/** "the key given with --api-key", "the key in CAXTON_API_KEY", ... for error messages. */
export function describeKeySource(source: KeySource): string {
  switch (source.kind) {
    case 'flag':
      return 'the key given with --api-key';
    case 'env':
      return `the key in the environment variable ${source.variable}`;
    case 'file':
      return `the key read from ${source.path}`;
    case 'none':
      return `no key (no --api-key, no CAXTON_API_KEY, and ${source.path} ${source.problem})`;
  }
}

function nonEmpty(s: string | undefined): s is string {
  return s !== undefined && s.trim() !== '';
}
