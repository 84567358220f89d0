import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CaxtonError, ErrorCatalogue, isCaxtonError, type ErrorCode } from '../../src/errors.js';

const codes = Object.keys(ErrorCatalogue) as ErrorCode[];

test('errors - every code follows CAXTON_ERR_<AREA>_<WHAT> and carries a status and a hint', () => {
  for (const code of codes) {
    assert.match(code, /^CAXTON_ERR_[A-Z]+_[A-Z_]+$/);
    const spec = ErrorCatalogue[code];
    assert.ok(spec.status >= 400 && spec.status < 600, code);
    assert.ok(spec.hint.length > 20, `${code} has a real hint`);
  }
});

test('errors - docs/errors.md has a row for every code, and no row for a code that does not exist', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const documented = new Set([...doc.matchAll(/^\| `(CAXTON_ERR_[A-Z_]+)` \| (\d+) \|/gm)].map((m) => `${m[1]} ${m[2]}`));
  for (const code of codes) assert.ok(documented.has(`${code} ${ErrorCatalogue[code].status}`), `${code} documented with status ${ErrorCatalogue[code].status}`);
  assert.equal(documented.size, codes.length);
});

test('errors - CaxtonError serializes to the API shape', () => {
  const e = new CaxtonError('CAXTON_ERR_AGENT_NOT_FOUND', 'no agent named x', { agent: 'x' });
  assert.equal(e.status, 404);
  assert.ok(isCaxtonError(e, 'CAXTON_ERR_AGENT_NOT_FOUND'));
  assert.ok(!isCaxtonError(e, 'CAXTON_ERR_STORAGE_UNAVAILABLE'));
  assert.deepEqual(JSON.parse(JSON.stringify(e)), { code: 'CAXTON_ERR_AGENT_NOT_FOUND', message: 'no agent named x', hint: ErrorCatalogue.CAXTON_ERR_AGENT_NOT_FOUND.hint, details: { agent: 'x' } });
});
