/**
 * A small client for the REST API (docs/api.md), over Node's global fetch. Every failure becomes a
 * CliError that says what went wrong and how to fix it: the API's own message and hint, or for the
 * cases the API cannot explain (no server, key refused, role too weak) the CLI's.
 */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { CliError, EXIT_USAGE } from './errors.js';
import type { Connection } from './credentials.js';
import { VERSION } from '../version.js';

export const API_PREFIX = '/api/v1';
const DEFAULT_TIMEOUT_MS = 30_000;
const USER_AGENT = `caxton-cli/${VERSION}`;

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  /** Sent as JSON. POST and PUT always send a body (`{}` when none is given). */
  body?: unknown;
  /** How long to wait for the whole answer; 0 for no limit. @default 30000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ServerEvent {
  event: string;
  data: unknown;
}

export type Permission = 'read' | 'deploy' | 'send' | 'control' | 'admin';

/** Which roles hold each permission (docs/api.md, "Authentication and roles"). */
export const ROLES_WITH: Record<Permission, readonly string[]> = {
  read: ['viewer', 'developer', 'operator', 'admin'],
  deploy: ['developer', 'admin'],
  send: ['developer', 'operator', 'admin'],
  control: ['operator', 'admin'],
  admin: ['admin'],
};

/** The permission a route needs, from the route table of docs/api.md. */
export function permissionFor(method: string, path: string): Permission {
  const p = path.replace(/\?.*$/, '');
  const m = method.toUpperCase();
  if (/^\/(keys|config)(\/|$)/.test(p) || p === '/debug/dump' || p === '/audit') return 'admin';
  if (m === 'GET' || m === 'HEAD') return 'read';
  if (p === '/messages') return 'send';
  if (p === '/agents' && m === 'POST') return 'deploy';
  if (/^\/agents\/[^/]+$/.test(p) && m === 'DELETE') return 'deploy';
  if (/^\/agents\/[^/]+\/(upgrade|canary\/promote|canary\/rollback)$/.test(p)) return 'deploy';
  return 'control';
}

export class ApiClient {
  readonly connection: Connection;
  readonly #fetch: typeof fetch;

  constructor(connection: Connection, fetchImpl: typeof fetch = fetch) {
    this.connection = connection;
    this.#fetch = fetchImpl;
  }

  get<T>(path: string, query?: Query, opts: Omit<RequestOptions, 'query' | 'body'> = {}): Promise<T> {
    return this.request<T>('GET', path, { ...opts, ...(query === undefined ? {} : { query }) });
  }

  post<T>(path: string, body?: unknown, opts: Omit<RequestOptions, 'body'> = {}): Promise<T> {
    return this.request<T>('POST', path, { ...opts, body: body ?? {} });
  }

  patch<T>(path: string, body: unknown, opts: Omit<RequestOptions, 'body'> = {}): Promise<T> {
    return this.request<T>('PATCH', path, { ...opts, body });
  }

