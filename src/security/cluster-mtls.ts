/**
 * The startup side of mTLS between nodes (security.cluster.mtls): with it on, the node's TLS files
 * are loaded and checked before anything listens, and any problem stops the start (a node that
 * believes it is encrypted must be); with it off on a node in a cluster, the log says plainly that
 * node-to-node traffic is not encrypted.
 */
import { CaxtonError } from '../errors.js';
import type { LinkTlsMaterial } from '../cluster/transport/link-tls.js';
import { loadNodeTls } from './tls-material.js';

export interface ClusterMtlsOptions {
  readonly enabled: boolean;
  readonly caCert: string;
  readonly nodeCert: string;
  readonly nodeKey: string;
  /** Must stay true with mTLS on: a link that accepts any certificate is not authenticated. */
  readonly verifyPeer: boolean;
}

interface StartLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** The link's TLS material when mTLS is on (throws a CaxtonError naming the file and the problem), else undefined. */
export function clusterTlsAtStart(nodeId: string, mtls: ClusterMtlsOptions | undefined, log: StartLog): LinkTlsMaterial | undefined {
  if (mtls === undefined || !mtls.enabled) {
    log.warn(
      { mtls: false },
      'security.cluster.mtls.enabled is false: node-to-node traffic (routing, replication, module transfer) is not encrypted and peers are not authenticated by certificate; only gossip is protected, by the gossip keys if set',
    );
    return undefined;
  }
  if (!mtls.verifyPeer) {
    throw new CaxtonError(
      'CAXTON_ERR_CONFIG_INVALID',
      'security.cluster.mtls.verify_peer is false with security.cluster.mtls.enabled: mTLS between nodes always verifies the peer against ca_cert; set verify_peer to true (or remove it)',
      { key: 'security.cluster.mtls.verify_peer' },
    );
  }
  for (const [key, path] of [
    ['ca_cert', mtls.caCert],
    ['node_cert', mtls.nodeCert],
    ['node_key', mtls.nodeKey],
  ] as const) {
    if (path === '') {
      throw new CaxtonError('CAXTON_ERR_CONFIG_INVALID', `security.cluster.mtls.${key} is empty with security.cluster.mtls.enabled: give the path of the file`, { key: `security.cluster.mtls.${key}` });
    }
  }
  const t = loadNodeTls({ caCert: mtls.caCert, nodeCert: mtls.nodeCert, nodeKey: mtls.nodeKey, nodeId });
  log.info(
    { mtls: true, cert: mtls.nodeCert, fingerprint: t.fingerprint, notAfter: t.notAfter.toISOString(), serial: t.serial },
    'mTLS between nodes is on: the link (routing, replication, module transfer) is TLS 1.3 with certificates from the cluster CA',
  );
  return { ca: t.ca, cert: t.cert, key: t.key };
}
