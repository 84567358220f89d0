/**
 * Node addresses as memberlist carries them: `Addr` is the raw IP (4 bytes for IPv4, 16 for IPv6,
 * like Go's net.IP) and `Port` a uint16. These convert between that and the transport's host strings.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** The IP bytes of an IP literal (4 or 16), or undefined for anything else (hostnames included). */
export function ipToBytes(host: string): Uint8Array | undefined {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIPv4(h)) return Uint8Array.from(h.split('.').map(Number));
  if (!isIPv6(h) || h.includes('%')) return undefined;
  return parseIPv6(h);
}

function parseIPv6(h: string): Uint8Array | undefined {
  let text = h;
  const tail: number[] = [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) stands for the last two groups.
  const idx = text.lastIndexOf(':');
  const last = text.slice(idx + 1);
  if (last.includes('.')) {
    if (!isIPv4(last)) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = last.split('.').map(Number);
    tail.push((a << 8) | b, (c << 8) | d);
    text = text.slice(0, idx + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (s: string | undefined): number[] =>
    s === undefined || s === '' ? [] : s.split(':').map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : Number.NaN));
  const head = groupsOf(halves[0]);
  const rest = halves.length === 2 ? groupsOf(halves[1]) : [];
  const fill = 8 - tail.length - head.length - rest.length;
  if (halves.length === 2 ? fill < 0 : fill !== 0) return undefined;
  const all = [...head, ...new Array<number>(Math.max(0, fill)).fill(0), ...rest, ...tail];
  if (all.length !== 8 || all.some((g) => Number.isNaN(g))) return undefined;
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/**
 * The text form of IP bytes, as Go's net.IP.String() gives it: 4 bytes and IPv4-mapped 16 bytes as
 * dotted quads, other 16 bytes as compressed IPv6. Undefined for other lengths.
 */
export function bytesToIp(b: Uint8Array | null): string | undefined {
  if (b === null) return undefined;
  if (b.length === 4) return Array.from(b).join('.');
  if (b.length !== 16) return undefined;
  const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  if (mapped) return Array.from(b.subarray(12)).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] ?? 0) << 8) | (b[i + 1] ?? 0));
  // Compress the longest run of two or more zero groups (RFC 5952).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  const x = a ?? new Uint8Array(0);
  const y = b ?? new Uint8Array(0);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
