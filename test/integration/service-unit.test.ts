/**
 * contrib/caxton.service, run as systemd would run it, without systemd: the unit's Environment=,
 * WorkingDirectory=, ExecStart=, ExecStartPost= and ExecReload= lines are read from the file and run
 * as written. Two things are mapped, and only these:
 *
 * - the absolute binary /usr/bin/caxton: the test puts an executable at <root>/usr/bin/caxton that runs
 *   this checkout's CLI from source, and runs the command lines with that path in place of
 *   /usr/bin/caxton (the arguments stay as written);
 * - the directories: systemd creates the unit's ConfigurationDirectory=, StateDirectory= and
 *   LogsDirectory= and exports them as CONFIGURATION_DIRECTORY, STATE_DIRECTORY and LOGS_DIRECTORY;
 *   the test creates them under a temp <root> (<root>/etc/caxton, <root>/var/lib/caxton,
 *   <root>/var/log/caxton) and exports the same variables, with INVOCATION_ID as systemd sets it.
 *
 * The node then finds its configuration and data dir the way it does under systemd (nothing on the
 * command line names them). The configuration file is an operator's, with two test-only values: free
 * loopback ports, and a small max_file_size so that rotation happens within the test.
 * `systemd-analyze verify` checks the unit itself (Debian package systemd; skipped with one line when
 * missing, required under CI).
 *
 * The releases drop-in (contrib/caxton.service.d/releases.conf) is applied to the unit as systemd
 * applies drop-ins, and its ExecStart= run as written with /usr/bin/node, /opt/caxton/releases and the
 * systemd directories mapped (the test says how).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { outsideTool } from '../helpers/outside-tools.js';
import { freePort } from '../unit/cluster/serf/serf-harness.js';
import { installRelease } from '../helpers/releases.js';
import { switchCurrent } from '../../src/cluster/upgrade/releases.js';
import { VERSION } from '../../src/version.js';
import { caxtonArgs } from '../helpers/caxton-command.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const unitFile = join(repo, 'contrib', 'caxton.service');
const BIN = '/usr/bin/caxton';

interface Unit {
  readonly service: Map<string, string[]>;
}

/** The unit's [Service] keys, each with its values in order (Environment= and the like repeat). */
function parseUnit(text: string): Unit {
  const service = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s !== null) {
      section = s[1] as string;
      continue;
    }
    assert.ok(!line.endsWith('\\'), `no continuation lines in the unit: ${line}`);
    const eq = line.indexOf('=');
    if (section !== 'Service' || eq < 0) continue;
    const key = line.slice(0, eq);
    service.set(key, [...(service.get(key) ?? []), line.slice(eq + 1)]);
  }
  return { service };
}

function one(u: Unit, key: string): string {
  const v = u.service.get(key);
  assert.equal(v?.length, 1, `the unit has one ${key}=`);
  return v[0] as string;
}

