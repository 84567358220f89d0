import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freemem } from 'node:os';
import { CpuSampler, memoryAvailableBytes, parseMemAvailableKb, type CpuTimes } from '../../../src/observability/host.js';
import { tempDir } from '../../helpers/tmp.js';

test('host - CPU percent is busy over total between readings', () => {
  const readings: CpuTimes[] = [
    { busy: 0, total: 0 },
    { busy: 25, total: 100 },
    { busy: 25, total: 100 }, // no tick elapsed: repeat the last value
    { busy: 125, total: 200 },
    { busy: 125, total: 300 },
  ];
  let i = 0;
  const s = new CpuSampler(() => readings[i++] as CpuTimes);
  assert.deepEqual([s.sample(), s.sample(), s.sample(), s.sample()], [25, 25, 100, 0]);
});

test('host - the real sampler gives a percentage', () => {
  const s = new CpuSampler();
  const p = s.sample();
  assert.ok(p >= 0 && p <= 100, String(p));
});

test('host - MemAvailable from /proc/meminfo text, else freemem()', async () => {
  const text = 'MemTotal:       24523456 kB\nMemFree:         1234567 kB\nMemAvailable:   20000000 kB\nBuffers: 1 kB\n';
  assert.equal(parseMemAvailableKb(text), 20_000_000);
  assert.equal(parseMemAvailableKb('MemTotal: 1 kB\n'), undefined);
  const dir = tempDir();
  try {
    const p = join(dir.path, 'meminfo');
    writeFileSync(p, text);
    assert.equal(await memoryAvailableBytes(p), 20_000_000 * 1024);
    const missing = await memoryAvailableBytes(join(dir.path, 'absent'));
    assert.ok(Math.abs(missing - freemem()) < 512 * 1024 * 1024, 'falls back to freemem()');
  } finally {
    dir.cleanup();
  }
  assert.ok((await memoryAvailableBytes()) > 0);
});
