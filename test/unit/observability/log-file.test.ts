/** The node's log file: rotation by size into path.1 ... path.N, and reopening after an outside rename. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LogFile } from '../../../src/observability/log-file.js';
import { createLogger } from '../../../src/observability/logger.js';
import { tempDir } from '../../helpers/tmp.js';
import { until } from '../../helpers/until.js';

const lines = (p: string) => readFileSync(p, 'utf8').split('\n').filter((l) => l !== '');

test('log file - rotated by size: the current file keeps its name, at most max_backups older ones, every line whole', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const path = join(dir.path, 'logs', 'caxton.log'); // the directory does not exist yet
  const file = new LogFile({ path, maxBytes: 2048, maxBackups: 2 });
  const log = createLogger({ destination: file.stream });
  for (let i = 0; i < 200; i++) {
    log.info({ i, pad: 'x'.repeat(60) }, 'line');
    if (i % 20 === 19) await file.flush(); // let rotations happen between batches, as on a live node
  }
  await file.flush();
  // A rotation renames the files at once, then opens a new file at `path`.
  await until('path, path.1 and path.2 exist', () => [path, `${path}.1`, `${path}.2`].every((p) => existsSync(p)));
  await file.flush();
  assert.ok(!existsSync(`${path}.3`), 'no more than max_backups rotated files');
  const all = [path, `${path}.1`, `${path}.2`].flatMap((p) => lines(p).map((l) => JSON.parse(l) as { i: number }));
  const seen = all.map((r) => r.i).sort((a, b) => a - b);
  assert.equal(seen.at(-1), 199, 'the newest line is kept');
  assert.deepEqual(seen, Array.from({ length: seen.length }, (_, k) => 200 - seen.length + k), 'the kept lines are the newest, none lost between files');
  for (const p of [`${path}.1`, `${path}.2`]) {
    const size = statSync(p).size;
    assert.ok(size >= 2048 && size < 2048 + 64 * 1024, `${p} was rotated at the limit (plus what was buffered meanwhile): ${size} bytes`);
  }
  file.stream.end();
});

test('log file - reopen writes to a new file at the path after it was moved away (logrotate without copytruncate)', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const path = join(dir.path, 'caxton.log');
  const file = new LogFile({ path, maxBytes: 1024 * 1024, maxBackups: 3 });
  const log = createLogger({ destination: file.stream });
  log.info('before');
  await until('the file exists', () => existsSync(path));
  await file.flush();
  renameSync(path, `${path}-20261207`);
  log.info('still the old file'); // not reopened yet: the open descriptor is the moved file
  await file.flush();
  file.reopen();
  log.info('after');
  await file.flush();
  assert.deepEqual(lines(`${path}-20261207`).map((l) => JSON.parse(l).msg), ['before', 'still the old file']);
  assert.deepEqual(lines(path).map((l) => JSON.parse(l).msg), ['after']);
  file.stream.end();
});