  delete<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('DELETE', path, query === undefined ? {} : { query });
  }

  /** One request; resolves to the parsed JSON answer of a 2xx, throws a CliError otherwise. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, opts);
    const text = await res.text();
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`the API at ${this.connection.apiUrl} answered ${method} ${path} with something that is not JSON`, {
        hint: 'Check that --api-url points at a Caxton node and not at another service.',
        code: 'CAXTON_CLI_BAD_RESPONSE',
      });
    }
  }

  /** Sends a request and returns the successful Response unread (for downloads and event streams). */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const url = this.url(path, opts.query);
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': USER_AGENT };
    if (this.connection.apiKey !== undefined) headers['authorization'] = `Bearer ${this.connection.apiKey}`;
    let body: string | undefined;
    if (opts.body !== undefined && method !== 'GET' && method !== 'DELETE') {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const signals: AbortSignal[] = [];
    if (timeoutMs > 0) signals.push(AbortSignal.timeout(timeoutMs));
    if (opts.signal !== undefined) signals.push(opts.signal);
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        ...(signals.length === 0 ? {} : { signal: signals.length === 1 ? signals[0]! : AbortSignal.any(signals) }),
      });
    } catch (e) {
      if (opts.signal?.aborted === true) throw e;
      throw networkError(e, this.connection, timeoutMs);
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      throw httpError(res.status, res.statusText, text, method, path, this.connection, res.headers);
    }
    return res;
  }

  /**
   * Streams a response body into a file (written beside it, then renamed); resolves to the byte count
   * and the response's headers.
   */
  async download(path: string, file: string, onBytes?: (n: number) => void, query?: Query): Promise<{ bytes: number; headers: Headers }> {
    const res = await this.send('GET', path, { timeoutMs: 0, ...(query === undefined ? {} : { query }) });
    if (res.body === null) throw new CliError(`the API sent an empty answer to GET ${path}`, { code: 'CAXTON_CLI_BAD_RESPONSE' });
    const partial = `${file}.partial`;
    let bytes = 0;
    const source = Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>);
    source.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      onBytes?.(bytes);
    });
    try {
      await pipeline(source, createWriteStream(partial, { mode: 0o600 }));
      await rename(partial, file);
    } catch (e) {
      await rm(partial, { force: true });
      if (e instanceof CliError) throw e;
      throw new CliError(`could not write ${file}: ${(e as Error).message}`, { code: 'CAXTON_CLI_WRITE', cause: e });
    }
    return { bytes, headers: res.headers };
  }

  /**
   * Subscribes to GET /events (resolves once the server has accepted the stream, so nothing sent
   * after that is missed) and yields its Server-Sent Events until it ends or `signal` aborts. With
   * `agent`, only that agent's events: in a cluster its log lines too when it runs on another node.
   */
  async events(types: string | undefined, signal?: AbortSignal, agent?: string): Promise<AsyncGenerator<ServerEvent>> {
    const query = { ...(types === undefined ? {} : { types }), ...(agent === undefined ? {} : { agent }) };
    const res = await this.send('GET', '/events', {
      timeoutMs: 0,
      ...(Object.keys(query).length === 0 ? {} : { query }),
      ...(signal === undefined ? {} : { signal }),
    });
    const apiUrl = this.connection.apiUrl;
    return (async function* () {
      if (res.body === null) return;
      const decoder = new TextDecoder();
      const reader = res.body.getReader();
      const parser = new SseParser();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          for (const ev of parser.push(decoder.decode(value, { stream: true }))) {
            // The node's last word on a stream (docs/api.md, /events).
            if (ev.event === 'shutdown') {
              throw new CliError(`the node at ${apiUrl} is shutting down: the event stream ended`, { hint: 'Run the command again once the node is back up.', code: 'CAXTON_CLI_STREAM' });
            }
            yield ev;
          }
        }
      } catch (e) {
        if (signal?.aborted === true) return;
        if (e instanceof CliError) throw e;
        throw new CliError(`the event stream from ${apiUrl} broke off: ${(e as Error).message}`, { code: 'CAXTON_CLI_STREAM', cause: e });
      } finally {
        reader.cancel().catch(() => undefined);
      }
    })();
  }

  url(path: string, query?: Query): string {
    let url: URL;
    try {
      url = new URL(`${this.connection.apiUrl}${API_PREFIX}${path}`);
    } catch {
      throw new CliError(`"${this.connection.apiUrl}" is not a URL`, {
        hint: 'Pass --api-url http://host:port (or set CAXTON_API_URL), e.g. --api-url http://127.0.0.1:8080.',
        code: 'CAXTON_CLI_USAGE',
        exitCode: EXIT_USAGE,
      });
    }
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url.toString();
  }
}

/** Splits a text/event-stream into events (`event:` and `data:` lines, blank line ends one). */
export class SseParser {
  #buffer = '';
  #event = 'message';
  #data: string[] = [];

