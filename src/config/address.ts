/**
 * `host:port` addresses as written in the config: `0.0.0.0:8080`, `node-1.example.com:7946`,
 * `[::1]:8080` (IPv6 in brackets, as in URLs). Port 0 is allowed: the OS picks one, which tests use.
 */

export interface Address {
  /** Host name or IP literal, without brackets. */
  readonly host: string;
  /** 0..65535; 0 asks the OS for a free port. */
  readonly port: number;
}

export const ADDRESS_EXAMPLE = '127.0.0.1:8080';

const ADDRESS_RE = /^(?:\[([0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?)\]|([A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252}[A-Za-z0-9_])?)):(\d{1,5})$/;

/** The address, or undefined when the text is not `host:port` with a port in 0..65535. */
export function parseAddress(text: string): Address | undefined {
  const m = ADDRESS_RE.exec(text);
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: (m[1] ?? m[2]) as string, port };
}

/** Back to `host:port`, with brackets around IPv6. */
export function formatAddress(a: Address): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
