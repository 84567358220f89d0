/** Walking the config tree by path: the schema of a key, every key of the schema, a value in a config. */
import type { TSchema } from '@sinclair/typebox';
import type { ConfigPath } from './issues.js';

/** The properties of the object schema at `path`, if there is one. */
export function propertiesAt(root: TSchema, path: ConfigPath): Record<string, TSchema> | undefined {
  let node: TSchema | undefined = root;
  for (const seg of path) node = childSchema(node, seg);
  return node?.['properties'] as Record<string, TSchema> | undefined;
}

/** The schema of `path`'s value: properties for objects, items for arrays. */
export function schemaAt(root: TSchema, path: ConfigPath): TSchema | undefined {
  let node: TSchema | undefined = root;
  for (const seg of path) node = childSchema(node, seg);
  return node;
}

function childSchema(node: TSchema | undefined, seg: string | number): TSchema | undefined {
  if (node === undefined) return undefined;
  if (typeof seg === 'number') return node['items'] as TSchema | undefined;
  const props = node['properties'] as Record<string, TSchema> | undefined;
  if (props !== undefined && Object.hasOwn(props, seg)) return props[seg];
  // A mapping of free names (an MCP server's env or headers): every name has the same schema.
  const extra = node['additionalProperties'] as TSchema | boolean | undefined;
  return typeof extra === 'object' ? extra : undefined;
}

/** Every key path that holds a value (not a section), in schema order. */
export function leafPaths(root: TSchema, prefix: ConfigPath = []): string[][] {
  const props = root['properties'] as Record<string, TSchema> | undefined;
  if (props === undefined) return [prefix as string[]];
  return Object.entries(props).flatMap(([k, s]) => leafPaths(s, [...prefix, k]));
}

/** The value at `path` in a config-shaped tree, or undefined (own properties only: `constructor` is not a key). */
export function valueAt(data: unknown, path: ConfigPath): unknown {
  let node = data;
  for (const seg of path) node = node !== null && typeof node === 'object' && Object.hasOwn(node, seg) ? (node as Record<string | number, unknown>)[seg] : undefined;
  return node;
}