  *push(chunk: string): Generator<ServerEvent> {
    this.#buffer += chunk;
    let i: number;
    while ((i = this.#buffer.search(/\r?\n/)) >= 0) {
      const line = this.#buffer.slice(0, i);
      this.#buffer = this.#buffer.slice(this.#buffer[i] === '\r' ? i + 2 : i + 1);
      if (line === '') {
        if (this.#data.length > 0) {
          const text = this.#data.join('\n');
          let data: unknown = text;
          try {
            data = JSON.parse(text) as unknown;
          } catch {
            /* plain text data */
          }
          yield { event: this.#event, data };
        }
        this.#event = 'message';
        this.#data = [];
      } else if (line.startsWith(':')) {
        continue;
      } else {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') this.#event = value;
        else if (field === 'data') this.#data.push(value);
      }
    }
  }
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'the connection was reset',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved (DNS lookup failed)',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  ETIMEDOUT: 'the connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  UND_ERR_SOCKET: 'the connection closed unexpectedly',
  EPROTO: 'protocol error (is it https where http is expected, or the other way round?)',
};

function urlWhence(conn: Connection): string {
  return conn.urlSource === 'flag' ? 'from --api-url' : conn.urlSource === 'env' ? 'from CAXTON_API_URL' : 'the default';
}

/** A fetch that never got an HTTP answer: the server is not there, or too slow. */
export function networkError(e: unknown, conn: Connection, timeoutMs: number): CliError {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') {
    return new CliError(`the Caxton API at ${conn.apiUrl} did not answer within ${Math.round(timeoutMs / 1000)}s`, {
      hint: 'The node may be overloaded or stuck: check it with `caxton server status` and its logs, then retry.',
      code: 'CAXTON_CLI_TIMEOUT',
      cause: e,
    });
  }
  const code = err.cause?.code ?? (err as { code?: string }).code;
  let reason = (code !== undefined ? NETWORK_REASONS[code] : undefined) ?? err.cause?.message ?? err.message;
  if (reason === 'bad port') reason = 'fetch refuses to connect to that port (a blocked port); use another';
  return new CliError(`cannot reach the Caxton API at ${conn.apiUrl} (${urlWhence(conn)}): ${reason}`, {
    hint: (code === undefined ? undefined : tlsHint(code)) ?? `Is a node running there? Start one with \`caxton server start\`, or point the CLI at a running node with --api-url <url> (or CAXTON_API_URL).`,
    code: 'CAXTON_CLI_UNREACHABLE',
    details: { api_url: conn.apiUrl, ...(code === undefined ? {} : { reason: code }) },
    cause: e,
  });
}

/** What to do about a failed TLS handshake, from Node's (OpenSSL's) error code. */
function tlsHint(code: string): string | undefined {
  if (/ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|HANDSHAKE_FAILURE)$/.test(code)) {
    return 'The node asks for a client certificate (security.api.tls.client_auth) and refused this one, or got none: pass --client-cert and --client-key (or CAXTON_CLIENT_CERT, CAXTON_CLIENT_KEY) with a certificate issued by its security.api.tls.ca_cert.';
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code)) {
    return 'The CLI does not trust the node\'s certificate: pass --ca-cert <file> (or CAXTON_CA_CERT) with the CA that issued it, and use the name or address the certificate was issued for in --api-url.';
  }
  return undefined;
}

interface ApiErrorBody {
  error?: { code?: unknown; message?: unknown; hint?: unknown; details?: unknown };
}

