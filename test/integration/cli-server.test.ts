/** `caxton server start` as a real process: starts, logs JSON, stops cleanly on SIGTERM. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/tmp.js';

const bin = fileURLToPath(new URL('../../bin/caxton.js', import.meta.url));

test('cli - server start runs a node until SIGTERM, then stops cleanly', async () => {
  const dir = tempDir();
  try {
    const child = spawn(process.execPath, [bin, 'server', 'start', '--data-dir', dir.path, '--node-id', 'test-node', '--workers', '1', '--api-addr', '127.0.0.1:0', '--metrics-addr', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Record<string, unknown>[] = [];
    let buf = '';
    const started = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const rec = JSON.parse(line) as Record<string, unknown>;
          lines.push(rec);
          if (rec['msg'] === 'caxton node started') resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
      setTimeout(() => reject(new Error('no start line within 20 s')), 20_000).unref();
    });
    await started;
    const start = lines.find((l) => l['msg'] === 'caxton node started')!;
    assert.equal(start['nodeId'], 'test-node');
    assert.equal(start['workers'], 1);
    // Started without the flag, bin/caxton.js ran the node again with it (docs/sandbox.md, "Capacity").
    assert.equal(start['wasmTrapHandler'], 'off');
    assert.ok(existsSync(join(dir.path, 'caxton.db')), 'the database is created in the data dir');
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(lines.some((l) => l['msg'] === 'caxton node stopped'));
  } finally {
    dir.cleanup();
  }
});

test('cli - server start run again with --disable-wasm-trap-handler dies with the process that started it (kill -9)', async () => {
  const dir = tempDir();
  try {
    const child = spawn(process.execPath, [bin, 'server', 'start', '--data-dir', dir.path, '--node-id', 'test-node', '--workers', '1', '--api-addr', '127.0.0.1:0', '--metrics-addr', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const nodePid = await new Promise<number>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        for (const line of buf.split('\n')) {
          if (!line.includes('caxton node started')) continue;
          resolve((JSON.parse(line) as { pid: number }).pid);
        }
      });
      child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
      setTimeout(() => reject(new Error('no start line within 20 s')), 20_000).unref();
    });
    assert.notEqual(nodePid, child.pid, 'the node runs in a second process, with the flag');
    child.kill('SIGKILL');
    const alive = () => {
      try {
        process.kill(nodePid, 0);
        return true;
      } catch {
        return false;
      }
    };
    // Generous bound: it goes as soon as its event loop sees the IPC channel close.
    for (let i = 0; i < 200 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(alive(), false, 'the node process outlived its parent');
  } finally {
    dir.cleanup();
  }
});

test('cli - a mistyped command suggests the right one and exits non-zero', () => {
  const r = spawnSync(process.execPath, [bin, 'sever', 'start'], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /Did you mean server\?/);
});

test('cli - a bad option value is refused with the reason', () => {
  const r = spawnSync(process.execPath, [bin, 'server', 'start', '--workers', 'zero'], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--workers zero: runtime\.workers must be "auto" or an integer from 1 to 1024, got "zero"/);
});
