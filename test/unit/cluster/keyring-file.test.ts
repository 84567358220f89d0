/** The gossip keyring file: saved after a rotation, preferred at the next start, bad content named. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEYRING_FILE, loadKeyringFile, saveKeyringFile, startupGossipKeys } from '../../../src/cluster/keyring-file.js';
import { Keyring } from '../../../src/cluster/wire/index.js';
import { tempDir } from '../../helpers/tmp.js';

const key = (fill: number, n = 32): Uint8Array => new Uint8Array(n).fill(fill);

test('keyring file: saved primary first, mode 0600, and read back', (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const file = join(dir.path, KEYRING_FILE);
  const ring = new Keyring([key(1), key(2, 16)], key(2, 16));
  saveKeyringFile(file, ring);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(loadKeyringFile(file), [key(2, 16), key(1)]);
});

test('keyring file: absent means the config decides; present wins, with a warning when they differ', (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  assert.deepEqual(startupGossipKeys(dir.path, [key(1)]), { keys: [key(1)], file: join(dir.path, KEYRING_FILE), fromFile: false });
  saveKeyringFile(join(dir.path, KEYRING_FILE), new Keyring([key(3)], key(3)));
  const same = startupGossipKeys(dir.path, [key(3)]);
  assert.deepEqual([same.keys, same.fromFile, same.warning], [[key(3)], true, undefined]);
  const other = startupGossipKeys(dir.path, [key(1)]);
  assert.deepEqual(other.keys, [key(3)]);
  assert.match(other.warning ?? '', /gossip keys come from .*gossip\.keyring.*delete the file/);
  assert.match(startupGossipKeys(dir.path, undefined).warning ?? '', /not from security\.cluster\.gossip\.keys/);
});

test('keyring file: bad content is refused with the path and the way out', (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const file = join(dir.path, KEYRING_FILE);
  for (const [content, msg] of [
    ['{', /not JSON/],
    ['[]', /expected a JSON array of base64 keys/],
    ['["abc", 3]', /expected a JSON array/],
    [JSON.stringify([Buffer.alloc(20).toString('base64')]), /key 0 is 20 bytes, not 16, 24 or 32/],
  ] as const) {
    writeFileSync(file, content);
    assert.throws(() => loadKeyringFile(file), (e: Error) => msg.test(e.message) && e.message.startsWith(file));
  }
});
