import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { capabilitiesDigest, memberLoad, nodeTags, tagsChanged } from '../../../src/cluster/node-tags.js';
import { META_MAX_SIZE, decodeSerfTags, encodeSerfTags } from '../../../src/cluster/wire/index.js';

const MiB = 1024 * 1024;

test('node tags - values are short: whole CPU percent, RSS in MiB, an 8-hex capabilities digest and count', () => {
  const tags = nodeTags({ version: '0.3.0', agents: 12, api: '10.0.0.1:8080', cpuPercent: 37.6, rssBytes: 412.4 * MiB, capabilities: ['translate', 'summarize', 'translate'] });
  assert.deepEqual(tags, {
    role: 'caxton',
    version: '0.3.0',
    agents: '12',
    api: '10.0.0.1:8080',
    cpu: '38',
    mem: '412',
    caps: createHash('sha256').update('summarize\ntranslate').digest('hex').slice(0, 8),
    caps_n: '2',
  });
  assert.equal(nodeTags({ version: 'v', agents: 0, cpuPercent: 140, rssBytes: -1, capabilities: [] }).cpu, '100', 'clamped');
  assert.equal(nodeTags({ version: 'v', agents: 0, cpuPercent: 0, rssBytes: 0, capabilities: [] }).api, undefined, 'no API yet: no tag');
});

test('node tags - the digest depends on the set of capabilities, not their order or repeats', () => {
  assert.equal(capabilitiesDigest(['b', 'a', 'a']), capabilitiesDigest(['a', 'b']));
  assert.notEqual(capabilitiesDigest(['a', 'b']), capabilitiesDigest(['a', 'b', 'c']));
  assert.notEqual(capabilitiesDigest(['ab']), capabilitiesDigest(['a', 'b']), 'names are separated');
  assert.match(capabilitiesDigest([]), /^[0-9a-f]{8}$/);
});

test('node tags - the worst case fits memberlist node meta (512 bytes) with room to spare', () => {
  const tags = nodeTags({
    version: '10.20.30-rc.12+build.abcdef0123456789',
    agents: 999_999_999,
    api: '[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535',
    cpuPercent: 100,
    rssBytes: 16 * 1024 * 1024 * MiB, // 16 TiB
    capabilities: Array.from({ length: 10_000 }, (_, i) => `capability-with-a-long-name-${i}`),
  });
  const meta = encodeSerfTags(tags);
  assert.ok(meta.length <= 200, `encoded ${meta.length} bytes`);
  assert.ok(meta.length <= META_MAX_SIZE);
  assert.deepEqual(Object.fromEntries(decodeSerfTags(meta)), tags);
});

test('node tags - announced again only on a meaningful change', () => {
  const base = nodeTags({ version: '0.3.0', agents: 2, api: '127.0.0.1:8080', cpuPercent: 20, rssBytes: 200 * MiB, capabilities: ['a'] });
  const next = (o: Partial<Parameters<typeof nodeTags>[0]>) => nodeTags({ version: '0.3.0', agents: 2, api: '127.0.0.1:8080', cpuPercent: 20, rssBytes: 200 * MiB, capabilities: ['a'], ...o });
  assert.equal(tagsChanged(base, next({})), 'none');
  assert.equal(tagsChanged(base, next({ cpuPercent: 29 })), 'none', 'CPU by 9 points');
  assert.equal(tagsChanged(base, next({ cpuPercent: 30 })), 'load', 'CPU by 10 points');
  assert.equal(tagsChanged(base, next({ cpuPercent: 10 })), 'load', 'down by 10 too');
  assert.equal(tagsChanged(base, next({ rssBytes: 240 * MiB })), 'none', 'memory by 20 %');
  assert.equal(tagsChanged(base, next({ rssBytes: 250 * MiB })), 'load', 'memory by 25 %');
  assert.equal(tagsChanged(base, next({ agents: 3 })), 'identity', 'agent count');
  assert.equal(tagsChanged(base, next({ agents: 3, cpuPercent: 90 })), 'identity', 'identity wins over load');
  assert.equal(tagsChanged(base, next({ capabilities: ['a', 'b'] })), 'identity', 'capabilities');
  assert.equal(tagsChanged(base, next({ api: '127.0.0.1:8081' })), 'identity', 'API address');
  const { api: _api, ...noApi } = base;
  assert.equal(tagsChanged(noApi, base), 'identity', 'a tag appears');
});

test('node tags - members\' load as numbers; absent or odd tags are null', () => {
  assert.deepEqual(memberLoad({ cpu: '38', mem: '412', caps: '0123abcd' }), { cpuPercent: 38, rssBytes: 412 * MiB, capabilities: '0123abcd' });
  assert.deepEqual(memberLoad({ role: 'serf' }), { cpuPercent: null, rssBytes: null, capabilities: null });
  assert.deepEqual(memberLoad({ cpu: 'lots', mem: '-1' }), { cpuPercent: null, rssBytes: null, capabilities: null });
});
