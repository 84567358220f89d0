/**
 * The names a certificate gives its holder: its subject's CN and its DNS SANs. Only node:crypto, so
 * that worker threads (the direct path, src/sandbox/worker/direct-link.ts) can check a peer's name
 * without loading the PKI.
 */
import type { X509Certificate } from 'node:crypto';

/**
 * True when `cert` names `nodeId` in its CN or a DNS SAN, exactly (node ids are case-sensitive). The
 * check a peer's certificate must pass too, against the name membership knows for its address.
 */
export function namesNode(cert: X509Certificate, nodeId: string): boolean {
  if (subjectField(cert.subject, 'CN') === nodeId) return true;
  return dnsSans(cert).includes(nodeId);
}

/** "CN=x, DNS:y, ..." for log lines. */
export function certNames(cert: X509Certificate): string {
  const cn = subjectField(cert.subject, 'CN');
  const sans = cert.subjectAltName ?? '';
  return [cn === undefined ? undefined : `CN=${cn}`, sans === '' ? undefined : sans].filter((x) => x !== undefined).join(', ') || 'no name';
}

/** A field of an X509Certificate's subject text (one `KEY=value` per line). */
export function subjectField(subject: string, key: string): string | undefined {
  for (const line of subject.split('\n')) {
    if (line.startsWith(`${key}=`)) return line.slice(key.length + 1);
  }
  return undefined;
}

export function dnsSans(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '').split(', ').filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4));
}
