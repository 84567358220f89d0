import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maxHeaderSize } from 'node:http';
import { clientError, headersTimeoutMs, rawErrorResponse } from '../../../src/api/client-errors.js';
import { ErrorCatalogue } from '../../../src/errors.js';

const err = (code: string | undefined, message = 'x', reason?: string) => Object.assign(new Error(message), { code, ...(reason === undefined ? {} : { reason }) });

test('client errors - each error Node raises before fastify maps to its catalogued code and status', () => {
  assert.equal(clientError(err('ECONNRESET'), 30_000), undefined, 'the client is gone: nothing to answer');
  assert.equal(clientError(err('EPIPE'), 30_000), undefined);
  const cases: [string | undefined, string, number, RegExp][] = [
    ['HPE_HEADER_OVERFLOW', 'CAXTON_ERR_API_HEADERS_TOO_LARGE', 431, new RegExp(`over the ${maxHeaderSize} bytes the server reads$`)],
    ['HPE_CHUNK_EXTENSIONS_OVERFLOW', 'CAXTON_ERR_API_BODY_TOO_LARGE', 413, /chunk extensions/],
    ['HPE_INVALID_METHOD', 'CAXTON_ERR_API_INVALID_REQUEST', 400, /^the request is not valid HTTP\/1\.1: Invalid method \(HPE_INVALID_METHOD\)$/],
    [undefined, 'CAXTON_ERR_API_INVALID_REQUEST', 400, /^the request is not valid HTTP\/1\.1: Invalid method$/],
  ];
  for (const [code, caxton, status, message] of cases) {
    const e = clientError(err(code, 'Parse Error', 'Invalid method'), 30_000);
    assert.equal(e?.code, caxton, String(code));
    assert.equal(e?.status, status);
    assert.equal(ErrorCatalogue[caxton as keyof typeof ErrorCatalogue].status, status);
    assert.match(e?.message ?? '', message);
  }
});

test('client errors - a 408 states the deadline that applies: the request timeout, and the headers\' when it is shorter', () => {
  assert.equal(headersTimeoutMs(400), 400);
  assert.equal(headersTimeoutMs(300_000), 60_000, 'Node\'s default: at most 60 s');
  const short = clientError(err('ERR_HTTP_REQUEST_TIMEOUT'), 400);
  assert.equal(short?.status, 408);
  assert.equal(short?.message, 'the request was not received in full within 400 ms (server.request_timeout)');
  assert.deepEqual(short?.details, { limit_ms: 400 });
  const long = clientError(err('ERR_HTTP_REQUEST_TIMEOUT'), 300_000);
  assert.equal(long?.code, 'CAXTON_ERR_API_REQUEST_TIMEOUT');
  assert.equal(long?.message, 'the request was not received in time: its headers must arrive within 60000 ms and the whole request within 300000 ms (server.request_timeout)');
  assert.deepEqual(long?.details, { limit_ms: 300_000, headers_limit_ms: 60_000 });
});

test('client errors - the raw response is whole HTTP/1.1 in the one error shape, and closes the connection', () => {
  const e = clientError(err('ERR_HTTP_REQUEST_TIMEOUT'), 400)!;
  const raw = rawErrorResponse(e);
  const [head, body = ''] = raw.split('\r\n\r\n');
  assert.match(head ?? '', /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.match(head ?? '', /\r\nConnection: close$/);
  assert.match(head ?? '', new RegExp(`\\r\\nContent-Length: ${Buffer.byteLength(body)}\\r\\n`));
  assert.deepEqual(Object.keys(JSON.parse(body)), ['error']);
  assert.equal(JSON.parse(body).error.code, 'CAXTON_ERR_API_REQUEST_TIMEOUT');
});
