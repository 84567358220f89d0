import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../../../src/cli/main.js';
import { type CmdSpec, commandSpec, completionScript } from '../../../src/cli/completion.js';
import { outsideTool } from '../../helpers/outside-tools.js';
import { caxtonArgs } from '../../helpers/caxton-command.js';

const program = await buildProgram();
const spec = commandSpec(program);

/** Runs a shell script from a temporary file (a whole completion script exceeds one argument's limit). */
function runScript(shell: string, ext: string, text: string): SpawnSyncReturns<string> {
  const file = join(tmpdir(), `caxton-completion-run-${process.pid}.${ext}`);
  writeFileSync(file, text);
  try {
    return spawnSync(shell, [file], { encoding: 'utf8' });
  } finally {
    rmSync(file, { force: true });
  }
}

function walk(s: CmdSpec): CmdSpec[] {
  return [s, ...s.children.flatMap(walk)];
}

const expectedPaths = [
  'caxton agent deploy', 'caxton deploy', 'caxton agent list', 'caxton agent inspect', 'caxton agent suspend', 'caxton agent resume',
  'caxton agent restart', 'caxton agent stop', 'caxton agent upgrade', 'caxton agent promote', 'caxton agent rollback',
  'caxton agent remove', 'caxton agent logs', 'caxton agent stats', 'caxton agent slow', 'caxton message send', 'caxton queue stats',
  'caxton queue drain', 'caxton resources', 'caxton memory stats', 'caxton memory gc', 'caxton trace', 'caxton analyze messages',
  'caxton profile', 'caxton debug dump', 'caxton config diff', 'caxton config validate', 'caxton circuit-breaker activate',
  'caxton circuit-breaker reset', 'caxton emergency stop', 'caxton server start', 'caxton server status', 'caxton key create',
  'caxton key list', 'caxton key revoke', 'caxton completion', 'caxton dev',
];

test('cli completion - the spec covers every command of the brief, and hides the internal __agents', () => {
  const paths = new Set(walk(spec).map((s) => s.path));
  for (const p of expectedPaths) assert.ok(paths.has(p), p);
  assert.ok(![...paths].some((p) => p.includes('__agents')));
  const agent = spec.children.find((c) => c.path === 'caxton agent')!;
  assert.deepEqual(agent.names, ['agent', 'agents']);
});

test('cli completion - caxton new agent offers its languages and templates, and directories for --dir', () => {
  const bash = completionScript(program, 'bash');
  assert.ok(bash.includes(`'caxton new agent|--lang') COMPREPLY=( $(compgen -W 'assemblyscript c rust' -- "$cur") )`));
  assert.ok(bash.includes(`'caxton new agent|--template') COMPREPLY=( $(compgen -W 'echo request-reply contract-net-bidder subscriber' -- "$cur") )`));
  assert.ok(bash.includes(`'caxton new agent|--dir') COMPREPLY=( $(compgen -d -- "$cur") )`));
});

for (const shell of ['bash', 'zsh', 'fish'] as const) {
  test(`cli completion - the ${shell} script names every command, alias and option of the tree`, () => {
    const script = completionScript(program, shell);
    for (const s of walk(spec)) {
      for (const n of s.names) assert.ok(script.includes(n), `${shell}: command ${s.path} (${n})`);
      for (const o of s.options) {
        for (const f of [o.long, o.short].filter((x): x is string => x !== undefined)) {
          const form = shell === 'fish' ? (f.startsWith('--') ? `-l ${f.slice(2)}` : `-s ${f.slice(1)}`) : f;
          assert.ok(script.includes(form), `${shell}: option ${f} of ${s.path}`);
        }
      }
    }
    // Choices are offered as values.
    assert.ok(script.includes('immediate graceful canary') || script.includes("'immediate' 'graceful' 'canary'"), `${shell}: --strategy choices`);
    assert.ok(script.includes('table json') || script.includes("'table' 'json'"), `${shell}: --output choices`);
    assert.ok(script.includes('__agents'), `${shell}: agent names come from caxton __agents`);
  });
}

