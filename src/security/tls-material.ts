/**
 * A node's TLS files (`security.cluster.mtls.{ca_cert, node_cert, node_key}`), loaded and checked
 * before anything listens: a node that believes it is encrypted must be, so every problem stops the
 * start with an error that names the file and the problem, instead of a handshake failing later.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { CaxtonError, type ErrorCode } from '../errors.js';
import { parseCert } from './pki.js';

export interface NodeTlsPaths {
  caCert: string;
  nodeCert: string;
  nodeKey: string;
  /** This node's id (node.id): the certificate's CN or one of its DNS SANs must be exactly this. */
  nodeId: string;
  /** The moment the validity is checked at (default now). */
  now?: Date;
}

export interface NodeTls {
  /** PEM texts, as `tls.createSecureContext({ ca, cert, key })` takes them. */
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /** The node certificate's SHA-256 fingerprint, colon-separated upper-case hex. */
  readonly fingerprint: string;
  readonly notAfter: Date;
  /** The node certificate's serial, upper-case hex. */
  readonly serial: string;
}

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

export function loadNodeTls(paths: NodeTlsPaths): NodeTls {
  const now = paths.now ?? new Date();
  const caPem = readTlsFile(paths.caCert, 'CA certificate');
  const certPem = readTlsFile(paths.nodeCert, 'node certificate');
  const keyPem = readTlsFile(paths.nodeKey, 'node private key', { secret: true });

  const ca = certificate(paths.caCert, caPem, 'CA certificate');
  if (!ca.ca) fail('CAXTON_ERR_TLS_CERT', paths.caCert, 'not-a-ca', 'is not a CA certificate (no CA basic constraint); give the ca.crt that `caxton security init-ca` wrote');
  checkValidity(paths.caCert, ca, now, 'CA certificate');

  const cert = certificate(paths.nodeCert, certPem, 'node certificate');
  checkValidity(paths.nodeCert, cert, now, 'node certificate');
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) {
    fail('CAXTON_ERR_TLS_CERT', paths.nodeCert, 'not-issued-by-ca', `was not issued by the CA in ${paths.caCert} (issuer "${oneLine(cert.issuer)}", CA "${oneLine(ca.subject)}"${cert.issuer === ca.subject ? ', same name but another key' : ''})`);
  }
  if (!namesNode(cert, paths.nodeId)) {
    fail('CAXTON_ERR_TLS_CERT', paths.nodeCert, 'wrong-node', `is for ${describeNames(cert)}, not for this node "${paths.nodeId}" (node.id); issue one with \`caxton security gen-cert --node-id ${paths.nodeId}\``);
  }

  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (e) {
    return fail('CAXTON_ERR_TLS_CERT', paths.nodeKey, 'not-key', `is not a PEM private key (${(e as Error).message})`, e);
  }
  if (key.asymmetricKeyType !== cert.publicKey.asymmetricKeyType || !cert.checkPrivateKey(key)) {
    fail('CAXTON_ERR_TLS_CERT', paths.nodeKey, 'key-mismatch', `is not the private key of the certificate ${paths.nodeCert}; give the .key written together with that .crt`);
  }

  return { ca: caPem, cert: certPem, key: keyPem, fingerprint: cert.fingerprint256, notAfter: new Date(cert.validTo), serial: cert.serialNumber.toUpperCase() };
}

/**
 * True when `cert` names `nodeId` in its CN or a DNS SAN, exactly (node ids are case-sensitive). The
 * check a peer's certificate must pass too, against the name membership knows for its address.
 */
export function namesNode(cert: X509Certificate, nodeId: string): boolean {
  if (subjectField(cert.subject, 'CN') === nodeId) return true;
  return dnsSans(cert).includes(nodeId);
}

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

function certificate(path: string, pem: string, what: string): X509Certificate {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    fail('CAXTON_ERR_TLS_CERT', path, 'not-pem', `(${what}) is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" line)`);
  }
  try {
    return parseCert(pem);
  } catch (e) {
    return fail('CAXTON_ERR_TLS_CERT', path, 'not-certificate', `(${what}) is not a valid certificate: ${(e as Error).message}`, e);
  }
}

function checkValidity(path: string, cert: X509Certificate, now: Date, what: string): void {
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  if (now.getTime() > to.getTime()) {
    fail('CAXTON_ERR_TLS_CERT', path, 'expired', `(${what}) expired on ${to.toISOString()}`);
  }
  if (now.getTime() < from.getTime()) {
    fail('CAXTON_ERR_TLS_CERT', path, 'not-yet-valid', `(${what}) is not valid before ${from.toISOString()} (check this machine's clock)`);
  }
}

function fail(code: ErrorCode, file: string, problem: TlsProblem, text: string, cause?: unknown): never {
  throw new CaxtonError(code, `${file}: ${text}`, { file, problem }, cause === undefined ? undefined : { cause });
}

function subjectField(subject: string, key: string): string | undefined {
  for (const line of subject.split('\n')) {
    if (line.startsWith(`${key}=`)) return line.slice(key.length + 1);
  }
  return undefined;
}

function dnsSans(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '').split(', ').filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4));
}

function describeNames(cert: X509Certificate): string {
  const cn = subjectField(cert.subject, 'CN');
  const dns = dnsSans(cert);
  return `CN "${cn ?? ''}"${dns.length > 0 ? ` and DNS ${dns.join(', ')}` : ''}`;
}

function oneLine(name: string): string {
  return name.split('\n').join(', ');
}
