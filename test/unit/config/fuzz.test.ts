/**
 * Property test: random YAML-ish text, random mutations of the example file and random --set
 * arguments either load or are refused with one CAXTON_ERR_CONFIG_INVALID whose every line starts
 * with a place (file:line:col, file, or --set arg). Nothing else may escape. Deterministic (seeded).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadConfig, parseConfigText } from '../../../src/config/index.js';
import { isCaxtonError } from '../../../src/errors.js';
import { prng } from '../../helpers/prng.js';

const CASES = 1000;
const rnd = prng(0xc0f16);
const int = (n: number): number => Math.floor(rnd() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;

const EXAMPLE = readFileSync(new URL('../../../examples/config/caxton.yaml', import.meta.url), 'utf8');
const KEYS = ['node', 'id', 'server', 'api_addr', 'runtime', 'workers', 'restart', 'window', 'messaging', 'queue_size', 'seeds', 'coordination', 'cluster', 'profile', 'stages', 'features', 'x', '__proto__', 'constructor', '<<', '? a'];
const TOKENS = [': ', ':', '\n', '\n  ', '\n    ', '- ', '[', ']', '{', '}', ', ', '"', "'", '${', '}', 'X', ':-', '&a ', '*a', '!!str ', '!x ', '# c', '|', '>', '---', '...', '\t', '%YAML 1.2', '1e9', '-1', '0x1F', '.nan', '64MiB', '5s', '1h30m', 'auto', 'true', 'null', '~', '\u0000', 'é', '\\'];

function garbage(): string {
  let s = '';
  const n = 1 + int(40);
  for (let i = 0; i < n; i++) s += rnd() < 0.35 ? pick(KEYS) : pick(TOKENS);
  return s;
}

function mutate(text: string): string {
  let s = text;
  for (let i = 1 + int(4); i > 0; i--) {
    const at = int(s.length);
    const r = int(3);
    if (r === 0) s = s.slice(0, at) + s.slice(at + 1 + int(8));
    else if (r === 1) s = s.slice(0, at) + pick([...TOKENS, ...KEYS]) + s.slice(at);
    else s = s.slice(0, at) + s.slice(at).replace(/\d/, String(int(10)));
  }
  return s;
}

function randomSet(): string {
  const key = Array.from({ length: 1 + int(3) }, () => pick(KEYS)).join(pick(['.', '.', '..', '']));
  return `${key}${pick(['=', '=', '', ' = '])}${garbage().slice(0, 20)}`;
}

function check(fn: () => unknown, label: string): void {
  try {
    fn();
  } catch (e) {
    if (!isCaxtonError(e, 'CAXTON_ERR_CONFIG_INVALID')) assert.fail(`${label}: threw ${String(e)}`);
    for (const line of e.message.split('\n')) assert.match(line, /^(c\.yaml(:\d+:\d+)?|--set .*?): \S/, `${label}: ${JSON.stringify(line)}`);
  }
}

test('fuzz - garbage, mutated files and random --set never throw anything but a located CAXTON_ERR_CONFIG_INVALID', () => {
  const env = { X: '1', A: '{a: [1', EMPTY: '' };
  for (let i = 0; i < CASES; i++) {
    const text = i % 2 === 0 ? garbage() : mutate(EXAMPLE);
    check(() => parseConfigText(text, 'c.yaml', env), `case ${i}: ${JSON.stringify(text)}`);
    if (i % 5 === 0) {
      const sets = Array.from({ length: 1 + int(3) }, randomSet);
      check(() => loadConfig({ env, sets }), `case ${i}: --set ${JSON.stringify(sets)}`);
    }
  }
});