/** A command line of the unit as an argv: plain words (the unit uses no quoting). */
function argv(line: string, vars: Record<string, string> = {}): string[] {
  assert.ok(!/["']/.test(line), `no quoting in ${line}`);
  return line.split(/\s+/).map((w) => w.replace(/\$([A-Z_]+)/g, (_, name: string) => vars[name] ?? `$${name}`));
}

test('service unit - ExecStart as written: readiness through ExecStartPost, the log file written, rotated at its size, reopened by ExecReload, clean stop on SIGTERM', { timeout: 180_000 }, async (t) => {
  const unit = parseUnit(readFileSync(unitFile, 'utf8'));
  assert.equal(one(unit, 'Type'), 'exec');
  assert.equal(one(unit, 'KillSignal'), 'SIGTERM');
  const root = tempDir('caxton-unit-');
  t.after(() => root.cleanup());

  // /usr/bin/caxton → <root>/usr/bin/caxton: this checkout's CLI (its paths are absolute: the unit's
  // working directory is the state directory, not the checkout).
  const bin = join(root.path, 'usr', 'bin', 'caxton');
  mkdirSync(join(root.path, 'usr', 'bin'), { recursive: true });
  writeFileSync(bin, `#!/bin/sh\nexec "${process.execPath}" ${caxtonArgs.map((a) => `"${a}"`).join(' ')} "$@"\n`);
  chmodSync(bin, 0o755);
  const mapBin = (words: string[]) => {
    assert.equal(words[0], BIN, 'the unit runs the installed caxton');
    return [bin, ...words.slice(1)];
  };

  // The unit's directories, as systemd creates and exports them.
  const dirs = {
    CONFIGURATION_DIRECTORY: join(root.path, 'etc', one(unit, 'ConfigurationDirectory')),
    STATE_DIRECTORY: join(root.path, 'var', 'lib', one(unit, 'StateDirectory')),
    LOGS_DIRECTORY: join(root.path, 'var', 'log', one(unit, 'LogsDirectory')),
  };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  assert.equal(one(unit, 'WorkingDirectory'), '/var/lib/caxton');
  assert.deepEqual(one(unit, 'ReadWritePaths').split(/\s+/), ['/var/lib/caxton', '/var/log/caxton'], 'the data and log directories are writable under ProtectSystem=strict');
  const logPath = join(dirs.LOGS_DIRECTORY, 'caxton.log');
  const [apiPort, metricsPort] = [await freePort(), await freePort()];
  writeFileSync(
    join(dirs.CONFIGURATION_DIRECTORY, 'config.yaml'),
    [
      'server:',
      `  api_addr: 127.0.0.1:${apiPort}`,
      `  metrics_addr: 127.0.0.1:${metricsPort}`,
      'runtime:',
      '  workers: 1',
      'observability:',
      '  logging:',
      '    level: debug',
      '    file:',
      `      path: ${logPath}`,
      '      max_file_size: 8KiB',
      '      max_backups: 2',
      '',
    ].join('\n'),
  );
  const unitEnv = Object.fromEntries(unit.service.get('Environment')!.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  assert.equal(unitEnv['NODE_OPTIONS'], '--disable-wasm-trap-handler');
  // What systemd gives a unit's processes: its Environment=, the directories, INVOCATION_ID; not the
  // caller's CAXTON_* variables (an operator's shell has none in a unit).
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CAXTON_')));
  Object.assign(env, unitEnv, dirs, { INVOCATION_ID: 'caxton-unit-test' });

  // ExecStart=, from WorkingDirectory= (the state directory).
  const [cmd, ...args] = mapBin(argv(one(unit, 'ExecStart')));
  assert.deepEqual(args, ['server', 'start'], 'the unit names no config file nor data dir: the service paths apply');
  const node = spawn(cmd as string, args, { cwd: dirs.STATE_DIRECTORY, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  node.stdout.on('data', (d: Buffer) => (output += d.toString()));
  node.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number>((r) => node.once('exit', (code, signal) => r(code ?? (signal === null ? -1 : 128))));
  t.after(() => node.kill('SIGKILL'));

  // ExecStartPost=: the unit is "started" when it exits 0.
  const post = mapBin(argv(one(unit, 'ExecStartPost')));
  const ready = execFileSync(post[0] as string, post.slice(1), { cwd: dirs.STATE_DIRECTORY, env, encoding: 'utf8', timeout: 150_000 });
  assert.match(ready, new RegExp(`^✓ ready: http://127\\.0\\.0\\.1:${apiPort} answered after `, 'm'));
  const health = await fetch(`http://127.0.0.1:${apiPort}/api/v1/ready`);
  assert.equal(health.status, 200);

  // The data dir is the state directory, the configuration the configuration directory's file.
  assert.ok(existsSync(join(dirs.STATE_DIRECTORY, 'admin.key')), `the node keeps its data in STATE_DIRECTORY: ${output}`);
  assert.doesNotMatch(output, /"msg"/, 'the log goes to the file, not to stdout');
  assert.match(output, new RegExp(`caxton: logging to ${logPath.replace(/[.]/g, '\\.')}`));
  const logLines = () => [logPath, `${logPath}.1`, `${logPath}.2`].filter((p) => existsSync(p)).flatMap((p) => readFileSync(p, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { msg: string; file?: string; rule?: string; dataDir?: string }));
  await until('the start line is in the log file', () => logLines().some((l) => l.msg === 'caxton node started'), 15_000);
  const paths = logLines().find((l) => l.msg.startsWith('running as a service'));
  assert.deepEqual([paths?.rule, paths?.dataDir], ['systemd-directories', dirs.STATE_DIRECTORY]);
  assert.equal(logLines().find((l) => l.msg === 'configuration loaded')?.file, join(dirs.CONFIGURATION_DIRECTORY, 'config.yaml'));

  // Rotation at 8 KiB: traffic at debug level fills the file; two rotated files are kept, no third.
  const key = readFileSync(join(dirs.STATE_DIRECTORY, 'admin.key'), 'utf8').trim();
  // Log lines on demand: each SIGHUP (a reload) logs two, each failed request one at debug.
  for (let i = 0; i < 400 && !(existsSync(`${logPath}.2`) && existsSync(logPath) && statSync(logPath).size > 0); i++) {
    await fetch(`http://127.0.0.1:${apiPort}/api/v1/agents/nobody-${i}`, { headers: { authorization: `Bearer ${key}` } });
    process.kill(node.pid as number, 'SIGHUP');
    await new Promise((r) => setTimeout(r, 10));
  }
  await until('path.1 and path.2 exist', () => existsSync(`${logPath}.1`) && existsSync(`${logPath}.2`), 30_000);
  assert.deepEqual(readdirSync(dirs.LOGS_DIRECTORY).sort(), ['caxton.log', 'caxton.log.1', 'caxton.log.2'], 'max_backups: 2');
  for (const p of [`${logPath}.1`, `${logPath}.2`]) {
    const size = statSync(p).size;
    assert.ok(size >= 8192 && size < 8192 + 64 * 1024, `${p} rotated at 8 KiB: ${size} bytes`);
    for (const l of readFileSync(p, 'utf8').split('\n').filter((x) => x !== '')) JSON.parse(l); // whole lines only
  }

  // ExecReload= after logrotate moved the file away: a new file at the path, the moved one untouched.
  renameSync(logPath, `${logPath}-rotated`);
  const reload = argv(one(unit, 'ExecReload'), { MAINPID: String(node.pid) });
  assert.deepEqual(reload.slice(0, 2), ['/bin/kill', '-HUP']);
  execFileSync(reload[0] as string, reload.slice(1));
  await until('a new log file at the path', () => existsSync(logPath) && readFileSync(logPath, 'utf8').includes('"msg":"log file reopened"'), 15_000);
  const moved = readFileSync(`${logPath}-rotated`, 'utf8');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(readFileSync(`${logPath}-rotated`, 'utf8'), moved, 'nothing more is written to the moved file');
  assert.equal((await fetch(`http://127.0.0.1:${apiPort}/api/v1/ready`)).status, 200, 'the node kept serving');

  // KillSignal=SIGTERM: a clean stop, exit 0, its last line in the file.
  node.kill('SIGTERM');
  assert.equal(await exited, 0, output);
  assert.match(readFileSync(logPath, 'utf8'), /"msg":"caxton node stopped"/);
});

const analyze = outsideTool('systemd-analyze');

test('service unit - systemd-analyze verify accepts contrib/caxton.service', { skip: analyze.skip }, () => {
  const dir = tempDir('caxton-unit-verify-');
  try {
    // verify checks that ExecStart's binary exists and is executable: an executable stands in for it.
    const bin = join(dir.path, 'caxton');
    writeFileSync(bin, '#!/bin/sh\nexit 0\n');
    chmodSync(bin, 0o755);
    const copy = join(dir.path, 'caxton.service');
    writeFileSync(copy, readFileSync(unitFile, 'utf8').split(BIN).join(bin));
    const out = execFileSync(analyze.path as string, ['verify', '--man=no', copy], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(out.trim(), '');
  } finally {
    dir.cleanup();
  }
});

const dropInFile = join(repo, 'contrib', 'caxton.service.d', 'releases.conf');

/**
 * The unit with a drop-in applied as systemd applies it: an empty assignment clears a key's list,
 * ReadWritePaths= and Environment= add to theirs, ExecStart= and ExecStartPost= add commands (after a
 * clear: replace), any other key takes the drop-in's value.
 */
function withDropIn(u: Unit, dropIn: Unit): Unit {
  const service = new Map<string, string[]>([...u.service].map(([k, v]) => [k, [...v]]));
  const lists = new Set(['ReadWritePaths', 'Environment', 'ExecStart', 'ExecStartPost']);
  for (const [key, values] of dropIn.service) {
    for (const v of values) {
      if (v === '') service.set(key, []);
      else if (lists.has(key)) service.set(key, [...(service.get(key) ?? []), v]);
      else service.set(key, [v]);
    }
  }
  return { service };
}

test('service unit - the releases drop-in: ExecStart as written runs the supervisor from `current`, ready through ExecStartPost, ExecReload reaches the node through the supervisor, SIGTERM to the supervisor only ends in exit 0', { timeout: 180_000 }, async (t) => {
  const dropIn = parseUnit(readFileSync(dropInFile, 'utf8'));
  assert.deepEqual(dropIn.service.get('ExecStart')?.[0], '', 'the drop-in clears the unit\'s ExecStart= first');
  const unit = withDropIn(parseUnit(readFileSync(unitFile, 'utf8')), dropIn);
  assert.equal(one(unit, 'Type'), 'exec');
  assert.equal(one(unit, 'KillMode'), 'mixed', 'SIGTERM goes to the supervisor only, which passes it on and waits for the drain');
  assert.deepEqual(unit.service.get('ReadWritePaths'), ['/var/lib/caxton /var/log/caxton', '/opt/caxton/releases'], 'the unit\'s writable directories, and the releases: the supervisor moves `current`');
  const root = tempDir('caxton-unit-releases-');
  t.after(() => root.cleanup());

  // What is mapped, and only this: /usr/bin/node is the Node running this test (here the same
  // binary), /opt/caxton/releases a releases directory under <root> built from this checkout's build
  // (test/helpers/releases.ts, `current` pointing at it), and, as for the unit alone, the directories
  // systemd creates (/etc/caxton and the state and log directories) under <root>.
  const releases = join(root.path, 'opt', 'caxton', 'releases');
  mkdirSync(releases, { recursive: true });
  installRelease(releases, { version: VERSION });
  switchCurrent(releases, VERSION);
  const dirs = {
    CONFIGURATION_DIRECTORY: join(root.path, 'etc', one(unit, 'ConfigurationDirectory')),
    STATE_DIRECTORY: join(root.path, 'var', 'lib', one(unit, 'StateDirectory')),
    LOGS_DIRECTORY: join(root.path, 'var', 'log', one(unit, 'LogsDirectory')),
  };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  const mapped = (words: string[]) =>
    words.map((w) => (w === '/usr/bin/node' ? process.execPath : w.replace(/^\/opt\/caxton\/releases(?=\/|$)/, releases).replace(/^\/etc\/caxton(?=\/|$)/, dirs.CONFIGURATION_DIRECTORY)));
  const logPath = join(dirs.LOGS_DIRECTORY, 'caxton.log');
  // Fixed ports, as the drop-in asks.
  const [apiPort, metricsPort] = [await freePort(), await freePort()];
  writeFileSync(
    join(dirs.CONFIGURATION_DIRECTORY, 'config.yaml'),
    ['server:', `  api_addr: 127.0.0.1:${apiPort}`, `  metrics_addr: 127.0.0.1:${metricsPort}`, 'runtime:', '  workers: 1', 'observability:', '  logging:', '    file:', `      path: ${logPath}`, ''].join('\n'),
  );
  const unitEnv = Object.fromEntries(unit.service.get('Environment')!.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CAXTON_') && k !== 'NODE_OPTIONS'));
  Object.assign(env, unitEnv, dirs, { INVOCATION_ID: 'caxton-unit-releases-test' });

  const start = argv(one(unit, 'ExecStart'));
  assert.deepEqual(start, ['/usr/bin/node', '/opt/caxton/releases/current/bin/caxton.js', 'server', 'start', '--releases', '/opt/caxton/releases', '--config', '/etc/caxton/config.yaml']);
  const [cmd, ...args] = mapped(start);
  const supervisor = spawn(cmd as string, args, { cwd: dirs.STATE_DIRECTORY, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  supervisor.stdout.on('data', (d: Buffer) => (output += d.toString()));
  supervisor.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number>((r) => supervisor.once('exit', (code, signal) => r(code ?? (signal === null ? -1 : 128))));
  t.after(() => supervisor.kill('SIGKILL'));

  const post = mapped(argv(one(unit, 'ExecStartPost')));
  const ready = execFileSync(post[0] as string, post.slice(1), { cwd: dirs.STATE_DIRECTORY, env, encoding: 'utf8', timeout: 150_000 });
  assert.match(ready, new RegExp(`^✓ ready: http://127\\.0\\.0\\.1:${apiPort} answered after `, 'm'));
  const key = readFileSync(join(dirs.STATE_DIRECTORY, 'admin.key'), 'utf8').trim();
  const status = (await (await fetch(`http://127.0.0.1:${apiPort}/api/v1/status`, { headers: { authorization: `Bearer ${key}` } })).json()) as { pid: number; version: string };
  assert.notEqual(status.pid, supervisor.pid, `the node runs in a child of the supervisor: ${output}`);
  assert.equal(status.version, VERSION);

  // ExecReload= ($MAINPID: the supervisor) after logrotate moved the file: the node reopens it.
  await until('the log file is written', () => existsSync(logPath) && readFileSync(logPath, 'utf8').includes('caxton node started'), 15_000);
  renameSync(logPath, `${logPath}-rotated`);
  const reload = argv(one(unit, 'ExecReload'), { MAINPID: String(supervisor.pid) });
  execFileSync(reload[0] as string, reload.slice(1));
  await until('a new log file at the path', () => existsSync(logPath) && readFileSync(logPath, 'utf8').includes('"msg":"log file reopened"'), 15_000);
  assert.equal((await fetch(`http://127.0.0.1:${apiPort}/api/v1/ready`)).status, 200, 'the node kept serving, under the same supervisor');
  assert.equal(supervisor.exitCode, null);

  // KillMode=mixed: SIGTERM to the main process (the supervisor) only; it exits 0 after the node's drain.
  supervisor.kill('SIGTERM');
  assert.equal(await exited, 0, output);
  assert.match(readFileSync(logPath, 'utf8'), /"msg":"caxton node stopped"/);
  assert.throws(() => process.kill(status.pid, 0), /ESRCH/, 'the node is gone with its supervisor');
});

test('service unit - systemd-analyze verify accepts contrib/caxton.service with the releases drop-in, and reads the drop-in', { skip: analyze.skip }, () => {
  const dir = tempDir('caxton-unit-verify-releases-');
  try {
    // verify checks that ExecStart's binaries exist and are executable: executables stand in for them.
    const stand = (name: string) => {
      const p = join(dir.path, name);
      writeFileSync(p, '#!/bin/sh\nexit 0\n');
      chmodSync(p, 0o755);
      return p;
    };
    const [caxton, node] = [stand('caxton'), stand('node')];
    const copy = join(dir.path, 'caxton.service');
    writeFileSync(copy, readFileSync(unitFile, 'utf8').split(BIN).join(caxton));
    mkdirSync(join(dir.path, 'caxton.service.d'));
    const dropIn = readFileSync(dropInFile, 'utf8').split('/usr/bin/node').join(node);
    writeFileSync(join(dir.path, 'caxton.service.d', 'releases.conf'), dropIn);
    // systemd 252 reads drop-ins from the unit search path only, not from beside a unit given by
    // path: SYSTEMD_UNIT_PATH puts the directory first (the trailing ':' keeps the default paths).
    // Problems come on stderr, with exit 0 for a value it ignores: stderr is what is checked.
    const verify = () => spawnSync(analyze.path as string, ['verify', '--man=no', copy], { encoding: 'utf8', env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir.path}:` } });
    const good = verify();
    assert.equal(good.status, 0, good.stderr);
    assert.equal(`${good.stdout}${good.stderr}`.trim(), '');
    // The drop-in is read: a bad value in it is reported.
    writeFileSync(join(dir.path, 'caxton.service.d', 'releases.conf'), dropIn.replace('KillMode=mixed', 'KillMode=sometimes'));
    assert.match(verify().stderr, /releases\.conf:\d+: Failed to parse kill mode specification, ignoring: sometimes/);
  } finally {
    dir.cleanup();
  }
});
