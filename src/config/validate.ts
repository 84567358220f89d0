/**
 * Checks a merged config against the schema and says what is wrong in the schema's own words. ajv
 * runs with allErrors so every problem is found in one pass; its errors are grouped per key and
 * worded from the schema's `expect` annotation (./kinds.ts), not from ajv's generic messages.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { canaryPlan, parseCanaryStages } from '../agents/canary-plan.js';
import { isCaxtonError } from '../errors.js';
import { checkAddress, type AddressUse } from './address.js';
import { formatPath, showValue, type ConfigIssue, type ConfigPath } from './issues.js';
import type { UnitSpec } from './kinds.js';
import { CaxtonConfigSchema, type CaxtonConfig } from './schema.js';
import { schemaAt, valueAt } from './paths.js';
import { suggestKey } from './suggest.js';
import { checkDuration, checkSize } from './units.js';

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });

// Annotation only: the wording of "must be ..." in messages.
ajv.addKeyword({ keyword: 'expect', schemaType: 'string' });

// Addresses are checked by the parser the CLI and the API use, which says what is wrong with one.
const addressCheck: KeywordCheck<AddressUse, string> = (use, data) => {
  const a = checkAddress(data, use);
  if (!('problem' in a)) return true;
  addressCheck.errors = [{ keyword: 'address', message: a.problem, params: {} }];
  return false;
};
ajv.addKeyword({ keyword: 'address', schemaType: 'string', type: 'string', errors: true, validate: addressCheck });

/** An ajv validate-function keyword reports its own errors through this property. */
type KeywordCheck<S, D> = ((schema: S, data: D) => boolean) & { errors?: Partial<ErrorObject>[] };

// Sizes and durations are checked by the code that converts them, so "valid" means "converts".
const unitCheck: KeywordCheck<UnitSpec, unknown> = (spec, data) => {
  const r = spec.kind === 'bytes' ? checkSize(data) : checkDuration(data);
  const message = 'error' in r ? r.error : (spec.min !== undefined && r.value < spec.min) || (spec.max !== undefined && r.value > spec.max) ? '' : undefined;
  if (message === undefined) return true;
  // '' = out of range: the expectation ("from 1KiB to 1GiB") already says why.
  unitCheck.errors = [{ keyword: 'unit', message, params: {} }];
  return false;
};
ajv.addKeyword({ keyword: 'unit', schemaType: 'object', errors: true, validate: unitCheck });

// The canary stage list is parsed by the same functions the upgrade command uses.
const stagesCheck: KeywordCheck<boolean, string> = (_, data) => {
  try {
    canaryPlan({ stages: parseCanaryStages(data) });
    return true;
  } catch (e) {
    if (!isCaxtonError(e)) throw e;
    stagesCheck.errors = [{ keyword: 'canaryStages', message: e.message.replace(/^invalid canary plan: /, ''), params: {} }];
    return false;
  }
};
ajv.addKeyword({ keyword: 'canaryStages', schemaType: 'boolean', type: 'string', errors: true, validate: stagesCheck });

const check = ajv.compile<CaxtonConfig>(CaxtonConfigSchema);

/** The problems with `data` as a whole config; none means it is a CaxtonConfig. */
export function validateConfig(data: unknown): ConfigIssue[] {
  if (check(data)) return [];
  const issues: ConfigIssue[] = [];
  const byPath = new Map<string, { path: ConfigPath; errors: ErrorObject[] }>();
  for (const e of check.errors ?? []) {
    const path = toPath(data, e.instancePath);
    if (e.keyword === 'additionalProperties') {
      const key = [...path, String((e.params as { additionalProperty: string }).additionalProperty)];
      issues.push({ path: key, at: 'key', message: `unknown key ${formatPath(key)}${suggestKey(CaxtonConfigSchema, key)}` });
      continue;
    }
    const group = byPath.get(e.instancePath) ?? { path, errors: [] };
    group.errors.push(e);
    byPath.set(e.instancePath, group);
  }
  for (const { path, errors } of byPath.values()) issues.push({ path, message: mustBe(path, valueAt(data, path), errors) });
  return issues;
}

function mustBe(path: ConfigPath, value: unknown, errors: ErrorObject[]): string {
  const schema = schemaAt(CaxtonConfigSchema, path);
  const expect = (schema?.['expect'] as string | undefined) ?? 'valid';
  const typeWrong = errors.some((e) => e.keyword === 'type');
  // Say why a value of the right type still failed, when the expectation alone does not.
  const why = errors
    .filter((e) => ((e.keyword === 'unit' || e.keyword === 'canaryStages' || e.keyword === 'address') && !typeWrong && e.message !== '') || e.keyword === 'uniqueItems')
    .map((e) => (e.keyword === 'uniqueItems' ? 'an item is listed twice' : e.message))[0];
  const subject = path.length === 0 ? 'the configuration' : formatPath(path);
  return `${subject} must be ${expect}, got ${showValue(value)}${why === undefined ? '' : `: ${why}`}`;
}

/** A JSON pointer (`/coordination/cluster/seeds/1`) as a path, with array indices as numbers. */
function toPath(data: unknown, pointer: string): ConfigPath {
  if (pointer === '') return [];
  const out: (string | number)[] = [];
  let node = data;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const key: string | number = Array.isArray(node) ? Number(seg) : seg;
    out.push(key);
    node = node !== null && typeof node === 'object' ? (node as Record<string | number, unknown>)[key] : undefined;
  }
  return out;
}
