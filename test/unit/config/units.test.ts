import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDuration, checkSize, formatBytes, formatMs, parseDuration, parseSize } from '../../../src/config/units.js';
import { formatAddress, parseAddress } from '../../../src/config/address.js';
import { isCaxtonError } from '../../../src/errors.js';

test('units - sizes: bare numbers are bytes, SI units are powers of 1000, IEC units powers of 1024', () => {
  const table: [number | string, number][] = [
    [0, 0],
    [1500, 1500],
    ['1500', 1500],
    ['1B', 1],
    ['100KB', 100_000],
    ['100K', 100_000],
    ['100KiB', 102_400],
    ['100Ki', 102_400],
    ['64MB', 64_000_000],
    ['64MiB', 67_108_864],
    ['64 MiB', 67_108_864],
    ['64mib', 67_108_864],
    ['1GiB', 1_073_741_824],
    ['1GB', 1_000_000_000],
    ['1.5GiB', 1_610_612_736],
    ['0.5KB', 500],
    ['2TiB', 2 * 1024 ** 4],
  ];
  for (const [input, bytes] of table) assert.equal(parseSize(input), bytes, String(input));
});

test('units - sizes that are not sizes say why', () => {
  const table: [unknown, RegExp][] = [
    ['64XB', /unknown size unit "XB"; use B, KB/],
    ['64 bits', /unknown size unit "bits"/],
    ['MiB', /write a number of bytes or a number with a unit/],
    ['-1KiB', /write a number/],
    ['', /write a number/],
    ['0.1KiB', /is 102.4 bytes, not a whole number of bytes/],
    [1.5, /not a whole number/],
    [-1, /0 or more bytes/],
    [Infinity, /0 or more bytes/],
    ['1e3', /write a number of bytes/],
    ['99999999TiB', /too large/],
    [true, /not a number or a string/],
    [null, /not a number or a string/],
  ];
  for (const [input, re] of table) {
    const r = checkSize(input);
    assert.ok('error' in r, `${String(input)} should be refused`);
    assert.match(r.error, re, String(input));
  }
});

test('units - durations: bare numbers are ms; ms, s, m, h, d, chained', () => {
  const table: [number | string, number][] = [
    [0, 0],
    [250, 250],
    ['250', 250],
    ['250ms', 250],
    ['5s', 5000],
    ['0.5s', 500],
    ['10m', 600_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
    ['1m 30s', 90_000],
    ['1.5s', 1500],
  ];
  for (const [input, ms] of table) assert.equal(parseDuration(input), ms, String(input));
});

test('units - durations that are not durations say why', () => {
  const table: [unknown, RegExp][] = [
    ['5 sec', /unknown duration unit "sec"/],
    ['5S', /unknown duration unit "S"/],
    ['10us', /millisecond resolution/],
    ['1h30', /"30" has no unit/],
    ['0.5ms', /not a whole number of milliseconds/],
    ['s', /write a number with a unit/],
    ['', /write a number of milliseconds/],
    ['-5s', /write a number with a unit/],
    [-5, /0 or more milliseconds/],
    [{}, /not a number or a string/],
  ];
  for (const [input, re] of table) {
    const r = checkDuration(input);
    assert.ok('error' in r, `${String(input)} should be refused`);
    assert.match(r.error, re, String(input));
  }
});

test('units - parseSize and parseDuration throw CAXTON_ERR_CONFIG_INVALID naming the input', () => {
  assert.throws(() => parseSize('12 parsecs'), (e) => isCaxtonError(e, 'CAXTON_ERR_CONFIG_INVALID') && e.message.startsWith('"12 parsecs" is not a size'));
  assert.throws(() => parseDuration('soon'), (e) => isCaxtonError(e, 'CAXTON_ERR_CONFIG_INVALID') && e.message.startsWith('"soon" is not a duration'));
});

test('units - formatting uses the largest exact unit', () => {
  assert.equal(formatBytes(64 * 1024 * 1024), '64MiB');
  assert.equal(formatBytes(1024), '1KiB');
  assert.equal(formatBytes(1500), '1500B');
  assert.equal(formatBytes(0), '0B');
  assert.equal(formatMs(5000), '5s');
  assert.equal(formatMs(90_000), '90s');
  assert.equal(formatMs(3_600_000), '1h');
  assert.equal(formatMs(1), '1ms');
});

test('units - addresses are host:port with a port in 0..65535, IPv6 in brackets', () => {
  assert.deepEqual(parseAddress('0.0.0.0:8080'), { host: '0.0.0.0', port: 8080 });
  assert.deepEqual(parseAddress('node-1.example.com:7946'), { host: 'node-1.example.com', port: 7946 });
  assert.deepEqual(parseAddress('[::1]:0'), { host: '::1', port: 0 });
  for (const bad of ['8080', ':8080', 'host:', 'host:65536', 'host:-1', '::1:8080', 'a b:1', 'host:80:80', '-host:80', 'host.:80']) {
    assert.equal(parseAddress(bad), undefined, bad);
  }
  assert.equal(formatAddress({ host: '::1', port: 80 }), '[::1]:80');
  assert.equal(formatAddress({ host: 'h', port: 80 }), 'h:80');
});
