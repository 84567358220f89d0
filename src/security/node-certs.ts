/**
 * A running node's certificates (issue 13, deliver 3): reloaded without a restart on SIGHUP, when the
 * files change, and when `rotate-certs` pushes a new node certificate; shown for `cert-status`.
 *
 * A reload loads the files with the same loaders as the start (loadNodeTls, loadServerTls), so a bad
 * new file is refused with the error that names it, and the material in use stays: the node never
 * goes without TLS. Applying is a swap: the link reads its material for each new connection
 * (Cluster.setTlsMaterial) and the API's https server takes a new secure context
 * (setSecureContext); connections already open finish on the certificate they were made with.
 */
import { watch, type FSWatcher, renameSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CaxtonError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { LinkTlsMaterial } from '../cluster/transport/link-tls.js';
import { describeCert } from './pki.js';
import { loadNodeTls, loadServerTls } from './tls-material.js';

export interface NodeCertFiles {
  readonly caCert: string;
  readonly nodeCert: string;
  readonly nodeKey: string;
}

export interface ApiCertFiles {
  readonly cert: string;
  readonly key: string;
  /** The client CA; undefined when client certificates are not asked for. */
  readonly caCert?: string | undefined;
}

export interface ApiCertMaterial {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string;
}

/** One certificate as `GET /security/certs` shows it. */
export interface CertView {
  readonly subject: string;
  readonly issuer: string;
  readonly serial: string;
  readonly not_after: string;
  readonly days_left: number;
  readonly fingerprint: string;
  readonly sans: readonly string[];
}

/** One node's answer to `security.certs`. */
export interface NodeCertsView {
  /** The node certificate of mTLS between nodes; null when mTLS is off. */
  readonly cert: CertView | null;
  /** The API's HTTPS certificate; null when the API serves plain HTTP. */
  readonly api_cert: CertView | null;
}

export interface NodeCertsOptions {
  readonly nodeId: string;
  readonly logger: Logger;
  /** mTLS between nodes: the files and where new material goes (the link). */
  readonly link?: { readonly files: NodeCertFiles; readonly cert: string; apply(m: LinkTlsMaterial): void };
  /** HTTPS for the API: the files and where new material goes (the https server). */
  readonly api?: { readonly files: ApiCertFiles; readonly cert: string; apply(m: ApiCertMaterial): void };
  /** Quiet time after the last file event before a reload, ms. @default 500 */
  readonly debounceMs?: number;
}

/** What one reload did, per part: reloaded (new fingerprint), unchanged, or refused (the old stays). */
export interface ReloadOutcome {
  readonly link?: ReloadPart;
  readonly api?: ReloadPart;
}

export type ReloadPart = { readonly result: 'reloaded' | 'unchanged'; readonly fingerprint: string } | { readonly result: 'refused'; readonly error: string; readonly file: string | null };

export class NodeCerts {
  readonly #o: NodeCertsOptions;
  readonly #log: Logger;
  /** The PEM text in use, to tell a reload that changed nothing from one that did. */
  #linkCert: string | undefined;
  #apiCert: string | undefined;
  #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(o: NodeCertsOptions) {
    this.#o = o;
    this.#log = o.logger.child({ component: 'certs' });
    this.#linkCert = o.link?.cert;
    this.#apiCert = o.api?.cert;
  }

  /** True when the node has any certificate to reload. */
  get active(): boolean {
    return this.#o.link !== undefined || this.#o.api !== undefined;
  }

  /** This node's certificates, as in use now. */
  view(now: Date = new Date()): NodeCertsView {
    return { cert: this.#linkCert === undefined ? null : certView(this.#linkCert, now), api_cert: this.#apiCert === undefined ? null : certView(this.#apiCert, now) };
  }

  /**
   * Loads every file again and applies what changed. Never throws: a part whose files are refused
   * keeps its material in use, and the refusal is logged naming the file.
   */
  reload(reason: string): ReloadOutcome {
    const out: { link?: ReloadPart; api?: ReloadPart } = {};
    if (!this.active) this.#log.info({ reason }, 'no certificate files to reload: mTLS between nodes and HTTPS for the API are off');
    const link = this.#o.link;
    if (link !== undefined) {
      out.link = this.#reloadPart('node certificate (mTLS between nodes)', reason, this.#linkCert, () => {
        const t = loadNodeTls({ ...link.files, nodeId: this.#o.nodeId });
        return { cert: t.cert, apply: () => link.apply({ ca: t.ca, cert: t.cert, key: t.key }), file: link.files.nodeCert };
      }, (pem) => (this.#linkCert = pem));
    }
    const api = this.#o.api;
    if (api !== undefined) {
      out.api = this.#reloadPart('API certificate (HTTPS)', reason, this.#apiCert, () => {
        const t = loadServerTls({ cert: api.files.cert, key: api.files.key, caCert: api.files.caCert });
        return { cert: t.cert, apply: () => api.apply({ cert: t.cert, key: t.key, ...(t.ca === undefined ? {} : { ca: t.ca }) }), file: api.files.cert };
      }, (pem) => (this.#apiCert = pem));
    }
    return out;
  }

  #reloadPart(what: string, reason: string, current: string | undefined, load: () => { cert: string; apply: () => void; file: string }, keep: (pem: string) => void): ReloadPart {
    let loaded: { cert: string; apply: () => void; file: string };
    try {
      loaded = load();
    } catch (e) {
      const file = e instanceof CaxtonError && typeof e.details?.['file'] === 'string' ? e.details['file'] : null;
      this.#log.error({ reason, file, err: { code: e instanceof CaxtonError ? e.code : undefined, message: (e as Error).message } }, `certificate reload refused: ${(e as Error).message}; the ${what} in use stays`);
      return { result: 'refused', error: (e as Error).message, file };
    }
    const d = describeCert(loaded.cert);
    if (loaded.cert === current) {
      this.#log.debug({ reason, fingerprint: d.fingerprint }, `certificate reload: the ${what} is unchanged`);
      return { result: 'unchanged', fingerprint: d.fingerprint };
    }
    loaded.apply();
    keep(loaded.cert);
    this.#log.info({ reason, file: loaded.file, fingerprint: d.fingerprint, serial: d.serial, notAfter: d.notAfter }, `certificate reloaded: new connections use the new ${what}; open ones finish on the old`);
    return { result: 'reloaded', fingerprint: d.fingerprint };
  }

  /**
   * Reloads when a file changes: watches the files' directories (an editor or `mv` replaces a file,
   * which a watch on the file itself would lose), and waits for a quiet moment so that a cert and key
   * written one after the other are loaded together.
   */
  watch(): void {
    const files = [...Object.values(this.#o.link?.files ?? {}), ...Object.values(this.#o.api?.files ?? {})].filter((f): f is string => typeof f === 'string' && f !== '');
    const byDir = new Map<string, Set<string>>();
    for (const f of files) {
      const set = byDir.get(dirname(f)) ?? new Set<string>();
      set.add(basename(f));
      byDir.set(dirname(f), set);
    }
    for (const [dir, names] of byDir) {
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (name === null || names.has(name.toString())) this.#schedule();
        });
        w.on('error', (err) => this.#log.warn({ dir, err }, 'certificate files: watching the directory failed; reload with SIGHUP'));
        this.#watchers.push(w);
      } catch (err) {
        this.#log.warn({ dir, err }, 'certificate files: cannot watch the directory; reload with SIGHUP');
      }
    }
  }

  #schedule(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.reload('files changed');
    }, this.#o.debounceMs ?? 500);
    this.#timer.unref();
  }

  /**
   * `POST /security/node-cert`: checks a new certificate and key as the start would (the node's
   * current CA, this node's name, valid now, the key its), writes them over node_cert and node_key
   * (each to a temporary file in the same directory, then renamed: a reader never sees half a file),
   * and reloads. Refused, nothing is written.
   */
  installNodeCert(certPem: string, keyPem: string): CertView {
    const link = this.#o.link;
    if (link === undefined) {
      throw new CaxtonError('CAXTON_ERR_TLS_NOT_ENABLED', `node ${this.#o.nodeId} does not run mTLS between nodes (security.cluster.mtls.enabled is false): it has no node certificate to replace`, { node: this.#o.nodeId });
    }
    const tag = randomBytes(6).toString('hex');
    const tmpCert = join(dirname(link.files.nodeCert), `.${basename(link.files.nodeCert)}.${tag}.tmp`);
    const tmpKey = join(dirname(link.files.nodeKey), `.${basename(link.files.nodeKey)}.${tag}.tmp`);
    try {
      writeTemp(tmpKey, keyPem, 0o600);
      writeTemp(tmpCert, certPem, 0o644);
      try {
        loadNodeTls({ caCert: link.files.caCert, nodeCert: tmpCert, nodeKey: tmpKey, nodeId: this.#o.nodeId });
      } catch (e) {
        // The temporary names mean nothing to the operator: say "the new certificate" instead.
        const msg = (e as Error).message.split(`${tmpCert}:`).join('the certificate').split(`${tmpKey}:`).join('the key').split(` ${tmpCert}`).join(' sent with it');
        throw new CaxtonError('CAXTON_ERR_TLS_CERT_REFUSED', `node ${this.#o.nodeId} refused the new node certificate: ${msg}`, { node: this.#o.nodeId, problem: e instanceof CaxtonError ? e.details?.['problem'] ?? null : null });
      }
      renameSync(tmpKey, link.files.nodeKey);
      renameSync(tmpCert, link.files.nodeCert);
    } finally {
      rmSync(tmpKey, { force: true });
      rmSync(tmpCert, { force: true });
    }
    const r = this.reload('new node certificate (POST /security/node-cert)');
    if (r.link?.result === 'refused') {
      throw new CaxtonError('CAXTON_ERR_TLS_CERT', `the new certificate was written but its reload was refused: ${r.link.error}`, { node: this.#o.nodeId });
    }
    return certView(certPem, new Date());
  }

  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
  }
}

function writeTemp(path: string, text: string, mode: number): void {
  try {
    writeFileSync(path, text, { mode, flag: 'wx' });
    chmodSync(path, mode);
  } catch (e) {
    throw new CaxtonError('CAXTON_ERR_TLS_FILE', `${path}: cannot write: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: path, problem: 'unwritable' }, { cause: e });
  }
}

export function certView(pem: string, now: Date): CertView {
  const d = describeCert(pem, now);
  return { subject: d.subject, issuer: d.issuer, serial: d.serial, not_after: d.notAfter, days_left: d.daysLeft, fingerprint: d.fingerprint, sans: d.sans };
}
