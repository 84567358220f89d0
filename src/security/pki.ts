/**
 * The built-in certificate authority: a cluster CA, node certificates (mTLS between nodes, both ways)
 * and client certificates (the API, with the API key roles), all ECDSA P-256 with SHA-256, issued with
 * @peculiar/x509 over node:crypto's WebCrypto. Node 20 can parse and verify certificates
 * (`X509Certificate`) but cannot sign them, hence the library; nothing here shells out to openssl.
 *
 * Names: a node certificate's CN and first DNS SAN are the node id (the name membership knows it by);
 * a client certificate's CN is the client's name and its OU is its role (viewer, developer, operator or
 * admin, as for API keys), so `openssl x509 -subject` shows both (docs/security.md).
 */
import { X509Certificate as NodeX509, randomBytes, webcrypto } from 'node:crypto';
import { chmodSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { KEY_NAME_PATTERN, KEY_NAME_RULE, ROLE_NAMES, type Role, isRole } from '../api/auth.js';
import { NODE_ID_PATTERN } from '../config/schema.js';
import { CaxtonError } from '../errors.js';
import { BACKDATE_MS } from './revoked-certs.js';
import { x509 } from './x509.js';

const EC_KEY: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

/** Validity defaults, in days. */
export const CA_DAYS = 3650;
export const NODE_DAYS = 365;
export const CLIENT_DAYS = 365;
/** The longest validity accepted, so a typo (`--days 36500000`) is refused instead of overflowing dates. */
export const MAX_DAYS = 36_500;

const DAY_MS = 86_400_000;

/** A CA as written to disk: its certificate and its PKCS#8 private key, both PEM. */
export interface CaMaterial {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface IssuedCert {
  readonly certPem: string;
  /** PKCS#8 PEM ("PRIVATE KEY"); write it with mode 0600 (`writePemFile(..., { secret: true })`). */
  readonly keyPem: string;
  /** Serial number, upper-case hex as node:crypto and `openssl x509 -serial` show it. */
  readonly serial: string;
  /** SHA-256 fingerprint, colon-separated upper-case hex. */
  readonly fingerprint: string;
}

export interface ValidityOptions {
  /** Validity in whole days from `validFrom`. */
  days?: number;
  /** Start of the validity (default now; notBefore is BACKDATE_MS earlier). Tests issue expired certificates with it. */
  validFrom?: Date;
}

export interface CreateCaOptions extends ValidityOptions {
  /** Default "Caxton Cluster CA". */
  commonName?: string;
}

export interface NodeCertOptions extends ValidityOptions {
  nodeId: string;
  /** Extra subject alternative names: IP addresses (v4 or v6) become IP SANs, anything else a DNS SAN. */
  sans?: readonly string[];
}

export interface ClientCertOptions extends ValidityOptions {
  name: string;
  role: string;
}

export interface CertDescription {
  /** The subject as node:crypto prints it, one `KEY=value` per line joined with ", ". */
  readonly subject: string;
  readonly commonName: string | undefined;
  /** The OU, which holds the role in a client certificate. */
  readonly organizationalUnit: string | undefined;
  readonly issuer: string;
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** Whole days from `now` until notAfter, rounded down; negative once expired. */
  readonly daysLeft: number;
  readonly fingerprint: string;
  /** `DNS:name` and `IP:address` entries. */
  readonly sans: readonly string[];
  readonly isCa: boolean;
}

export async function createCa(opts: CreateCaOptions = {}): Promise<CaMaterial> {
  const commonName = opts.commonName ?? 'Caxton Cluster CA';
  if (!/^[^,=+<>#;"\\\n]{1,64}$/.test(commonName)) {
    throw new CaxtonError('CAXTON_ERR_PKI_INPUT', `CA common name ${JSON.stringify(commonName)} is not accepted: 1 to 64 characters, none of , = + < > # ; " \\`, { commonName });
  }
  const { notBefore, notAfter } = validity(opts, CA_DAYS);
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${commonName}`,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true), // signs leaves only, never another CA
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKey(keys.privateKey) };
}

export async function issueNodeCert(ca: CaMaterial, opts: NodeCertOptions): Promise<IssuedCert> {
  if (!new RegExp(NODE_ID_PATTERN).test(opts.nodeId)) {
    throw new CaxtonError('CAXTON_ERR_PKI_INPUT', `node id ${JSON.stringify(opts.nodeId)} is not a node name: 1 to 128 characters from A-Z a-z 0-9 _ . -, starting with a letter or digit (as node.id)`, { nodeId: opts.nodeId });
  }
  const names: x509.JsonGeneralName[] = [{ type: 'dns', value: opts.nodeId }];
  for (const san of opts.sans ?? []) {
    if (isIP(san) !== 0) names.push({ type: 'ip', value: san });
    else if (/^(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})$/.test(san)) names.push({ type: 'dns', value: san });
    else throw new CaxtonError('CAXTON_ERR_PKI_INPUT', `--san ${JSON.stringify(san)} is neither an IP address nor a DNS name`, { san });
  }
  return issue(ca, opts, NODE_DAYS, `CN=${opts.nodeId}`, [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
    new x509.SubjectAlternativeNameExtension(dedupe(names), false),
  ]);
}

export async function issueClientCert(ca: CaMaterial, opts: ClientCertOptions): Promise<IssuedCert> {
  if (!isRole(opts.role)) {
    throw new CaxtonError('CAXTON_ERR_PKI_INPUT', `role ${JSON.stringify(opts.role)} is not one of ${ROLE_NAMES.join(', ')}`, { role: opts.role, roles: ROLE_NAMES });
  }
  if (!new RegExp(KEY_NAME_PATTERN).test(opts.name) || opts.name.length > 100) {
    throw new CaxtonError('CAXTON_ERR_PKI_INPUT', `client name ${JSON.stringify(opts.name)} is not ${KEY_NAME_RULE}`, { name: opts.name });
  }
  const role: Role = opts.role;
  return issue(ca, opts, CLIENT_DAYS, `CN=${opts.name}, OU=${role}`, [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
  ]);
}

/** The role a client certificate carries in its OU, or undefined when it carries none that is known. */
export function clientRole(certPem: string): Role | undefined {
  const ou = describeCert(certPem).organizationalUnit;
  return isRole(ou) ? ou : undefined;
}

/** What `cert-status` and the loaders show about a certificate. Throws CAXTON_ERR_TLS_CERT for text that is not one. */
export function describeCert(pem: string, now: Date = new Date()): CertDescription {
  const cert = parseCert(pem);
  const notAfter = new Date(cert.validTo);
  return {
    subject: cert.subject.split('\n').join(', '),
    commonName: field(cert.subject, 'CN'),
    organizationalUnit: field(cert.subject, 'OU'),
    issuer: cert.issuer.split('\n').join(', '),
    serial: cert.serialNumber.toUpperCase(),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: notAfter.toISOString(),
    daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS),
    fingerprint: cert.fingerprint256,
    sans: parseSans(cert.subjectAltName),
    isCa: cert.ca,
  };
}

/** Parses one PEM certificate with node:crypto, as a coded error when it is not one. */
export function parseCert(pem: string): NodeX509 {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new CaxtonError('CAXTON_ERR_TLS_CERT', 'not a PEM certificate (no "-----BEGIN CERTIFICATE-----" line)');
  }
  try {
    return new NodeX509(pem);
  } catch (e) {
    throw new CaxtonError('CAXTON_ERR_TLS_CERT', `not a valid certificate: ${(e as Error).message}`, undefined, { cause: e });
  }
}

async function issue(ca: CaMaterial, opts: ValidityOptions, defaultDays: number, subject: string, extensions: x509.Extension[]): Promise<IssuedCert> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importCaKey(ca.keyPem);
  const { notBefore, notAfter } = validity(opts, defaultDays);
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject,
    issuer: caCert.subjectName, // the CA's encoded name as is, so chain building matches byte for byte
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      ...extensions,
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    ],
  });
  const certPem = cert.toString('pem');
  const parsed = new NodeX509(certPem);
  return { certPem, keyPem: await exportKey(keys.privateKey), serial: parsed.serialNumber.toUpperCase(), fingerprint: parsed.fingerprint256 };
}

function validity(opts: ValidityOptions, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const days = opts.days ?? defaultDays;
  if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) {
    throw new CaxtonError('CAXTON_ERR_PKI_INPUT', `validity of ${String(days)} days is not accepted: a whole number from 1 to ${MAX_DAYS}`, { days });
  }
  const from = (opts.validFrom ?? new Date()).getTime();
  return { notBefore: new Date(from - BACKDATE_MS), notAfter: new Date(from + days * DAY_MS) };
}

/** 16 random bytes, the top bit clear (a positive DER integer) and the first byte non-zero (no padding). */
function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x01;
  return b.toString('hex');
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
}

async function exportKey(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return toPem(der, 'PRIVATE KEY');
}

async function importCaKey(pem: string): Promise<webcrypto.CryptoKey> {
  const m = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(pem);
  if (m === null) {
    throw new CaxtonError('CAXTON_ERR_TLS_CERT', 'the CA key is not a PKCS#8 PEM private key ("-----BEGIN PRIVATE KEY-----"), as `caxton security init-ca` writes it');
  }
  try {
    return (await webcrypto.subtle.importKey('pkcs8', Buffer.from(m[1] ?? '', 'base64'), EC_KEY, false, ['sign']));
  } catch (e) {
    throw new CaxtonError('CAXTON_ERR_TLS_CERT', `the CA key is not an ECDSA P-256 private key: ${(e as Error).message}`, undefined, { cause: e });
  }
}

function toPem(der: Buffer, label: string): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function dedupe(names: x509.JsonGeneralName[]): x509.JsonGeneralName[] {
  const seen = new Set<string>();
  return names.filter((n) => {
    const k = `${n.type}:${n.value.toLowerCase()}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** A field of node:crypto's subject text ("CN=a\nOU=b"). */
function field(subject: string, key: string): string | undefined {
  for (const line of subject.split('\n')) {
    if (line.startsWith(`${key}=`)) return line.slice(key.length + 1);
  }
  return undefined;
}

/** node:crypto's "DNS:a, IP Address:127.0.0.1" as ["DNS:a", "IP:127.0.0.1"]. */
function parseSans(text: string | undefined): string[] {
  if (text === undefined || text === '') return [];
  return text.split(', ').map((s) => s.replace(/^IP Address:/, 'IP:'));
}

export interface WritePemOptions {
  /** A private key: written with mode 0600 (owner only); a certificate gets 0644. */
  secret?: boolean;
  /** Replace an existing file (default: refuse, so a CA key is never overwritten by accident). */
  force?: boolean;
}

/**
 * Writes one PEM file. A secret is created with mode 0600 from the start (never written first and
 * narrowed after), and an existing file is replaced only with `force`: it is removed first, so the new
 * file gets the new mode even when the old one was wider.
 */
export function writePemFile(path: string, pem: string, opts: WritePemOptions = {}): void {
  const mode = opts.secret === true ? 0o600 : 0o644;
  if (existsSync(path)) {
    if (opts.force !== true) {
      throw new CaxtonError('CAXTON_ERR_TLS_FILE', `${path}: the file exists already; pass --force to replace it`, { path, problem: 'exists' });
    }
    rmSync(path, { force: true });
  }
  try {
    writeFileSync(path, pem, { mode, flag: 'wx' });
    chmodSync(path, mode); // the umask may have narrowed a certificate's mode; it never widens it
  } catch (e) {
    throw new CaxtonError('CAXTON_ERR_TLS_FILE', `${path}: cannot write: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { path, problem: 'unwritable' }, { cause: e });
  }
}
