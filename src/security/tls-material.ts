/**
 * A node's TLS files (`security.cluster.mtls.{ca_cert, node_cert, node_key}`), loaded and checked
 * before anything listens: a node that believes it is encrypted must be, so every problem stops the
 * start with an error that names the file and the problem, instead of a handshake failing later.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { dnsSans, namesNode, subjectField } from './cert-names.js';
import { parseCert } from './pki.js';
import { fail, readTlsFile } from './tls-file.js';

export { readTlsFile, type TlsProblem } from './tls-file.js';

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

  checkKey(paths.nodeKey, keyPem, cert, paths.nodeCert);
  return { ca: caPem, cert: certPem, key: keyPem, fingerprint: cert.fingerprint256, notAfter: new Date(cert.validTo), serial: cert.serialNumber.toUpperCase() };
}

export interface ServerTlsPaths {
  /** The server certificate (PEM; certificates after the first are its chain, sent as they are). */
  cert: string;
  key: string;
  /** The CA client certificates must chain to; undefined when none are asked for. */
  caCert?: string | undefined;
  /** The moment the validity is checked at (default now). */
  now?: Date;
}

export interface ServerTls {
  readonly cert: string;
  readonly key: string;
  /** The client CA's PEM, when one is configured. */
  readonly ca?: string;
  readonly fingerprint: string;
  readonly notAfter: Date;
}

/**
 * The API's HTTPS files (`security.api.tls.{cert, key, ca_cert}`), checked as a node's are, except
 * that the certificate need not name the node nor come from the cluster CA: an API is often reached
 * under a public name, with a certificate from another CA than the one that signs client certificates.
 */
export function loadServerTls(paths: ServerTlsPaths): ServerTls {
  const now = paths.now ?? new Date();
  const certPem = readTlsFile(paths.cert, 'API certificate');
  const keyPem = readTlsFile(paths.key, 'API private key', { secret: true });
  const caPem = paths.caCert === undefined ? undefined : readTlsFile(paths.caCert, 'client CA certificate');

  const cert = certificate(paths.cert, certPem, 'API certificate');
  checkValidity(paths.cert, cert, now, 'API certificate');
  if (caPem !== undefined && paths.caCert !== undefined) {
    const ca = certificate(paths.caCert, caPem, 'client CA certificate');
    if (!ca.ca) fail('CAXTON_ERR_TLS_CERT', paths.caCert, 'not-a-ca', 'is not a CA certificate (no CA basic constraint); give the ca.crt that `caxton security init-ca` wrote');
    checkValidity(paths.caCert, ca, now, 'client CA certificate');
  }
  checkKey(paths.key, keyPem, cert, paths.cert);
  return { cert: certPem, key: keyPem, ...(caPem === undefined ? {} : { ca: caPem }), fingerprint: cert.fingerprint256, notAfter: new Date(cert.validTo) };
}

/** Refuses a key file that is not a private key, or not `cert`'s. */
function checkKey(keyPath: string, keyPem: string, cert: X509Certificate, certPath: string): void {
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (e) {
    return fail('CAXTON_ERR_TLS_CERT', keyPath, 'not-key', `is not a PEM private key (${(e as Error).message})`, e);
  }
  if (key.asymmetricKeyType !== cert.publicKey.asymmetricKeyType || !cert.checkPrivateKey(key)) {
    fail('CAXTON_ERR_TLS_CERT', keyPath, 'key-mismatch', `is not the private key of the certificate ${certPath}; give the .key written together with that .crt`);
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

function describeNames(cert: X509Certificate): string {
  const cn = subjectField(cert.subject, 'CN');
  const dns = dnsSans(cert);
  return `CN "${cn ?? ''}"${dns.length > 0 ? ` and DNS ${dns.join(', ')}` : ''}`;
}

function oneLine(name: string): string {
  return name.split('\n').join(', ');
}
