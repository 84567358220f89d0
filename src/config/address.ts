/**
 * `host:port` addresses, wherever one is taken: config keys (`server.api_addr`, `coordination.cluster.*`),
 * CLI flags (`--api-addr`, `--bind-addr`, `--join`, `cluster add-node`) and API bodies (`POST
 * /cluster/join`). The host is a name (`node-1`, `node-1.example.com`), an IPv4 literal or an IPv6
 * literal in brackets (`[::1]:7946`, as in URLs). Port 0 is allowed where the node listens (the OS
 * picks one, which tests use), not for a peer.
 *
 * One parser and one resolver for all of them, so that an address means the same everywhere and a
 * bad one gets the same error: the value, what was wrong with it, the form expected and examples.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { CaxtonError } from '../errors.js';

export interface Address {
  /** Host name or IP literal, without brackets. */
  readonly host: string;
  /** 0..65535; 0 asks the OS for a free port. */
  readonly port: number;
}

export const ADDRESS_EXAMPLE = '127.0.0.1:8080';
/** The form, in words, for error messages and config expectations. */
export const ADDRESS_FORM = 'host:port, where host is a name or an IP address (IPv6 in brackets)';
export const ADDRESS_EXAMPLES = 'node-1.example.com:7946, 10.0.0.5:7946 or [::1]:7946';

/**
 * `listen`: where this node binds (port 0 allowed). `peer`: another node to reach (port 1 to 65535).
 * `advertise`: what this node tells other nodes to reach it at (port 0: the bound port); no IPv6 zone.
 */
export type AddressUse = 'listen' | 'peer' | 'advertise';

// A DNS name (letters, digits, _ . -; 1 to 253 characters, not starting or ending with . or -) or an
// IPv4 literal, or an IPv6 literal (with an optional zone) in brackets; then a port of 1 to 5 digits.
const ADDRESS_RE = /^(?:\[([0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?)\]|([A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?)):(\d{1,5})$/;

/** The address, or why `text` is not one (a phrase: "the port is missing"). */
export function checkAddress(text: string, use: AddressUse = 'listen'): Address | { readonly problem: string } {
  const m = ADDRESS_RE.exec(text);
  if (m === null) return { problem: addressProblem(text) };
  const host = (m[1] ?? m[2]) as string;
  if (m[1] !== undefined && isIP(host.replace(/%.*$/, '')) !== 6) return { problem: `[${host}] is not an IPv6 address` };
  const port = Number(m[3]);
  if (port > 65535) return { problem: `port ${port} is out of range (1 to 65535)` };
  if (port === 0 && use === 'peer') return { problem: 'port 0 cannot be reached: give the port the other node listens on (7946 for gossip by default)' };
  // A zone names an interface of this host; other nodes have their own names (and the gossip
  // protocol carries the address as IP bytes, without it).
  if (use === 'advertise' && host.includes('%')) return { problem: `the IPv6 zone ${host.slice(host.indexOf('%'))} names an interface of this host, which other nodes cannot use; advertise the address without it, e.g. [${host.slice(0, host.indexOf('%'))}]:${port}` };
  return { host, port };
}

/** The address, or undefined when the text is not `host:port` with a port in 0..65535. */
export function parseAddress(text: string): Address | undefined {
  const a = checkAddress(text);
  return 'problem' in a ? undefined : a;
}

function addressProblem(text: string): string {
  if (text.trim() === '') return 'it is empty';
  if (text !== text.trim()) return 'it has spaces around it';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return 'it is a URL; give host:port without a scheme';
  const colons = text.split(':').length - 1;
  if (!text.startsWith('[') && colons > 1) return 'an IPv6 address goes in brackets, e.g. [::1]:7946';
  if (colons === 0 || text.endsWith(']')) return 'the port is missing';
  const port = text.slice(text.lastIndexOf(':') + 1);
  if (!/^\d{1,5}$/.test(port)) return port === '' ? 'the port is missing' : `"${port}" is not a port number`;
  return 'the host is not a name or an IP address (letters, digits, _ . - for a name; IPv6 in brackets)';
}

/**
 * The one error for an address that is not one, or whose name does not resolve. `where` names the
 * input (`--join`, `body.addresses[0]`, `coordination.cluster.bind_addr`).
 */
export function addressError(where: string, value: string, problem: string): CaxtonError {
  return new CaxtonError('CAXTON_ERR_ADDRESS_INVALID', `${where}: "${value.length > 100 ? `${value.slice(0, 100)}…` : value}" is not a usable address: ${problem}; expected ${ADDRESS_FORM}, e.g. ${ADDRESS_EXAMPLES}`, {
    field: where,
    value: value.slice(0, 300),
    expected: ADDRESS_FORM,
    example: ADDRESS_EXAMPLES,
  });
}

/** Parses `text` or throws the address error. */
export function requireAddress(text: string, where: string, use: AddressUse = 'listen'): Address {
  const a = checkAddress(text, use);
  if ('problem' in a) throw addressError(where, text, a.problem);
  return a;
}

export type Lookup = (host: string) => Promise<{ address: string }>;

/**
 * How long one name lookup may take, ms. dns.lookup (getaddrinfo) has no timeout of its own: with an
 * unreachable DNS server it waits for the resolver's retries (resolv.conf: 5 s × 2 attempts per server,
 * more with several servers), and a start, a join or an API request would wait with it.
 */
export const LOOKUP_TIMEOUT_MS = 5_000;

/**
 * The address with its host as an IP literal: a name is looked up with dns.lookup (the system's
 * resolver, /etc/hosts included — what net.connect and dgram would do), taking the first address it
 * gives; an IP literal is kept as it is. Throws the address error when the name does not exist, and
 * CAXTON_ERR_DNS_UNAVAILABLE (retryable) when the resolver did not answer: EAI_AGAIN, or no answer
 * within `timeoutMs` (the lookup itself cannot be cancelled; it is no longer waited for).
 */
export async function resolveAddress(a: Address, where: string, lookup: Lookup = dnsLookup, timeoutMs = LOOKUP_TIMEOUT_MS): Promise<Address> {
  if (isIP(a.host.replace(/%.*$/, '')) !== 0) return a;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), timeoutMs);
  });
  try {
    const r = await Promise.race([lookup(a.host), late]);
    if (r === 'late') throw dnsUnavailable(where, a, `no answer within ${timeoutMs} ms`, timeoutMs);
    return { host: r.address, port: a.port };
  } catch (e) {
    throw e instanceof CaxtonError ? e : lookupError(where, a, e, timeoutMs);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The error for a failed lookup of `a`'s name (dns.lookup's, or listen()'s own, which resolves the
 * same way): CAXTON_ERR_DNS_UNAVAILABLE for EAI_AGAIN, the address error for a name that does not exist.
 */
