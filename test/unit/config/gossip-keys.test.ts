import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../../src/config/index.js';
import { isCaxtonError } from '../../../src/errors.js';

test('config - gossip keys decode to 16/24/32-byte keys, primary first', () => {
  const k32 = randomBytes(32).toString('base64');
  const k16 = randomBytes(16).toString('base64');
  const c = loadConfig({ sets: [`security.cluster.gossip.keys=${JSON.stringify([k32, k16])}`], env: {} });
  assert.deepEqual(c.resolved.security.gossipKeys.map((k) => Buffer.from(k, 'base64').length), [32, 16]);
  assert.equal(c.resolved.security.gossipKeys[0], k32);
  assert.match(JSON.stringify(c.config.security.cluster.gossip), /keys/);
});

test('config - a gossip key of the wrong size is refused, naming the key', () => {
  assert.throws(
    () => loadConfig({ sets: [`security.cluster.gossip.keys=${JSON.stringify([randomBytes(20).toString('base64')])}`], env: {} }),
    (e) => isCaxtonError(e, 'CAXTON_ERR_CONFIG_INVALID') && /security\.cluster\.gossip\.keys/.test(e.message) && /16, 24 or 32 bytes/.test(e.message),
  );
});
