/**
 * A large agent module written straight as a binary (assembling megabytes of text with wabt takes
 * far longer than admitting it): the three ABI exports plus as many small looping functions as fit
 * in `bytes`, within the policy's 100,000-function cap. Valid, and admitted like any other.
 */
import { leb, section } from '../unit/sandbox/wasm/helpers.js';

/** (param $n i32) (result i32) (local $acc i32): a loop that multiplies and adds `reps` times per turn. */
function fillerBody(reps: number, k: number): number[] {
  const step = [0x20, 0x01, 0x20, 0x00, 0x41, ...leb(k), 0x6c, 0x6a, 0x21, 0x01]; // acc = acc + n * k
  const body = [0x01, 0x01, 0x7f, 0x02, 0x40, 0x03, 0x40, 0x20, 0x00, 0x45, 0x0d, 0x01];
  for (let i = 0; i < reps; i++) body.push(...step);
  body.push(0x20, 0x00, 0x41, 0x01, 0x6b, 0x21, 0x00, 0x0c, 0x00, 0x0b, 0x0b, 0x20, 0x01, 0x0b);
  return [...leb(body.length), ...body];
}

export function bigModule(bytes: number, functions = 99_000): Uint8Array {
  const name = (s: string) => [...leb(s.length), ...Buffer.from(s)];
  const types = section(1, [3, 0x60, 1, 0x7f, 1, 0x7f, 0x60, 0, 1, 0x7f, 0x60, 2, 0x7f, 0x7f, 1, 0x7f]);
  const funcs = section(3, [...leb(functions + 3), 1, 0, 2, ...new Array<number>(functions).fill(0)]);
  const memory = section(5, [1, 0, 1]);
  const exports = section(7, [4, ...name('memory'), 2, 0, ...name('caxton_abi_version'), 0, 0, ...name('caxton_alloc'), 0, 1, ...name('handle_message'), 0, 2]);
  const abi = [4, 0, 0x41, 1, 0x0b, 5, 0, 0x41, 0x80, 0x08, 0x0b, 4, 0, 0x41, 0, 0x0b];
  const fixed = 8 + types.length + funcs.length + memory.length + exports.length + abi.length + 8;
  // Each step is 10 bytes; the loop around them 26.
  const reps = Math.max(1, Math.floor((bytes - fixed) / functions / 10) - 3);
  const chunks: number[][] = [];
  let codeLen = abi.length;
  for (let i = 0; i < functions; i++) {
    const b = fillerBody(reps, (i % 97) + 3);
    chunks.push(b);
    codeLen += b.length;
  }
  const count = leb(functions + 3);
  const out = new Uint8Array(8 + types.length + funcs.length + memory.length + exports.length + 1 + leb(count.length + codeLen).length + count.length + codeLen);
  let o = 0;
  const put = (xs: ArrayLike<number>) => {
    out.set(xs, o);
    o += xs.length;
  };
  put([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  put(types);
  put(funcs);
  put(memory);
  put(exports);
  put([10, ...leb(count.length + codeLen), ...count]);
  put(abi);
  for (const c of chunks) put(c);
  return out;
}
