/** Small helpers shared by the wire codec tests. */

/** Bytes from hex; spaces, newlines and `|` separators are ignored so vectors can be annotated. */
export function fromHex(s: string): Uint8Array {
  const clean = s.replace(/[\s|]/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new Error(`bad hex: ${s}`);
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** ASCII/UTF-8 text as hex, to write vectors like `a4 ${h('Node')}`. */
export function h(s: string): string {
  return Buffer.from(s, 'utf8').toString('hex');
}

export function utf8(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, 'utf8'));
}

/** The suite's seeded PRNG (mulberry32), so fuzz failures reproduce. */
export { prng } from '../../../helpers/prng.js';

export function randomBytes(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * 256);
  return out;
}
