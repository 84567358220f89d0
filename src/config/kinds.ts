/**
 * The building blocks of the config schema. Each builder returns a TypeBox schema that carries an
 * `expect` annotation: the words an error message uses for what the value should have been ("an
 * integer of at least 1"), so messages come from the schema, not from ajv's generic texts.
 *
 * Sizes and durations validate through the custom `unit` keyword (./validate.ts) so a value is
 * checked by the same code that later converts it (./units.ts). Their static type is
 * `number | string`: the raw config keeps them as written, and TypeScript will not let that be used
 * as a number by mistake; code reads the converted values from the resolved config (./resolve.ts).
 */
import { Type, type TSchema, type TObject, type TProperties } from '@sinclair/typebox';
import { ADDRESS_EXAMPLE, ADDRESS_EXAMPLES, ADDRESS_FORM, type AddressUse } from './address.js';
import { formatBytes, formatMs } from './units.js';

/** The `unit` keyword's schema value: what to convert to, and the allowed range in that unit. */
export interface UnitSpec {
  readonly kind: 'bytes' | 'ms';
  readonly min?: number;
  readonly max?: number;
}

export function Section<P extends TProperties>(description: string, properties: P): TObject<P> {
  return Type.Object(properties, { additionalProperties: false, description, expect: 'a mapping of keys' });
}

export function Size(description: string, range: { min?: number; max?: number } = {}) {
  const unit: UnitSpec = { kind: 'bytes', ...range };
  const expect = `a size (bytes, or a number with a unit such as "64MiB")${rangeText(range, formatBytes)}`;
  return Type.Unsafe<number | string>({ type: ['integer', 'string'], unit, description, expect });
}

export function Duration(description: string, range: { min?: number; max?: number } = {}) {
  const unit: UnitSpec = { kind: 'ms', ...range };
  const expect = `a duration (milliseconds, or a number with a unit such as "5s")${rangeText(range, formatMs)}`;
  return Type.Unsafe<number | string>({ type: ['integer', 'string'], unit, description, expect });
}

export function Int(description: string, range: { min: number; max?: number }) {
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  const expect = `an integer${rangeText({ min: range.min, ...(range.max === undefined ? {} : { max }) }, String)}`;
  return Type.Integer({ minimum: range.min, maximum: max, description, expect });
}

export function Num(description: string, range: { min: number; max: number }) {
  return Type.Number({ minimum: range.min, maximum: range.max, description, expect: `a number${rangeText(range, String)}` });
}

export function Bool(description: string) {
  return Type.Boolean({ description, expect: 'true or false' });
}

/** A string enum as `{type: 'string', enum}`: one clear error instead of an anyOf of consts. */
export function Enum<const T extends readonly string[]>(values: T, description: string): TSchema & { static: T[number] } {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], description, expect: `one of ${listOr(values.map((v) => `"${v}"`))}` });
}

export function Text(description: string, rule: { pattern?: string; expect?: string; allowEmpty?: boolean } = {}) {
  return Type.String({
    description,
    ...(rule.allowEmpty === true ? {} : { minLength: 1 }),
    ...(rule.pattern === undefined ? {} : { pattern: rule.pattern }),
    expect: rule.expect ?? (rule.allowEmpty === true ? 'a string' : 'a non-empty string'),
  });
}

/**
 * A `host:port` address (src/config/address.ts): `listen` where this node binds (port 0 picks one),
 * `peer` for another node. The `address` keyword checks it with the same parser as the CLI and the API.
 */
export function Addr(description: string, use: AddressUse = 'listen') {
  return Type.String({ address: use, description, expect: `${ADDRESS_FORM}, e.g. ${use === 'peer' ? ADDRESS_EXAMPLES : ADDRESS_EXAMPLE}` });
}

/** `"auto"` or an address to advertise (no IPv6 zone): the node works the address out itself (first non-loopback IPv4). */
export function AddrOrAuto(description: string) {
  return Type.Union([Type.Literal('auto'), Type.String({ address: 'advertise' })], {
    description,
    expect: `"auto" or ${ADDRESS_FORM}, e.g. 10.0.0.1:7946`,
  });
}

export function AddrList(description: string) {
  return Type.Array(Addr('One peer, host:port.', 'peer'), { description, maxItems: 1000, expect: `a list of addresses, each ${ADDRESS_FORM}, e.g. [${ADDRESS_EXAMPLES.replace(' or ', ', ')}]` });
}

/** A whole number of at least 1, or "auto" for a value the node computes from the machine. */
export function IntOrAuto(description: string, range: { min: number; max: number }) {
  return Type.Union([Type.Literal('auto'), Type.Integer({ minimum: range.min, maximum: range.max })], {
    description,
    expect: `"auto" or an integer${rangeText(range, String)}`,
  });
}

function rangeText(r: { min?: number; max?: number }, fmt: (n: number) => string): string {
  if (r.min !== undefined && r.max !== undefined) return ` from ${fmt(r.min)} to ${fmt(r.max)}`;
  if (r.min !== undefined) return ` of at least ${fmt(r.min)}`;
  if (r.max !== undefined) return ` of at most ${fmt(r.max)}`;
  return '';
}

function listOr(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
