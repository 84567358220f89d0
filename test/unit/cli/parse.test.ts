import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CliError, EXIT_USAGE } from '../../../src/cli/errors.js';
import { closest, parseCanaryStages, parseContent, parseDuration, parseObjectArg, parseRollbackOn } from '../../../src/cli/parse.js';
import { parsePerformative } from '../../../src/cli/commands/message.js';

function usage(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CliError, 'a CliError');
    assert.equal(e.exitCode, EXIT_USAGE, 'a usage error exits 2');
    assert.match(e.message, re);
    return true;
  });
}

test('cli parse - durations: ms, s, m, h, d, fractions and compounds', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('10m'), 600_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('1d'), 86_400_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('2m30s'), 150_000);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration(' 5s '), 5000);
});

test('cli parse - a bad duration names the flag and the accepted forms', () => {
  usage(() => parseDuration('30', '--timeout'), /--timeout takes a duration such as 250ms, 30s, 10m or 1h, got "30" \(add a unit: 30ms, 30s, 30m or 30h\)/);
  usage(() => parseDuration('5x', '--timeout'), /got "5x"/);
  usage(() => parseDuration('', '--timeout'), /got ""/);
  usage(() => parseDuration('1h 30m', '--last'), /--last/);
  usage(() => parseDuration('s'), /duration/);
  usage(() => parseDuration('-5s'), /duration/);
});

test('cli parse - canary stages "5:5m,25:10m,50:10m"', () => {
  assert.deepEqual(parseCanaryStages('5:5m,25:10m,50:10m'), [
    { percent: 5, duration_ms: 300_000 },
    { percent: 25, duration_ms: 600_000 },
    { percent: 50, duration_ms: 600_000 },
  ]);
  assert.deepEqual(parseCanaryStages(' 10%:30s , 100:0 '), [
    { percent: 10, duration_ms: 30_000 },
    { percent: 100, duration_ms: 0 },
  ]);
});

test('cli parse - bad canary stages are refused with the reason', () => {
  usage(() => parseCanaryStages(''), /--canary-stages is empty/);
  usage(() => parseCanaryStages('5-5m'), /"5-5m" is not percent:duration/);
  usage(() => parseCanaryStages('0:5m'), /0% is not a percentage from 1 to 100/);
  usage(() => parseCanaryStages('101:5m'), /101% is not a percentage/);
  usage(() => parseCanaryStages('25:5m,5:5m'), /percentages must increase, 5% follows 25%/);
  usage(() => parseCanaryStages('25:5m,25:5m'), /must increase/);
  usage(() => parseCanaryStages('5:5'), /stage "5:5"/);
});

test('cli parse - --rollback-on "error_rate>1%,p99>100ms"', () => {
  assert.deepEqual(parseRollbackOn('error_rate>1%,p99>100ms'), { max_error_rate: 0.01, max_p99_ms: 100 });
  assert.deepEqual(parseRollbackOn('error_rate>0.05'), { max_error_rate: 0.05 });
  assert.deepEqual(parseRollbackOn('p99>0.5s'), { max_p99_ms: 500 });
  assert.deepEqual(parseRollbackOn('p99>250'), { max_p99_ms: 250 }, 'a bare number is ms');
  assert.deepEqual(parseRollbackOn('error_rate >= 2.5% , p99 > 1s , min_samples>=20'), { max_error_rate: 0.025, max_p99_ms: 1000, min_samples: 20 });
});

test('cli parse - bad --rollback-on conditions are refused with the reason', () => {
  usage(() => parseRollbackOn(''), /--rollback-on is empty/);
  usage(() => parseRollbackOn('latency'), /"latency" is not a condition/);
  usage(() => parseRollbackOn('cpu>50%'), /unknown condition "cpu"/);
  usage(() => parseRollbackOn('error_rate>150%'), /error_rate takes a percentage/);
  usage(() => parseRollbackOn('error_rate>lots'), /error_rate takes a percentage/);
  usage(() => parseRollbackOn('p99>0ms'), /p99 must be above 0/);
  usage(() => parseRollbackOn('p99>fast'), /--rollback-on p99/);
  usage(() => parseRollbackOn('min_samples>=0'), /min_samples takes a whole number/);
});

test('cli parse - message content is JSON when it parses, text otherwise', () => {
  assert.deepEqual(parseContent('{"op":"add","args":[2,3]}'), { op: 'add', args: [2, 3] });
  assert.equal(parseContent('42'), 42);
  assert.equal(parseContent('"quoted"'), 'quoted');
  assert.equal(parseContent('hello world'), 'hello world');
  assert.equal(parseContent('{not json'), '{not json');
  usage(() => parseContent(''), /--content is empty/);
});

test('cli parse - --config takes a JSON object inline, never another JSON value', () => {
  assert.deepEqual(parseObjectArg('{"a":1}', '--config'), { a: 1 });
  usage(() => parseObjectArg('[1]', '--config'), /--config must be a JSON object, got an array/);
  usage(() => parseObjectArg('{bad', '--config'), /--config is not valid JSON/);
  usage(() => parseObjectArg('@/nonexistent/x.json', '--config'), /cannot read \/nonexistent\/x.json/);
});

test('cli parse - performatives: variants are normalized, typos get a suggestion', () => {
  assert.equal(parsePerformative('request'), 'request');
  assert.equal(parsePerformative('QUERY_REF'), 'query-ref');
  assert.equal(parsePerformative('NotUnderstood'), 'not-understood');
  assert.equal(parsePerformative('not_understood'), 'not-understood');
  usage(() => parsePerformative('reqest'), /unknown performative "reqest" \(did you mean request\?\)/);
  usage(() => parsePerformative('shout'), /unknown performative "shout"$/);
  assert.equal(closest('inspct', ['inspect', 'list']), 'inspect');
  assert.equal(closest('zzzzzz', ['inspect', 'list']), undefined);
  // Two letters swapped are one edit, as in the command suggestions (one distance for both).
  usage(() => parsePerformative('agere'), /unknown performative "agere" \(did you mean agree\?\)/);
  assert.equal(closest('lsit', ['list', 'inspect']), 'list');
});
