/**
 * Reads a request that carries a module: JSON with the module in base64, or multipart/form-data with
 * the .wasm as a file part. Both come out as the same fields, validated against one TypeBox schema.
 */
import type { FastifyRequest } from 'fastify';
import type { TObject } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { CaxtonError, isCaxtonError } from '../errors.js';
import { patternProblem, toCaxtonError } from './errors.js';
import { MAX_BODY_DEPTH, refuseDeepNesting, refuseForbiddenKeys } from './json-body.js';

export interface Upload<T> {
  readonly fields: T;
  readonly module: Buffer;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** `schema` describes the fields other than `module`; JSON-typed multipart fields are parsed as JSON. */
export async function readUpload<T>(req: FastifyRequest, schema: TObject, jsonFields: readonly string[]): Promise<Upload<T>> {
  let raw: Record<string, unknown>;
  let module: Buffer | undefined;
  if (req.isMultipart()) {
    raw = {};
    try {
      module = await readParts(req, raw, jsonFields);
    } catch (e) {
      if (isCaxtonError(e)) throw e;
      const mapped = toCaxtonError(e);
      // busboy throws plain Errors for a broken body (no boundary, truncated): the client's fault.
      throw mapped.code === 'CAXTON_ERR_SERVER_INTERNAL' ? invalid('body', `is not valid multipart/form-data: ${(e as Error).message}`) : mapped;
    }
  } else {
    if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) throw invalid('body', 'must be a JSON object');
    const { module: m, ...rest } = req.body as Record<string, unknown>;
    raw = rest;
    if (m !== undefined) {
      if (typeof m !== 'string') throw invalid('body.module', 'must be the module\'s bytes in base64');
      const text = m.replace(/\s+/g, '');
      if (!BASE64.test(text) || text.length % 4 === 1) throw invalid('body.module', 'is not valid base64');
      module = Buffer.from(text, 'base64');
    }
  }
  if (module === undefined || module.length === 0) throw invalid('body.module', 'is required: the .wasm file (multipart field "module", or base64 in JSON)');
  const first = Value.Errors(schema, raw).First();
  if (first !== undefined) throw invalid(`body${first.path.replace(/\//g, '.')}`, problem(first));
  return { fields: raw as T, module };
}

/**
 * TypeBox's message for a field ("Expected string to match '^[A-Za-z0-9_]…'"), to follow the field
 * name. Only its first letter is lowered: the rest quotes patterns and values, which must stay as
 * they are (lowercasing it all turned A-Za-z into a-za-z).
 */
function problem(e: ValueError): string {
  const pattern = (e.schema as { pattern?: unknown }).pattern;
  if (e.type === ValueErrorType.StringPattern && typeof pattern === 'string') return patternProblem(pattern, e.value);
  return e.message.charAt(0).toLowerCase() + e.message.slice(1);
}

/** Collects the text fields into `raw`; returns the module file's bytes. */
async function readParts(req: FastifyRequest, raw: Record<string, unknown>, jsonFields: readonly string[]): Promise<Buffer | undefined> {
  let module: Buffer | undefined;
  for await (const part of req.parts()) {
    if (part.fieldname === '__proto__' || part.fieldname === 'constructor' || part.fieldname === 'prototype') {
      throw invalid(`body.${part.fieldname}`, 'is not a field of this route');
    }
    if (part.type === 'file') {
      if (part.fieldname !== 'module' && part.fieldname !== 'wasm') {
        await part.toBuffer();
        throw invalid(`body.${part.fieldname}`, 'is not a file field of this route: send the module as the file field "module"');
      }
      module = await part.toBuffer();
      continue;
    }
    const value = String(part.value);
    raw[part.fieldname] = jsonFields.includes(part.fieldname) ? parseJsonField(part.fieldname, value) : coerceScalar(value);
  }
  return module;
}

function parseJsonField(name: string, value: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value) as unknown;
  } catch (e) {
    throw invalid(`body.${name}`, `is not valid JSON: ${(e as Error).message}`);
  }
  // The same nesting and keys are refused as in a JSON body, where the field is level 2.
  refuseDeepNesting(value, `body.${name}`, MAX_BODY_DEPTH - 1);
  refuseForbiddenKeys(value, parsed, `body.${name}`);
  return parsed;
}

function coerceScalar(v: string): unknown {
  if (v === 'true') return true;
  if (v === 'false') return false;
  return v;
}

export function invalid(field: string, what: string): CaxtonError {
  return new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', `${field} ${what}`, { field });
}
