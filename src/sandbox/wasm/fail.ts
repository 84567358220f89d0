/**
 * Error construction for module admission. Every rejection is a CaxtonError whose message names the
 * problem precisely (section, function index, byte offset, operator, feature or import). Nothing in
 * this directory may let another exception type escape for any input bytes.
 */
import { CaxtonError, type ErrorCode } from '../../errors.js';

export function fail(code: ErrorCode, message: string, offset?: number): never {
  throw new CaxtonError(code, message, offset === undefined ? undefined : { offset });
}

export function malformed(message: string, offset?: number): never {
  return fail('CAXTON_ERR_MODULE_MALFORMED', message, offset);
}

export function invalid(message: string, offset?: number): never {
  return fail('CAXTON_ERR_MODULE_INVALID', message, offset);
}

export function limit(message: string, offset?: number): never {
  return fail('CAXTON_ERR_MODULE_LIMIT', message, offset);
}

/** `0x1f` */
export function hex(n: number): string {
  return '0x' + n.toString(16).padStart(2, '0');
}

/** "offset 123 (0x7b)" */
export function at(offset: number): string {
  return `offset ${offset} (0x${offset.toString(16)})`;
}

const MAX_NAME_CHARS = 80;

/**
 * Quotes an untrusted name for an error message: control and non-ASCII-printable characters are
 * escaped and long names are shortened, so a module cannot forge or flood log lines.
 */
export function quote(name: string): string {
  let out = '';
  let n = 0;
  for (const ch of name) {
    if (n++ >= MAX_NAME_CHARS) {
      out += '…';
      break;
    }
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x20 || c === 0x7f || c === 0x27 || c === 0x5c || (c >= 0x80 && c < 0xa0) || c === 0x2028 || c === 0x2029) {
      out += c <= 0xff ? '\\x' + c.toString(16).padStart(2, '0') : '\\u' + c.toString(16).padStart(4, '0');
    } else {
      out += ch;
    }
  }
  return `'${out}'`;
}

/** "4 GiB", "64 MiB", "640 KiB" for a page count. */
export function pagesToHuman(pages: number): string {
  const bytes = pages * 65536;
  if (bytes >= 1024 ** 3 && bytes % 1024 ** 3 === 0) return `${bytes / 1024 ** 3} GiB`;
  if (bytes >= 1024 ** 2 && bytes % 1024 ** 2 === 0) return `${bytes / 1024 ** 2} MiB`;
  return `${bytes / 1024} KiB`;
}
