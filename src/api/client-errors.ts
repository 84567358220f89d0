/**
 * Answers, in the one error shape, for requests that Node's HTTP server refuses before fastify sees
 * them: headers too large (431), a request that is not HTTP/1.1 (400), chunk extensions too large
 * (413), a request not received in time (408), and an `Expect` it cannot meet (417). Node (and
 * fastify's default handler) would answer those with their own bodies.
 */
import { STATUS_CODES, maxHeaderSize, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { CaxtonError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { errorBody } from './errors.js';

type ClientError = Error & { code?: string; reason?: string };

/**
 * How long Node waits for a request's headers: what it does by default (at most 60 s, never more than
 * the request timeout), set explicitly so that the 408 can state it.
 */
export function headersTimeoutMs(requestTimeoutMs: number): number {
  return Math.min(60_000, requestTimeoutMs);
}

/** The CaxtonError for an error Node's HTTP server raised on a connection, or undefined: nothing to answer. */
export function clientError(err: ClientError, requestTimeoutMs: number): CaxtonError | undefined {
  switch (err.code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return undefined; // the client is gone
    case 'ERR_HTTP_REQUEST_TIMEOUT': {
      // Node raises the same error whether the headers' deadline or the whole request's passed.
      const headers = headersTimeoutMs(requestTimeoutMs);
      if (headers === requestTimeoutMs) {
        return new CaxtonError('CAXTON_ERR_API_REQUEST_TIMEOUT', `the request was not received in full within ${requestTimeoutMs} ms (server.request_timeout)`, { limit_ms: requestTimeoutMs });
      }
      return new CaxtonError(
        'CAXTON_ERR_API_REQUEST_TIMEOUT',
        `the request was not received in time: its headers must arrive within ${headers} ms and the whole request within ${requestTimeoutMs} ms (server.request_timeout)`,
        { limit_ms: requestTimeoutMs, headers_limit_ms: headers },
      );
    }
    case 'HPE_HEADER_OVERFLOW':
      return new CaxtonError('CAXTON_ERR_API_HEADERS_TOO_LARGE', `the request line and headers are over the ${maxHeaderSize} bytes the server reads`, { limit_bytes: maxHeaderSize });
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new CaxtonError('CAXTON_ERR_API_BODY_TOO_LARGE', 'the chunk extensions of the chunked body are too large (Node accepts 16 KiB)');
    default: {
      const why = err.reason ?? err.message;
      return new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', `the request is not valid HTTP/1.1: ${why}${err.code === undefined ? '' : ` (${err.code})`}`);
    }
  }
}

/** A whole HTTP/1.1 response with `e` in the error shape; the connection closes after it. */
export function rawErrorResponse(e: CaxtonError): string {
  const body = JSON.stringify(errorBody(e));
  return `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** fastify's `clientErrorHandler`: called with the raw socket, as Node's 'clientError' event. */
export function makeClientErrorHandler(requestTimeoutMs: number, log: Logger): (err: ClientError, socket: Socket) => void {
  return (err, socket) => {
    const e = clientError(err, requestTimeoutMs);
    // As Node does it: answer only if nothing of a response to this request went out yet, else the
    // client would read a corrupt stream.
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (e !== undefined && socket.writable && (inFlight === undefined || inFlight === null || !inFlight.headersSent)) {
      log.debug({ code: err.code, status: e.status }, 'refused a request before routing');
      socket.write(rawErrorResponse(e));
    }
    socket.destroy();
  };
}

/**
 * Node answers a request whose `Expect` header is not `100-continue` with a bare 417 unless the
 * server listens for 'checkExpectation'; this answers it in the error shape instead.
 */
export function answerExpectations(server: Server): void {
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const e = new CaxtonError('CAXTON_ERR_API_EXPECTATION_FAILED', `the server cannot meet "Expect: ${String(req.headers.expect).slice(0, 100)}"; it supports only 100-continue`);
    const body = JSON.stringify(errorBody(e));
    res.writeHead(e.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
  });
}