/** An HTTP error answer, as the CLI reports it. */
export function httpError(
  status: number,
  statusText: string,
  text: string,
  method: string,
  path: string,
  conn: Connection,
  headers?: Headers,
): CliError {
  let body: ApiErrorBody | undefined;
  try {
    body = JSON.parse(text) as ApiErrorBody;
  } catch {
    body = undefined;
  }
  const apiError = body?.error;
  const code = typeof apiError?.code === 'string' ? apiError.code : `HTTP_${status}`;
  const apiMessage = typeof apiError?.message === 'string' ? apiError.message : `${status} ${statusText}`.trim();
  const apiHint = typeof apiError?.hint === 'string' ? apiError.hint : undefined;
  const details = apiError?.details !== null && typeof apiError?.details === 'object' ? (apiError.details as Record<string, unknown>) : undefined;
  const base = { code, status, ...(details === undefined ? {} : { details }) };

  if (status === 401) return unauthorized(apiMessage, conn, base);
  if (status === 403 && code !== 'CAXTON_ERR_MESSAGE_SPOOFED') return forbidden(apiMessage, method, path, details, base);
  if (status === 429) {
    const retry = headers?.get('retry-after');
    // Kept where polling commands look for it (src/cli/poll.ts), whether or not the body said it.
    const seconds = retry === null || retry === undefined ? Number.NaN : Number(retry);
    return new CliError(apiMessage, {
      ...base,
      ...(Number.isFinite(seconds) && base.details?.['retryAfter'] === undefined ? { details: { ...base.details, retryAfter: seconds } } : {}),
      hint: apiHint ?? `Too many requests for this key${retry === null || retry === undefined ? '' : `; retry after ${retry}s`}, or raise security.api.rate_limit.`,
    });
  }
  if (apiError === undefined) {
    return new CliError(`${method} ${path} failed: HTTP ${status} ${statusText}`.trim(), {
      ...base,
      hint: status === 404
        ? `Nothing answers at ${conn.apiUrl}${API_PREFIX}${path}: is --api-url a Caxton node of this version?`
        : 'The answer did not come from a Caxton node, or the node failed unexpectedly; check its logs.',
    });
  }
  return new CliError(apiMessage, { ...base, ...(apiHint === undefined ? {} : { hint: apiHint }) });
}

function unauthorized(apiMessage: string, conn: Connection, base: { code: string; status: number; details?: Record<string, unknown> }): CliError {
  const src = conn.keySource;
  const at = `the API at ${conn.apiUrl}`;
  let message: string;
  let hint: string;
  switch (src.kind) {
    case 'none':
      message = `${at} needs an API key and the CLI found none: no --api-key, no CAXTON_API_KEY, and ${src.path} ${src.problem} (${apiMessage})`;
      hint = `Pass --api-key <key>, set CAXTON_API_KEY, or point --data-dir (or CAXTON_DATA_DIR) at the data directory of that node, where it wrote admin.key on its first start.`;
      break;
    case 'flag':
      message = `${at} refused the key given with --api-key (${apiMessage})`;
      hint = 'Check the key (it may have been revoked: `caxton key list`); an admin can create one with `caxton key create --name <name> --role <role>`.';
      break;
    case 'env':
      message = `${at} refused the key in ${src.variable} (${apiMessage})`;
      hint = `Check or unset ${src.variable} (it comes before --data-dir's admin.key), or pass another key with --api-key.`;
      break;
    case 'file':
      message = `${at} refused the key read from ${src.path} (${apiMessage})`;
      hint = `That admin.key belongs to another node or data directory: point --data-dir (or CAXTON_DATA_DIR) at the data directory of the node at ${conn.apiUrl}, or pass --api-key / CAXTON_API_KEY.`;
      break;
  }
  return new CliError(message, { ...base, hint });
}

function forbidden(
  apiMessage: string,
  method: string,
  path: string,
  details: Record<string, unknown> | undefined,
  base: { code: string; status: number; details?: Record<string, unknown> },
): CliError {
  const fromApi = details?.['permission'] ?? details?.['required'];
  const perm: Permission = typeof fromApi === 'string' && fromApi in ROLES_WITH ? (fromApi as Permission) : permissionFor(method, path);
  const roles = ROLES_WITH[perm];
  const r = details?.['role'];
  const role = typeof r === 'string' && !apiMessage.includes(r) ? ` (the key's role is ${r})` : '';
  const suggest = roles.find((r) => r !== 'viewer') ?? 'admin';
  // Without an API key, a client certificate's role (its OU) was refused (docs/security.md).
  const cert = apiMessage.startsWith('client certificate ');
  return new CliError(`the ${cert ? 'client certificate' : 'API key'}'s role may not do this${role}: ${apiMessage}`, {
    ...base,
    hint: `${method} ${path.replace(/\?.*$/, '')} needs the "${perm}" permission, which only the role${roles.length === 1 ? '' : 's'} ${roles.join(', ')} ${roles.length === 1 ? 'has' : 'have'}. Use a key with such a role (an admin creates one with \`caxton key create --name <name> --role ${suggest}\`)${cert ? `, passed with --api-key (a key wins over the certificate), or a certificate with that role (\`caxton security gen-client-cert --role ${suggest}\`)` : ''}.`,
  });
}
