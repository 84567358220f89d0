/**
 * A fetch for an HTTPS API with a private CA or a client certificate (`--ca-cert`, `--client-cert`,
 * `--client-key`). Node's global fetch takes no TLS options (its undici Agent is not public on Node
 * 20), so this one goes through node:https and answers with a standard Response, body streamed, so
 * that downloads and the event stream work as with fetch. Without those options the CLI keeps the
 * global fetch (the system's CAs).
 */
import { Agent, request } from 'node:https';
import { Readable } from 'node:stream';
import { readTlsFile } from '../security/tls-file.js';
import type { Connection, TlsFiles } from './credentials.js';
import { usageError } from './errors.js';

/** Reads the files now (an error names the file), and returns a fetch that presents them. */
export function tlsFetch(conn: Pick<Connection, 'apiUrl' | 'tls'>): typeof fetch {
  const files: TlsFiles = conn.tls ?? {};
  if (!/^https:\/\//i.test(conn.apiUrl)) {
    throw usageError(`--ca-cert, --client-cert and --client-key (or CAXTON_CA_CERT, CAXTON_CLIENT_CERT, CAXTON_CLIENT_KEY) are for an https:// API, and the API URL is ${conn.apiUrl}`, 'Pass --api-url https://host:port (the node serves HTTPS when security.api.tls.enabled is true), or drop the TLS options.');
  }
  if ((files.clientCert === undefined) !== (files.clientKey === undefined)) {
    throw usageError(files.clientCert === undefined ? '--client-key needs --client-cert (or CAXTON_CLIENT_CERT)' : '--client-cert needs --client-key (or CAXTON_CLIENT_KEY)', 'Give both the client certificate and its private key, as `caxton security gen-client-cert` wrote them.');
  }
  const agent = new Agent({
    ...(files.caCert === undefined ? {} : { ca: readTlsFile(files.caCert, 'CA certificate, --ca-cert or CAXTON_CA_CERT') }),
    ...(files.clientCert === undefined ? {} : { cert: readTlsFile(files.clientCert, 'client certificate, --client-cert or CAXTON_CLIENT_CERT') }),
    // Refused when group or others may read it, as the node refuses its own keys.
    ...(files.clientKey === undefined ? {} : { key: readTlsFile(files.clientKey, 'client private key, --client-key or CAXTON_CLIENT_KEY', { secret: true }) }),
  });
  return (input, init) => httpsRequest(agent, String(input instanceof Request ? input.url : input), init ?? {});
}

function httpsRequest(agent: Agent, url: string, init: RequestInit): Promise<Response> {
  return new Promise((resolve, reject) => {
    const method = (init.method ?? 'GET').toUpperCase();
    const req = request(url, { method, headers: Object.fromEntries(new Headers(init.headers)), agent, ...(init.signal == null ? {} : { signal: init.signal }) }, (res) => {
      const headers = new Headers();
      for (const [k, v] of Object.entries(res.headers)) {
        if (Array.isArray(v)) for (const one of v) headers.append(k, one);
        else if (v !== undefined) headers.set(k, v);
      }
      const status = res.statusCode ?? 0;
      // A Response with these statuses must have a null body.
      const empty = method === 'HEAD' || status === 204 || status === 304;
      if (empty) res.resume();
      resolve(new Response(empty ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>), { status, statusText: res.statusMessage ?? '', headers }));
    });
    req.on('error', reject);
    const body = init.body;
    if (body === undefined || body === null) req.end();
    else if (typeof body === 'string' || body instanceof Uint8Array) req.end(body);
    else reject(new TypeError('the CLI sends only string or byte bodies'));
  });
}
