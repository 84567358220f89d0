import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExposition } from './exposition.js';

// The test parser must itself catch what it is there to catch.

const GOOD = `# HELP a_total things
# TYPE a_total counter
a_total 3
# TYPE g gauge
g{x="1",y="a \\"q\\" \\\\ b"} -2.5e-3
g{x="2"} +Inf
# TYPE h histogram
h_bucket{le="0.1"} 1
h_bucket{le="1"} 3
h_bucket{le="+Inf"} 4
h_sum 2.5
h_count 4
`;

test('exposition parser - reads names, labels, values and histograms', () => {
  const e = parseExposition(GOOD);
  assert.equal(e.value('a_total'), 3);
  assert.equal(e.families.get('a_total')?.help, 'things');
  assert.equal(e.value('g', { x: '1', y: 'a "q" \\ b' }), -0.0025);
  assert.equal(e.value('g', { x: '2' }), Infinity);
  assert.equal(e.value('h_count'), 4);
  assert.equal(e.value('g'), undefined, 'labels must match exactly');
});

test('exposition parser - rejects what Prometheus would, and histograms that do not add up', () => {
  const bad: [string, string, RegExp][] = [
    ['no newline at the end', 'a 1', /newline/],
    ['no TYPE', 'a 1\n', /no TYPE/],
    ['bad value', '# TYPE a gauge\na one\n', /bad value/],
    ['bad labels', '# TYPE a gauge\na{x=1} 1\n', /bad labels/],
    ['duplicate series', '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n', /duplicate/],
    ['TYPE twice', '# TYPE a gauge\n# TYPE a gauge\n', /twice/],
    ['not cumulative', GOOD.replace('h_bucket{le="1"} 3', 'h_bucket{le="1"} 0'), /not cumulative/],
    ['no +Inf', GOOD.replace('h_bucket{le="+Inf"} 4\n', ''), /\+Inf/],
    ['+Inf is not _count', GOOD.replace('h_count 4', 'h_count 5'), /!= _count/],
    ['no _sum', GOOD.replace('h_sum 2.5\n', ''), /_sum or _count/],
    ['bounds out of order', GOOD.replace('le="0.1"', 'le="2"'), /does not follow/],
  ];
  for (const [what, text, re] of bad) assert.throws(() => parseExposition(text), re, what);
});
