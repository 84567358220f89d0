import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_FILE, readProjectFile, validateProject } from '../../../src/agent-project/project-file.js';
import { CliError } from '../../../src/cli/errors.js';
import { tempDir } from '../../helpers/tmp.js';

const good = { name: 'echo', lang: 'assemblyscript', build: ['npm', 'run', 'build'], wasm: 'build/echo.wasm', watch: ['assembly', 'package.json'] };

/** The CliError that validating `value` throws. */
function refused(value: unknown): CliError {
  try {
    validateProject(value, '/p');
  } catch (e) {
    assert.ok(e instanceof CliError, String(e));
    assert.equal(e.code, 'CAXTON_CLI_PROJECT_INVALID');
    assert.equal(e.details?.['file'], join('/p', PROJECT_FILE));
    assert.ok(e.message.startsWith(`${join('/p', PROJECT_FILE)}: `), `the message names the file: ${e.message}`);
    assert.ok((e.hint ?? '').length > 10, 'a hint says how to fix it');
    return e;
  }
  assert.fail(`accepted ${JSON.stringify(value)}`);
}

test('agent project file - a valid file gives absolute paths resolved against the project dir', () => {
  const p = validateProject(good, '/p');
  assert.deepEqual(p, {
    dir: '/p',
    file: join('/p', PROJECT_FILE),
    name: 'echo',
    lang: 'assemblyscript',
    build: ['npm', 'run', 'build'],
    wasm: '/p/build/echo.wasm',
    watch: ['/p/assembly', '/p/package.json'],
  });
  for (const lang of ['c', 'rust']) assert.equal(validateProject({ ...good, lang }, '/p').lang, lang);
});

test('agent project file - each missing field is named', () => {
  for (const field of Object.keys(good)) {
    const { [field]: _gone, ...rest } = good as Record<string, unknown>;
    const e = refused(rest);
    assert.equal(e.details?.['field'], field);
    assert.match(e.message, new RegExp(`the field "${field}" is missing`));
  }
});

test('agent project file - a wrong value names the field and what it got', () => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ name: 'no spaces allowed' }, 'name', /"name" must be an agent name .* got string "no spaces allowed"/],
    [{ name: 42 }, 'name', /got number 42/],
    [{ lang: 'go' }, 'lang', /"lang" must be one of assemblyscript, c, rust, got string "go"/],
    [{ build: 'npm run build' }, 'build', /"build" must be a non-empty array of strings .*without a shell.*got string "npm run build"/],
    [{ build: [] }, 'build', /got an empty array/],
    [{ build: ['make', 1] }, 'build', /got the array \["make",1\]/],
    [{ build: [''] }, 'build', /non-empty array/],
    [{ wasm: '' }, 'wasm', /"wasm" must be a non-empty path/],
    [{ wasm: '/abs/echo.wasm' }, 'wasm', /"wasm" must be relative to the project directory, got the absolute path "\/abs\/echo.wasm"/],
    [{ watch: [] }, 'watch', /"watch" must be a non-empty array of paths, got an empty array/],
    [{ watch: 'assembly' }, 'watch', /"watch" must be a non-empty array/],
    [{ watch: ['assembly', null] }, 'watch[1]', /"watch\[1\]" must be a non-empty path, got null/],
    [{ watch: ['/etc'] }, 'watch[0]', /"watch\[0\]" must be relative/],
  ];
  for (const [change, field, message] of cases) {
    const e = refused({ ...good, ...change });
    assert.equal(e.details?.['field'], field, JSON.stringify(change));
    assert.match(e.message, message);
  }
});

test('agent project file - an unknown field (a typo) is refused, naming it and the known ones', () => {
  const e = refused({ ...good, wach: ['src'] });
  assert.equal(e.details?.['field'], 'wach');
  assert.match(e.message, /unknown field "wach"/);
  assert.match(e.hint ?? '', /name, lang, build, wasm, watch/);
});

test('agent project file - not an object is refused', () => {
  assert.match(refused([good]).message, /must be a JSON object, got the array/);
  assert.match(refused(null).message, /must be a JSON object, got null/);
  assert.match(refused('x').message, /must be a JSON object, got string "x"/);
});

test('agent project file - read from disk: a missing file and bad JSON are errors naming the file', (t) => {
  const dir = tempDir('caxton-project-');
  t.after(() => dir.cleanup());
  const file = join(dir.path, PROJECT_FILE);
  assert.throws(() => readProjectFile(dir.path), (e: CliError) => {
    assert.equal(e.code, 'CAXTON_CLI_PROJECT_INVALID');
    assert.equal(e.message, `${file}: no such file: this directory is not an agent project`);
    assert.match(e.hint ?? '', /caxton new agent NAME/);
    return true;
  });
  writeFileSync(file, '{"name": "echo",');
  assert.throws(() => readProjectFile(dir.path), (e: CliError) => e.code === 'CAXTON_CLI_PROJECT_INVALID' && e.message.startsWith(`${file}: is not valid JSON: `));
  writeFileSync(file, JSON.stringify(good));
  mkdirSync(join(dir.path, 'assembly'));
  const p = readProjectFile(dir.path);
  assert.equal(p.wasm, join(dir.path, 'build', 'echo.wasm'));
  assert.equal(p.file, file);
});
