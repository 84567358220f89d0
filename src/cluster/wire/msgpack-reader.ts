/**
 * The msgpack reader: every msgpack form accepted, every length checked before it is used, nesting
 * limited. See msgpack.ts.
 */
import { WireError } from './errors.js';
import { DEFAULT_MAX_DEPTH, fromUtf8, type MsgpackValue } from './msgpack-value.js';

/** The msgpack family of the next value, as the struct decoder needs it. */
export type MsgpackKind = 'nil' | 'bool' | 'int' | 'float' | 'str' | 'bin' | 'array' | 'map' | 'ext';

/**
 * A bounds-checked cursor over one buffer. `pos` advances as values are read; `end` is exclusive.
 * Reads past `end` throw WireError('truncated') with `needed` set to the end offset required, which
 * the incremental stream reader uses to know how many bytes to wait for. After any error the cursor
 * position is unspecified: start again from a saved offset.
 */
export class MsgpackReader {
  readonly buf: Uint8Array;
  readonly end: number;
  readonly maxDepth: number;
  pos: number;
  readonly #view: DataView;

  constructor(buf: Uint8Array, pos = 0, end = buf.length, maxDepth = DEFAULT_MAX_DEPTH) {
    this.buf = buf;
    this.pos = pos;
    this.end = Math.min(end, buf.length);
    this.maxDepth = maxDepth;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  #need(n: number): void {
    if (this.pos + n > this.end) {
      throw new WireError('truncated', `msgpack: need ${n} more bytes at offset ${this.pos}`, {
        offset: this.pos,
        needed: this.pos + n,
      });
    }
  }

  peekByte(): number {
    this.#need(1);
    return this.buf[this.pos] ?? 0;
  }

  readByte(): number {
    this.#need(1);
    return this.buf[this.pos++] ?? 0;
  }

