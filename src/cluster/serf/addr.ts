/**
 * IP addresses as Serf and memberlist carry them: Go's net.IP, 4 bytes for IPv4 (memberlist stores
 * `To4()` of an IPv4 advertise address) or 16 bytes for IPv6 (an IPv4-mapped IPv6 address is IPv4).
 */
import net from 'node:net';

/** net.IP bytes → text, or undefined when the bytes are not an address. */
export function ipFromBytes(ip: Uint8Array | null): string | undefined {
  if (ip === null) return undefined;
  if (ip.length === 4) return `${ip[0]}.${ip[1]}.${ip[2]}.${ip[3]}`;
  if (ip.length !== 16) return undefined;
  const mapped = ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff;
  if (mapped) return `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((ip[i] ?? 0) << 8) | (ip[i + 1] ?? 0)).toString(16));
  return groups.join(':');
}

/** Text → net.IP bytes (4 for IPv4, 16 for IPv6); undefined when `host` is not an IP address. */
export function ipToBytes(host: string): Uint8Array | undefined {
  const family = net.isIP(host);
  if (family === 4) return Uint8Array.from(host.split('.').map(Number));
  if (family !== 6) return undefined;
  const zone = host.indexOf('%');
  let text = zone >= 0 ? host.slice(0, zone) : host;
  const out = new Uint8Array(16);
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two groups.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad !== null) {
    const [a, b, c, d] = [quad[1], quad[2], quad[3], quad[4]].map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}
