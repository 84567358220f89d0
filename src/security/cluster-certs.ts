/**
 * Certificates across the cluster: every node answers `security.certs` with its own (NodeCerts), and
 * takes a new node certificate through `security.node-cert` from the node an operator's
 * `rotate-certs` talks to. That push carries a private key, so it is forwarded only over a link that
 * is mTLS itself (a node with mTLS on links only with nodes that have it on too: docs/security.md).
 */
import { CaxtonError } from '../errors.js';
import { fanOut, type MissingNode } from '../cluster/fan-out.js';
import type { NodeName, PeerBody, Peers } from '../cluster/peers.js';
import type { ViewMember } from '../api/cluster-views.js';
import type { CertView, NodeCerts, NodeCertsView } from './node-certs.js';

/** Call methods; only append (other nodes call them by name). */
export const CERT_METHODS = { certs: 'security.certs', nodeCert: 'security.node-cert' } as const;

/** How long a node may take to write and reload a pushed certificate, ms. */
const PUSH_TIMEOUT_MS = 15_000;

export interface ClusterCertsView {
  readonly nodes: ({ readonly node: NodeName } & NodeCertsView)[];
  readonly missing: MissingNode[];
}

export class ClusterCerts {
  readonly #certs: NodeCerts;
  readonly #peers: Peers | undefined;
  readonly #members: () => readonly ViewMember[];
  readonly #self: NodeName;

  constructor(self: NodeName, certs: NodeCerts, peers: Peers | undefined, members: () => readonly ViewMember[]) {
    this.#self = self;
    this.#certs = certs;
    this.#peers = peers;
    this.#members = members;
    peers?.onCall(CERT_METHODS.certs, () => certs.view());
    peers?.onCall(CERT_METHODS.nodeCert, (_from, body) => {
      const { cert, key } = pushBody(body);
      return certs.installNodeCert(cert, key);
    });
  }

  /** This node's certificates and every other alive Caxton member's; the failed and silent in `missing`. */
  async all(): Promise<ClusterCertsView> {
    const mine = { node: this.#self, ...this.#certs.view() };
    if (this.#peers === undefined) return { nodes: [mine], missing: [] };
    const members = this.#members().filter((m) => m.name !== this.#self && m.tags['role'] === 'caxton');
    const ask = members.filter((m) => m.status === 'alive' || m.status === 'suspect').map((m) => m.name);
    const failed = members.filter((m) => m.status === 'failed').map((m): MissingNode => ({ node: m.name, code: null, reason: 'failed: the cluster declared it dead' }));
    const r = await fanOut(this.#peers, ask, CERT_METHODS.certs, {}, checkView);
    return { nodes: [mine, ...r.answers.map((a) => ({ node: a.node, ...a.value }))], missing: [...r.missing, ...failed] };
  }

  /** Installs a node certificate on `node` (this one, or another through the link). */
  async install(node: NodeName, cert: string, key: string): Promise<CertView> {
    if (node === this.#self) return this.#certs.installNodeCert(cert, key);
    const m = this.#members().find((x) => x.name === node && x.tags['role'] === 'caxton');
    if (m === undefined || this.#peers === undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_UNKNOWN_NODE', `no Caxton node named ${node} in the cluster`, { node });
    if (this.#certs.view().cert === null) {
      throw new CaxtonError('CAXTON_ERR_TLS_NOT_ENABLED', `node ${this.#self} does not run mTLS between nodes: it does not forward a private key to ${node} over a plaintext link; send it to ${node}'s own API`, { node });
    }
    return this.#peers.call<CertView>(node, CERT_METHODS.nodeCert, { cert, key }, { timeoutMs: PUSH_TIMEOUT_MS });
  }
}

function pushBody(body: PeerBody): { cert: string; key: string } {
  const b = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const cert = b['cert'];
  const key = b['key'];
  if (typeof cert !== 'string' || typeof key !== 'string') throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', 'security.node-cert: cert and key must be PEM texts');
  return { cert, key };
}

function checkView(v: unknown): NodeCertsView {
  if (typeof v !== 'object' || v === null) throw new Error('not an object');
  const o = v as Record<string, unknown>;
  for (const k of ['cert', 'api_cert']) {
    const c = o[k];
    if (c !== null && (typeof c !== 'object' || typeof (c as Record<string, unknown>)['fingerprint'] !== 'string')) throw new Error(`${k} is not a certificate or null`);
  }
  return v as NodeCertsView;
}
