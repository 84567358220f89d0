import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  CAXTON_ROOT, LANGUAGES, ScaffoldError, TEMPLATES, TEMPLATES_DIR, availableTemplates, newAgentProject, substitute,
} from '../../../src/scaffold/index.js';
import { tempDir } from '../../helpers/tmp.js';
import { caxtonArgs } from '../../helpers/caxton-command.js';

/** A templates tree from a map of relative path -> content. */
function templatesTree(root: string, files: Record<string, string>): string {
  for (const [rel, text] of Object.entries(files)) {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
  }
  return root;
}

function refusal(fn: () => unknown): ScaffoldError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ScaffoldError, `expected a ScaffoldError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a refusal');
}

test('scaffold - replaces the placeholders in file contents, not in file names', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const templates = templatesTree(join(tmp.path, 't'), {
    'c/_base/{{name}}.txt': 'kept',
    'c/echo/info.txt': '{{name}} {{crate_name}} {{caxton_root}} {{sdk_dir}} {{unknown}} {name}',
  });
  const r = newAgentProject({ name: 'price-bot-2', lang: 'c', cwd: tmp.path, templatesDir: templates, caxtonRoot: '/opt/caxton' });
  assert.equal(r.dir, join(tmp.path, 'price-bot-2'));
  assert.equal(r.template, 'echo');
  assert.deepEqual(r.files, ['info.txt', '{{name}}.txt']);
  assert.equal(readFileSync(join(r.dir, 'info.txt'), 'utf8'), 'price-bot-2 price_bot_2 /opt/caxton /opt/caxton/sdk/c {{unknown}} {name}');
  assert.equal(substitute('{{sdk_dir}}/x', { sdk_dir: '/s' }), '/s/x');
});

test('scaffold - a template file replaces the _base file of the same path; _gitignore becomes .gitignore at any depth', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const templates = templatesTree(join(tmp.path, 't'), {
    'assemblyscript/_base/README.md': 'base readme',
    'assemblyscript/_base/shared.txt': 'shared',
    'assemblyscript/_base/_gitignore': 'build/\n',
    'assemblyscript/_base/sub/_gitignore': 'x\n',
    'assemblyscript/echo/README.md': 'echo readme',
    'assemblyscript/subscriber/README.md': 'subscriber readme',
  });
  const r = newAgentProject({ name: 'a', lang: 'assemblyscript', template: 'echo', cwd: tmp.path, templatesDir: templates });
  assert.deepEqual(r.files, ['.gitignore', 'README.md', 'shared.txt', 'sub/.gitignore']);
  assert.equal(readFileSync(join(r.dir, 'README.md'), 'utf8'), 'echo readme');
  assert.equal(readFileSync(join(r.dir, '.gitignore'), 'utf8'), 'build/\n');
  assert.ok(!existsSync(join(r.dir, '_gitignore')));
  // The other template's files stay out.
  assert.ok(!readdirSync(r.dir).includes('subscriber'));
});

test('scaffold - refuses a bad name, an unknown language or template, and a language without templates, naming what exists', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const templates = templatesTree(join(tmp.path, 't'), { 'c/echo/a.txt': 'a', 'c/subscriber/a.txt': 'a' });
  const base = { cwd: tmp.path, templatesDir: templates };
  for (const name of ['Echo', '1bot', 'my_bot', '', 'a'.repeat(64), 'bot/../x', '-x']) {
    const e = refusal(() => newAgentProject({ ...base, name, lang: 'c' }));
    assert.equal(e.problem, 'name', name);
    assert.match(e.message, /invalid agent name/);
  }
  assert.equal(newAgentProject({ ...base, name: 'a'.repeat(63), lang: 'c' }).name.length, 63);
  const lang = refusal(() => newAgentProject({ ...base, name: 'x', lang: 'go' }));
  assert.equal(lang.problem, 'lang');
  assert.match(lang.hint, /assemblyscript, c, rust/);
  const template = refusal(() => newAgentProject({ ...base, name: 'x', lang: 'c', template: 'request-reply' }));
  assert.equal(template.problem, 'template');
  assert.match(template.message, /unknown template "request-reply" for --lang c/);
  assert.match(template.hint, /The c templates are: echo, subscriber\./);
  const none = refusal(() => newAgentProject({ ...base, name: 'x', lang: 'rust' }));
  assert.equal(none.problem, 'no-templates');
  assert.match(none.message, /no rust templates/);
  assert.match(none.hint, /--lang c/);
  assert.deepEqual(readdirSync(tmp.path).sort(), ['a'.repeat(63), 't'], 'nothing was written for a refusal');
});

test('scaffold - refuses a target that has files or is a file, and writes into an empty one', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const templates = templatesTree(join(tmp.path, 't'), { 'c/echo/a.txt': 'a' });
  const base = { cwd: tmp.path, templatesDir: templates, name: 'x', lang: 'c' };
  mkdirSync(join(tmp.path, 'full'));
  writeFileSync(join(tmp.path, 'full', 'notes.md'), 'mine');
  const full = refusal(() => newAgentProject({ ...base, dir: 'full' }));
  assert.equal(full.problem, 'target');
  assert.match(full.message, /full is not empty \(it has notes\.md\)/);
  assert.equal(readFileSync(join(tmp.path, 'full', 'notes.md'), 'utf8'), 'mine');
  writeFileSync(join(tmp.path, 'file'), '');
  assert.match(refusal(() => newAgentProject({ ...base, dir: 'file' })).message, /exists and is not a directory/);
  mkdirSync(join(tmp.path, 'empty'));
  const r = newAgentProject({ ...base, dir: 'empty' });
  assert.deepEqual(readdirSync(r.dir), ['a.txt']);
  // Default dir: ./NAME, created with its parents for --dir.
  assert.equal(newAgentProject({ ...base, dir: 'deep/er/x' }).dir, join(tmp.path, 'deep', 'er', 'x'));
});

test('scaffold - the shipped templates: every language present has the four templates, and every project has its contract files', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const pkg = JSON.parse(readFileSync(join(CAXTON_ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string>; files?: string[] };
  // `caxton new agent` of an installed package reads templates/ and links sdk/ (test/integration/package-contents.test.ts packs them).
  assert.ok(pkg.files?.includes('templates/') && pkg.files.includes('sdk/'), 'package.json\'s "files" list packs templates/ and sdk/');
  assert.ok(availableTemplates('assemblyscript').length > 0 && availableTemplates('c').length > 0);
  for (const lang of LANGUAGES) {
    const names = availableTemplates(lang);
    if (names.length === 0) continue; // rust: the Rust SDK brings its templates
    // AssemblyScript and C have all four; another language may have fewer, but only known ones.
    if (lang === 'rust') assert.ok(names.every((n) => (TEMPLATES as readonly string[]).includes(n)), `${lang}: ${names.join(', ')}`);
    else assert.deepEqual(names, [...TEMPLATES], lang);
    for (const template of names) {
      const name = `${lang === 'assemblyscript' ? 'as' : lang}-${template}`;
      const r = newAgentProject({ name, lang, template, cwd: tmp.path });
      for (const f of ['README.md', 'caxton.agent.json', 'package.json', 'test/agent.test.mjs', '.gitignore']) {
        assert.ok(r.files.includes(f), `${lang}/${template}: ${f}`);
      }
      // What the project's own commands write stays out of git: node_modules, the data directories
      // of `caxton dev` (.caxton-dev) and of `caxton server start` run in the project (.caxton).
      const ignored = readFileSync(join(r.dir, '.gitignore'), 'utf8').split('\n');
      for (const dir of ['node_modules/', '.caxton/', '.caxton-dev/']) assert.ok(ignored.includes(dir), `${lang}/${template}: .gitignore lacks ${dir}`);
      for (const f of r.files) {
        const text = readFileSync(join(r.dir, f), 'utf8');
        assert.doesNotMatch(text, /\{\{[a-z_]+\}\}/, `${lang}/${template}: ${f} has a placeholder left`);
      }
      const manifest = r.manifest!;
      assert.equal(manifest.name, name);
      assert.equal(manifest.lang, lang);
      assert.ok(Array.isArray(manifest.build) && manifest.build.length > 0);
      assert.ok(Array.isArray(manifest.watch) && manifest.watch.every((w) => existsSync(join(r.dir, w))), `${lang}/${template}: watch`);
      const project = JSON.parse(readFileSync(join(r.dir, 'package.json'), 'utf8')) as { scripts: Record<string, string>; devDependencies: Record<string, string> };
      assert.equal(project.scripts['test'], 'node --test test/');
      assert.equal(project.devDependencies['caxton'], `file:${CAXTON_ROOT}`);
      if (lang === 'assemblyscript') {
        assert.equal(project.devDependencies['assemblyscript'], pkg.devDependencies['assemblyscript'], 'the compiler caxton installs, so npm has it cached');
        assert.equal(project.devDependencies['@caxton/sdk-assemblyscript'], `file:${join(CAXTON_ROOT, 'sdk', 'assemblyscript')}`);
        assert.equal(manifest.wasm, `build/${name}.wasm`);
      }
      if (lang === 'c') assert.match(readFileSync(join(r.dir, 'Makefile'), 'utf8'), new RegExp(`SDK_C \\?= ${join(CAXTON_ROOT, 'sdk', 'c')}\\n`));
    }
  }
  assert.equal(TEMPLATES_DIR, join(CAXTON_ROOT, 'templates', 'agent'));
  assert.ok(statSync(join(CAXTON_ROOT, 'sdk', 'c', 'caxton.h')).isFile());
});

/** Runs the CLI from source. */
function cli(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...caxtonArgs, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('scaffold - caxton new agent: creates the project, lists the templates in --help, refuses with exit 2 or 1 and a hint', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const made = cli(['new', 'agent', 'hello', '--lang', 'c'], tmp.path);
  assert.equal(made.status, 0, made.stderr);
  assert.match(made.stdout, /✓ created c agent hello \(template echo\) in hello/);
  assert.match(made.stdout, /make\s+# builds build\/hello\.wasm/);
  assert.ok(existsSync(join(tmp.path, 'hello', 'src', 'agent.c')));

  const again = cli(['new', 'agent', 'hello', '--lang', 'c'], tmp.path);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /error: .*hello is not empty/);
  assert.match(again.stderr, /hint: Choose another --dir/);

  const json = cli(['new', 'agent', 'bid', '--lang', 'assemblyscript', '--template', 'contract-net-bidder', '--dir', 'x/bid', '-o', 'json'], tmp.path);
  assert.equal(json.status, 0, json.stderr);
  const body = JSON.parse(json.stdout) as { dir: string; template: string; manifest: { wasm: string } };
  assert.equal(body.dir, join(tmp.path, 'x', 'bid'));
  assert.equal(body.template, 'contract-net-bidder');
  assert.equal(body.manifest.wasm, 'build/bid.wasm');

  const badName = cli(['new', 'agent', 'Hello', '--lang', 'c', '-o', 'json'], tmp.path);
  assert.equal(badName.status, 2);
  assert.equal((JSON.parse(badName.stdout) as { error: { code: string } }).error.code, 'CAXTON_CLI_USAGE');

  const badTemplate = cli(['new', 'agent', 'y', '--lang', 'c', '--template', 'bidder'], tmp.path);
  assert.equal(badTemplate.status, 2);
  assert.match(badTemplate.stderr, /echo, request-reply, contract-net-bidder, subscriber/);
  const badLang = cli(['new', 'agent', 'y', '--lang', 'go'], tmp.path);
  assert.equal(badLang.status, 2);
  assert.match(badLang.stderr, /assemblyscript, c, rust/);
  assert.equal(cli(['new', 'agent', 'y'], tmp.path).status, 2, '--lang is required');

  const help = cli(['new', 'agent', '--help'], tmp.path);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Templates in this installation:\n {2}assemblyscript +echo, request-reply, contract-net-bidder, subscriber\n {2}c +echo, request-reply/);
  assert.ok(!existsSync(join(tmp.path, 'y')));
});