test('cli completion - the bash script is valid bash', () => {
  const r = spawnSync('bash', ['-n'], { input: completionScript(program, 'bash'), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

/** Runs the bash completion function for the words typed so far (the last one being completed). */
function bashComplete(words: string[]): string[] {
  const script = `${completionScript(program, 'bash')}
caxton() { echo calc; echo echo-1; }   # stands in for \`caxton __agents\`
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})
COMP_CWORD=${words.length - 1}
_caxton_complete
printf '%s\\n' "\${COMPREPLY[@]}"`;
  // On stdin: the script is longer than one argument may be (128 KiB, E2BIG).
  const r = spawnSync('bash', ['-s'], { input: script, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l !== '');
}

test('cli completion - bash completes commands, subcommands, options, choices, agent names and files', () => {
  assert.deepEqual(bashComplete(['caxton', 'ag']).sort(), ['agent', 'agents']);
  assert.deepEqual(bashComplete(['caxton', 'agents', 'l']).sort(), ['list', 'logs', 'ls']);
  assert.deepEqual(bashComplete(['caxton', 'agent', 'list', '--st']), ['--state']);
  assert.deepEqual(bashComplete(['caxton', 'agent', 'list', '--state', 'r']).sort(), ['ready', 'running']);
  assert.deepEqual(bashComplete(['caxton', '-o', 'j']), ['json']);
  assert.deepEqual(bashComplete(['caxton', 'agent', 'inspect', '']).sort(), ['calc', 'echo-1']);
  assert.deepEqual(bashComplete(['caxton', 'profile', '--agent', 'c']), ['calc']);
  assert.deepEqual(bashComplete(['caxton', '--api-url', 'http://x', 'agent', 'upgrade', '--strategy', 'c']), ['canary']);
  assert.deepEqual(bashComplete(['caxton', 'completion', 'z']), ['zsh']);
  // The second argument of upgrade is a file: the test's cwd (the repository) has package.json.
  assert.ok(bashComplete(['caxton', 'agent', 'upgrade', 'calc', 'package.j']).includes('package.json'));
  assert.ok(bashComplete(['caxton', 'deploy', 'package.j']).includes('package.json'));
  // `caxton dev [dir]` takes a directory: the repository's sdk/, not its files.
  assert.deepEqual(bashComplete(['caxton', 'dev', 'sd']), ['sdk']);
  assert.deepEqual(bashComplete(['caxton', 'dev', 'package.j']), []);
});

test('cli completion - an unknown shell is a usage error listing the shells', () => {
  const r = spawnSync(process.execPath, [...caxtonArgs, 'completion', 'powershell'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /bash, zsh, fish/);
});

test('cli completion - zsh: valid, and completes by command path (run with stubbed completion builtins)', { skip: outsideTool('zsh').skip }, () => {
  const script = completionScript(program, 'zsh');
  assert.equal(spawnSync('zsh', ['-n'], { input: script, encoding: 'utf8' }).status, 0);
  const run = (words: string[]): string[] => {
    const z = `compdef() { :; }
_describe() { local n=\${@[-1]}; print -l -- \${(P)n}; }
compadd() { while [[ $1 != -- && $# -gt 0 ]]; do shift; done; shift; print -l -- "$@"; }
_files() { print FILES "$@"; }
caxton() { print calc; }
${script}
words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}
_caxton`;
    // Through a file, not `zsh -c`: the script is over Linux's 128 KiB limit on one argument (E2BIG).
    const r = runScript('zsh', 'zsh', z);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter((l) => l !== '');
  };
  // zsh filters by the typed prefix itself, so the candidates are those of the command path.
  assert.ok(run(['caxton', 'ag']).includes('agents:deploy, inspect and control agents (also: caxton agents ...)'));
  assert.ok(run(['caxton', 'agents', 'l']).includes('logs:print an agent\'s recent log lines; --follow keeps printing new ones'));
  assert.ok(run(['caxton', 'agent', 'list', '--st']).includes('--state:only agents in this state'));
  assert.deepEqual(run(['caxton', 'agent', 'list', '--state', 'r']), ['loaded', 'ready', 'running', 'suspended', 'draining', 'stopped', 'failed']);
  assert.deepEqual(run(['caxton', 'agent', 'inspect', '']), ['calc']);
  assert.deepEqual(run(['caxton', 'agent', 'upgrade', 'calc', 'x']), ['FILES']);
});

test('cli completion - fish: valid, and `complete -C` offers the right candidates', { skip: outsideTool('fish').skip }, () => {
  const script = completionScript(program, 'fish');
  const file = join(tmpdir(), `caxton-completion-${process.pid}.fish`);
  writeFileSync(file, script);
  try {
    const check = spawnSync('fish', ['--no-execute', file], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
  } finally {
    rmSync(file, { force: true });
  }
  const run = (line: string): string[] => {
    const r = runScript('fish', 'fish', `${script}\nfunction caxton; echo calc; end\ncomplete -C ${JSON.stringify(line)}`);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t')[0]!);
  };
  assert.deepEqual(run('caxton agent l').sort(), ['list', 'logs', 'ls']);
  assert.deepEqual(run('caxton agent list --st'), ['--state']);
  assert.deepEqual(run('caxton agent list --state r').sort(), ['ready', 'running']);
  assert.deepEqual(run('caxton agent inspect '), ['calc']);
  assert.deepEqual(run('caxton -o j'), ['json']);
  assert.deepEqual(run('caxton agent upgrade calc package.j'), ['package.json']);
  assert.deepEqual(run('caxton dev sd'), ['sdk/']);
});
