/**
 * The built-in CA's files on disk: `<dir>/ca.crt` and `<dir>/ca.key` as `caxton security init-ca`
 * writes them, issued pairs as `<dir>/<name>.crt` and `<dir>/<name>.key`, and the output directory
 * they go to (created 0700: it holds private keys).
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CaxtonError } from '../errors.js';
import { type CaMaterial, writePemFile } from './pki.js';
import { readTlsFile } from './tls-material.js';

export const CA_CERT_FILE = 'ca.crt';
export const CA_KEY_FILE = 'ca.key';

export interface PairPaths {
  readonly cert: string;
  readonly key: string;
}

export function caPaths(dir: string): PairPaths {
  return { cert: join(dir, CA_CERT_FILE), key: join(dir, CA_KEY_FILE) };
}

export function pairPaths(dir: string, name: string): PairPaths {
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/**
 * Reads the CA a directory holds, and checks that it can issue: the certificate is a CA and the key
 * is its key (a pair mixed up between two CAs would issue certificates no node accepts). The key must
 * be 0600 like every private key.
 */
export function readCaDir(dir: string): CaMaterial {
  return readCaFiles(caPaths(dir));
}

/** As readCaDir, for a CA certificate and key given as two files (the runbook's `--ca-cert`, `--ca-key`). */
export function readCaFiles(p: { readonly cert: string; readonly key: string }): CaMaterial {
  const certPem = readTlsFile(p.cert, 'CA certificate');
  const keyPem = readTlsFile(p.key, 'CA private key', { secret: true });
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (e) {
    throw new CaxtonError('CAXTON_ERR_TLS_CERT', `${p.cert}: (CA certificate) is not a valid PEM certificate: ${(e as Error).message}`, { file: p.cert, problem: 'not-certificate' }, { cause: e });
  }
  if (!cert.ca) throw new CaxtonError('CAXTON_ERR_TLS_CERT', `${p.cert}: is not a CA certificate (no CA basic constraint)`, { file: p.cert, problem: 'not-a-ca' });
  let matches = false;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch (e) {
    throw new CaxtonError('CAXTON_ERR_TLS_CERT', `${p.key}: (CA private key) is not a PEM private key: ${(e as Error).message}`, { file: p.key, problem: 'not-key' }, { cause: e });
  }
  if (!matches) throw new CaxtonError('CAXTON_ERR_TLS_CERT', `${p.key}: is not the private key of the CA certificate ${p.cert}`, { file: p.key, problem: 'key-mismatch' });
  return { certPem, keyPem };
}

/**
 * Makes sure `dir` exists (created with mode 0700) and is a writable directory, and that none of
 * `files` exists there unless `force`; checked before anything is generated, so a refusal leaves
 * nothing half-written.
 */
export function prepareOutput(dir: string, files: readonly string[], force: boolean): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CaxtonError('CAXTON_ERR_TLS_FILE', `${dir}: cannot create the output directory: ${code ?? (e as Error).message}`, { path: dir, problem: 'unwritable' }, { cause: e });
  }
  if (!statSync(dir).isDirectory()) {
    throw new CaxtonError('CAXTON_ERR_TLS_FILE', `${dir}: the output is not a directory`, { path: dir, problem: 'unwritable' });
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CaxtonError('CAXTON_ERR_TLS_FILE', `${dir}: the output directory is not writable: ${code ?? (e as Error).message}`, { path: dir, problem: 'unwritable' }, { cause: e });
  }
  if (force) return;
  const existing = files.filter((f) => existsSync(f));
  if (existing.length > 0) {
    throw new CaxtonError('CAXTON_ERR_TLS_FILE', `${existing.join(', ')}: ${existing.length === 1 ? 'the file exists' : 'the files exist'} already; pass --force to replace ${existing.length === 1 ? 'it' : 'them'}`, { path: existing[0], files: existing, problem: 'exists' });
  }
}

/** Writes a certificate (0644) and its key (0600), the key first so a certificate never sits without it. */
export function writePair(paths: PairPaths, pair: { certPem: string; keyPem: string }, force: boolean): void {
  writePemFile(paths.key, pair.keyPem, { secret: true, force });
  writePemFile(paths.cert, pair.certPem, { force });
}
