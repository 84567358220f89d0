/**
 * Reading one TLS file (a certificate or a private key) with the checks every reader makes, and the
 * coded error that names the file and the problem. Apart from ./tls-material.ts so that the CLI can
 * read its client files without loading the certificate library.
 */
import { readFileSync, statSync } from 'node:fs';
import { CaxtonError, type ErrorCode } from '../errors.js';

/** What was wrong with a file, as `details.problem` carries it (docs/errors.md). */
export type TlsProblem =
  | 'missing'
  | 'unreadable'
  | 'key-permissions'
  | 'not-pem'
  | 'not-certificate'
  | 'not-key'
  | 'not-a-ca'
  | 'expired'
  | 'not-yet-valid'
  | 'not-issued-by-ca'
  | 'wrong-node'
  | 'key-mismatch';

/**
 * Reads one file for TLS, refusing a private key that group or others may read: such a key may
 * already have leaked, and the runbook (and the file permission check of issue 13) asks for 0600.
 */
export function readTlsFile(path: string, what: string, opts: { secret?: boolean } = {}): string {
  let mode: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) fail('CAXTON_ERR_TLS_FILE', path, 'unreadable', `(${what}) is not a regular file`);
    mode = st.mode;
  } catch (e) {
    if (e instanceof CaxtonError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') fail('CAXTON_ERR_TLS_FILE', path, 'missing', `(${what}) does not exist`, e);
    return fail('CAXTON_ERR_TLS_FILE', path, 'unreadable', `(${what}) cannot be read: ${code ?? (e as Error).message}`, e);
  }
  if (opts.secret === true && (mode & 0o077) !== 0) {
    fail('CAXTON_ERR_TLS_FILE', path, 'key-permissions', `(${what}) has mode ${(mode & 0o777).toString(8).padStart(4, '0')}, readable beyond its owner; run chmod 600 ${path}`);
  }
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return fail('CAXTON_ERR_TLS_FILE', path, 'unreadable', `(${what}) cannot be read: ${code ?? (e as Error).message}`, e);
  }
}

export function fail(code: ErrorCode, file: string, problem: TlsProblem, text: string, cause?: unknown): never {
  throw new CaxtonError(code, `${file}: ${text}`, { file, problem }, cause === undefined ? undefined : { cause });
}