export function lookupError(where: string, a: Address, e: unknown, timeoutMs = LOOKUP_TIMEOUT_MS): CaxtonError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EAI_AGAIN') return dnsUnavailable(where, a, 'the DNS server did not answer (EAI_AGAIN, a temporary failure)', timeoutMs);
  const why = code === 'ENOTFOUND' || code === 'ENODATA' ? 'no such host' : (code ?? (e as Error).message);
  return addressError(where, formatAddress(a), `the name "${a.host}" does not resolve (${why})`);
}

function dnsUnavailable(where: string, a: Address, why: string, timeoutMs: number): CaxtonError {
  const value = formatAddress(a);
  return new CaxtonError('CAXTON_ERR_DNS_UNAVAILABLE', `${where}: could not look up the name "${a.host}" of ${value}: ${why}`, {
    field: where,
    value: value.slice(0, 300),
    host: a.host,
    timeout_ms: timeoutMs,
  });
}

/**
 * Resolves `items` with at most `parallel` lookups at a time (each lookup holds one of libuv's 4
 * threadpool threads until getaddrinfo returns, timeout or not), and reports failures in input order:
 * `failed` lists every item that did not resolve, by index, whatever finished first.
 */
export async function resolveAll(items: readonly { address: Address; where: string }[], parallel = 4, lookup: Lookup = dnsLookup, timeoutMs = LOOKUP_TIMEOUT_MS): Promise<{ resolved: (Address | undefined)[]; failed: { index: number; error: CaxtonError }[] }> {
  const resolved: (Address | undefined)[] = new Array<Address | undefined>(items.length).fill(undefined);
  const failed: { index: number; error: CaxtonError }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      const it = items[i] as { address: Address; where: string };
      try {
        resolved[i] = await resolveAddress(it.address, it.where, lookup, timeoutMs);
      } catch (e) {
        if (!(e instanceof CaxtonError)) throw e;
        failed.push({ index: i, error: e });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
  failed.sort((x, y) => x.index - y.index);
  return { resolved, failed };
}

/** Back to `host:port`, with brackets around IPv6. */
export function formatAddress(a: Address): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
