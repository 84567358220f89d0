import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { BucketHistogram, type BucketSeries } from '../../../src/observability/bucket-histogram.js';
import { parseExposition } from './exposition.js';

test('bucket histogram - pre-counted buckets are written as a cumulative Prometheus histogram', async () => {
  const registry = new Registry();
  let series: BucketSeries[] = [
    { labels: { agent: 'a' }, counts: [1, 0, 3], overflow: 2, sum: 9.5 },
    { labels: { agent: 'b' }, counts: [0, 0, 0], overflow: 0, sum: 0 },
  ];
  let asked = 0;
  new BucketHistogram({
    name: 'test_seconds',
    help: 'a test',
    bounds: [0.001, 0.01, 0.1],
    labelNames: ['agent'],
    registers: [registry],
    source: async () => {
      asked++;
      return series;
    },
  });
  const text = await registry.metrics();
  assert.match(text, /^# TYPE test_seconds histogram$/m);
  const e = parseExposition(text);
  const buckets = e.samples('test_seconds_bucket').filter((s) => s.labels.agent === 'a');
  assert.deepEqual(buckets.map((s) => [s.labels.le, s.value]), [['0.001', 1], ['0.01', 1], ['0.1', 4], ['+Inf', 6]]);
  assert.equal(e.value('test_seconds_count', { agent: 'a' }), 6);
  assert.equal(e.value('test_seconds_sum', { agent: 'a' }), 9.5);
  assert.equal(e.value('test_seconds_count', { agent: 'b' }), 0);

  series = [];
  assert.equal(parseExposition(await registry.metrics()).samples('test_seconds_bucket').length, 0, 'asked afresh each scrape');
  const json = await registry.getMetricsAsJSON();
  assert.equal(json[0]?.name, 'test_seconds');
  assert.equal(asked, 3);
});

test('bucket histogram - bounds must be finite and ascending', () => {
  for (const bounds of [[], [2, 1], [1, 1], [1, Infinity], [NaN]]) {
    assert.throws(() => new BucketHistogram({ name: 'bad', help: 'x', bounds, registers: [new Registry()], source: async () => [] }), RangeError, JSON.stringify(bounds));
  }
});
