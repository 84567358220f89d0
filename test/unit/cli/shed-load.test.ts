import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CliError, EXIT_USAGE } from '../../../src/cli/errors.js';
import { parsePercentageArg } from '../../../src/cli/commands/shed-load.js';

test('cli shed-load - --percentage takes a whole number from 0 to 100', () => {
  assert.equal(parsePercentageArg('0'), 0);
  assert.equal(parsePercentageArg('20'), 20);
  assert.equal(parsePercentageArg('100'), 100);
  for (const bad of ['101', '-1', 'abc', '2.5', '', '20%', '1e2']) {
    assert.throws(
      () => parsePercentageArg(bad),
      (e: unknown) => e instanceof CliError && e.exitCode === EXIT_USAGE && e.message === `--percentage takes a whole number from 0 to 100, got "${bad}"` && /--percentage 0 stops shedding/.test(e.hint ?? ''),
      bad,
    );
  }
});
