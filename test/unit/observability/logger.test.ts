import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../../src/observability/logger.js';

function capture(format: 'json' | 'pretty'): { text: () => string; log: ReturnType<typeof createLogger> } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  return { text: () => text, log: createLogger({ level: 'info', destination: out, format }) };
}

test('logger - json: one object per line with the bindings', async () => {
  const c = capture('json');
  c.log.info({ agent: 'calc', conversation_id: 'c-1' }, 'hello');
  await new Promise((r) => setImmediate(r));
  const rec = JSON.parse(c.text().trim()) as Record<string, unknown>;
  assert.equal(rec['msg'], 'hello');
  assert.equal(rec['agent'], 'calc');
  assert.equal(rec['conversation_id'], 'c-1');
});

test('logger - pretty: a human line with the level and the fields', async () => {
  const c = capture('pretty');
  c.log.warn({ agent: 'calc' }, 'careful');
  await new Promise((r) => setImmediate(r));
  assert.match(c.text(), /WARN.*careful/);
  assert.match(c.text(), /agent: "calc"/);
  assert.doesNotMatch(c.text(), /^\{/);
});