  #u8(): number {
    this.#need(1);
    return this.buf[this.pos++] ?? 0;
  }

  #u16(): number {
    this.#need(2);
    const v = this.#view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  #u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  /** Copies `n` bytes out, after checking they are there (so no allocation beyond the input). */
  readRaw(n: number): Uint8Array {
    this.#need(n);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  #skipBytes(n: number): void {
    this.#need(n);
    this.pos += n;
  }

  /** The family of the next value, without consuming it. */
  peekKind(): MsgpackKind {
    const b = this.peekByte();
    if (b <= 0x7f || b >= 0xe0) return 'int';
    if (b <= 0x8f) return 'map';
    if (b <= 0x9f) return 'array';
    if (b <= 0xbf) return 'str';
    switch (b) {
      case 0xc0:
        return 'nil';
      case 0xc2:
      case 0xc3:
        return 'bool';
      case 0xc4:
      case 0xc5:
      case 0xc6:
        return 'bin';
      case 0xc7:
      case 0xc8:
      case 0xc9:
      case 0xd4:
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8:
        return 'ext';
      case 0xca:
      case 0xcb:
        return 'float';
      case 0xd9:
      case 0xda:
      case 0xdb:
        return 'str';
      case 0xdc:
      case 0xdd:
        return 'array';
      case 0xde:
      case 0xdf:
        return 'map';
      case 0xc1:
        throw new WireError('invalid-format', 'msgpack: 0xc1 is never used', { offset: this.pos });
      default:
        return 'int';
    }
  }

  /** Consumes a nil if one is next. */
  tryNil(): boolean {
    if (this.peekByte() === 0xc0) {
      this.pos++;
      return true;
    }
    return false;
  }

  #mismatch(want: string): WireError {
    const at = this.pos;
    return new WireError('type-mismatch', `msgpack: expected ${want}, found 0x${(this.buf[at] ?? 0).toString(16)} at offset ${at}`, {
      offset: at,
    });
  }

  /**
   * Any integer form, as a bigint (go-msgpack decodeInt/decodeUint accept both the int and uint
   * families; floats are refused).
   */
  readBigInt(): bigint {
    const at = this.pos;
    const b = this.peekByte();
    if (b <= 0x7f) {
      this.pos++;
      return BigInt(b);
    }
    if (b >= 0xe0) {
      this.pos++;
      return BigInt(b - 0x100);
    }
    this.pos++;
    let v: bigint;
    switch (b) {
      case 0xcc:
        v = BigInt(this.#u8());
        break;
      case 0xcd:
        v = BigInt(this.#u16());
        break;
      case 0xce:
        v = BigInt(this.#u32());
        break;
      case 0xcf:
        this.#need(8);
        v = this.#view.getBigUint64(this.pos);
        this.pos += 8;
        break;
      case 0xd0:
        this.#need(1);
        v = BigInt(this.#view.getInt8(this.pos));
        this.pos += 1;
        break;
      case 0xd1:
        this.#need(2);
        v = BigInt(this.#view.getInt16(this.pos));
        this.pos += 2;
        break;
      case 0xd2:
        this.#need(4);
        v = BigInt(this.#view.getInt32(this.pos));
        this.pos += 4;
        break;
      case 0xd3:
        this.#need(8);
        v = this.#view.getBigInt64(this.pos);
        this.pos += 8;
        break;
      default:
        this.pos = at;
        throw this.#mismatch('an integer');
    }
    return v;
  }

  /** An integer in [min, max] (both safe integers), from any int or uint form. */
  readInt(min: number, max: number): number {
    const at = this.pos;
    const v = this.readBigInt();
    if (v < BigInt(min) || v > BigInt(max)) {
      throw new WireError('int-range', `msgpack: integer ${v} outside [${min}, ${max}] at offset ${at}`, { offset: at });
    }
    return Number(v);
  }

  /** go-msgpack decodeBool: true/false, or the fixints 0 and 1. */
  readBool(): boolean {
    const b = this.peekByte();
    if (b === 0xc2 || b === 0x00) {
      this.pos++;
      return false;
    }
    if (b === 0xc3 || b === 0x01) {
      this.pos++;
      return true;
    }
    throw this.#mismatch('a bool');
  }

  /** Length of the next str or bin value (header consumed), or -1 if the value is not one. */
  #rawLength(): number {
    const b = this.peekByte();
    if (b >= 0xa0 && b <= 0xbf) {
      this.pos++;
      return b & 0x1f;
    }
    switch (b) {
      case 0xd9:
      case 0xc4:
        this.pos++;
        return this.#u8();
      case 0xda:
      case 0xc5:
        this.pos++;
        return this.#u16();
      case 0xdb:
      case 0xc6:
        this.pos++;
        return this.#u32();
      default:
        return -1;
    }
  }

  /** A raw string or binary (fixstr, str8/16/32, bin8/16/32) as a copy of its bytes. */
  readRawBytes(): Uint8Array {
    const len = this.#rawLength();
    if (len < 0) throw this.#mismatch('a string or binary');
    return this.readRaw(len);
  }

  /** A Go `string` field: str or bin bytes decoded as UTF-8. */
  readString(): string {
    const len = this.#rawLength();
    if (len < 0) throw this.#mismatch('a string');
    this.#need(len);
    const s = fromUtf8(this.buf.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }

  /** Entry count of a map header; checks the entries could fit in what remains (2 bytes each). */
  readMapHeader(): number {
    const b = this.peekByte();
    let n: number;
    if (b >= 0x80 && b <= 0x8f) {
      this.pos++;
      n = b & 0x0f;
    } else if (b === 0xde) {
      this.pos++;
      n = this.#u16();
    } else if (b === 0xdf) {
      this.pos++;
      n = this.#u32();
    } else {
      throw this.#mismatch('a map');
    }
    if (this.pos + n * 2 > this.end) {
      throw new WireError('truncated', `msgpack: map of ${n} entries cannot fit in ${this.end - this.pos} bytes`, {
        offset: this.pos,
        needed: this.pos + n * 2,
      });
    }
    return n;
  }

  /** Element count of an array header; checks the elements could fit (1 byte each). */
  readArrayHeader(): number {
    const b = this.peekByte();
    let n: number;
    if (b >= 0x90 && b <= 0x9f) {
      this.pos++;
      n = b & 0x0f;
    } else if (b === 0xdc) {
      this.pos++;
      n = this.#u16();
    } else if (b === 0xdd) {
      this.pos++;
      n = this.#u32();
    } else {
      throw this.#mismatch('an array');
    }
    if (this.pos + n > this.end) {
      throw new WireError('truncated', `msgpack: array of ${n} cannot fit in ${this.end - this.pos} bytes`, {
        offset: this.pos,
        needed: this.pos + n,
      });
    }
    return n;
  }

  #extLength(b: number): number {
    switch (b) {
      case 0xd4:
        return 1;
      case 0xd5:
        return 2;
      case 0xd6:
        return 4;
      case 0xd7:
        return 8;
      case 0xd8:
        return 16;
      case 0xc7:
        return this.#u8();
      case 0xc8:
        return this.#u16();
      default:
        return this.#u32();
    }
  }

  /**
   * Skips one value of any type. Iterative over siblings and recursive only into containers, with
   * `depth` counting the containers already open; every element consumes at least one byte, so the
   * work is bounded by the input length.
   */
  skip(depth = 0): void {
    const kind = this.peekKind();
    const b = this.peekByte();
    switch (kind) {
      case 'nil':
      case 'bool':
        this.pos++;
        return;
      case 'int':
        this.readBigInt();
        return;
      case 'float':
        this.pos++;
        this.#skipBytes(b === 0xca ? 4 : 8);
        return;
      case 'str':
      case 'bin': {
        const len = this.#rawLength();
        this.#skipBytes(len);
        return;
      }
      case 'ext': {
        this.pos++;
        const len = this.#extLength(b);
        this.#skipBytes(1 + len);
        return;
      }
      case 'array': {
        if (depth >= this.maxDepth) throw new WireError('too-deep', `msgpack: nesting deeper than ${this.maxDepth}`, { offset: this.pos });
        const n = this.readArrayHeader();
        for (let i = 0; i < n; i++) this.skip(depth + 1);
        return;
      }
      case 'map': {
        if (depth >= this.maxDepth) throw new WireError('too-deep', `msgpack: nesting deeper than ${this.maxDepth}`, { offset: this.pos });
        const n = this.readMapHeader();
        for (let i = 0; i < n; i++) {
          this.skip(depth + 1);
          this.skip(depth + 1);
        }
        return;
      }
    }
  }

  /** Reads one value of any type into the generic representation (see MsgpackValue). */
  readValue(depth = 0): MsgpackValue {
    const kind = this.peekKind();
    const b = this.peekByte();
    switch (kind) {
      case 'nil':
        this.pos++;
        return null;
      case 'bool':
        return this.readBool();
      case 'int': {
        const v = this.readBigInt();
        return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      }
      case 'float': {
        this.pos++;
        if (b === 0xca) {
          this.#need(4);
          const f = this.#view.getFloat32(this.pos);
          this.pos += 4;
          return f;
        }
        this.#need(8);
        const f = this.#view.getFloat64(this.pos);
        this.pos += 8;
        return f;
      }
      case 'str':
      case 'bin':
        return this.readRawBytes();
      case 'ext': {
        this.pos++;
        const len = this.#extLength(b);
        this.#need(1 + len);
        const extType = this.buf[this.pos] ?? 0;
        this.pos++;
        return { extType: extType >= 0x80 ? extType - 0x100 : extType, data: this.readRaw(len) };
      }
      case 'array': {
        if (depth >= this.maxDepth) throw new WireError('too-deep', `msgpack: nesting deeper than ${this.maxDepth}`, { offset: this.pos });
        const n = this.readArrayHeader();
        const out: MsgpackValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.readValue(depth + 1));
        return out;
      }
      case 'map': {
        if (depth >= this.maxDepth) throw new WireError('too-deep', `msgpack: nesting deeper than ${this.maxDepth}`, { offset: this.pos });
        const n = this.readMapHeader();
        const out = new Map<MsgpackValue, MsgpackValue>();
        for (let i = 0; i < n; i++) {
          const k = this.readValue(depth + 1);
          out.set(k, this.readValue(depth + 1));
        }
        return out;
      }
    }
  }
}
