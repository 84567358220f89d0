/**
 * Layers a config tree over another: mappings merge key by key, anything else (values, lists)
 * replaces. A `null` where a mapping is expected (a section left empty, `server:`) keeps the lower
 * layer, so commenting out every key of a section means "defaults". Keys the lower layer does not
 * have are kept, for the schema to report as unknown.
 */
import { isPlainObject } from './overrides.js';

export function mergeOver(base: unknown, over: unknown): unknown {
  if (isPlainObject(base) && over === null) return base;
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base)) put(out, k, v);
  for (const [k, v] of Object.entries(over)) put(out, k, Object.hasOwn(base, k) ? mergeOver(base[k], v) : v);
  return out;
}

/**
 * Assigns as an own property even for `__proto__`, which plain assignment would treat as the
 * prototype: such a key must reach the schema (and be reported as unknown), not rewire the object.
 */
export function put(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
