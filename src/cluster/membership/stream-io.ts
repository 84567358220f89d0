/**
 * One memberlist message over a Stream: the codec options from config, and reading a frame from a
 * stream's chunks with the wire StreamReader.
 */
import { StreamReader, encryptionVersionFor, type StreamEncodeOptions, type StreamFrame, type StreamReaderOptions } from '../wire/index.js';
import type { Stream } from '../transport/transport.js';
import type { MembershipConfig } from './config.js';

export interface StreamCodec {
  readonly encode: StreamEncodeOptions;
  readonly read: StreamReaderOptions;
}

/** Options for our streams. The keyring is shared, so key rotation applies to the next stream. */
export function streamCodec(cfg: MembershipConfig): StreamCodec {
  return {
    encode: {
      compress: cfg.enableCompression,
      keyring: cfg.keyring,
      verifyOutgoing: cfg.gossipVerifyOutgoing,
      encryptionVersion: encryptionVersionFor(cfg.protocolVersion),
    },
    read: { keyring: cfg.keyring, verifyIncoming: cfg.gossipVerifyIncoming },
  };
}

/** The peer closed the stream without sending anything (not worth an error reply). */
export class EmptyStreamError extends Error {
  override readonly name = 'EmptyStreamError';
}

/** The receiver refused the message once it saw its type (a push/pull over the concurrency cap). */
export class StreamRefusedError extends Error {
  override readonly name = 'StreamRefusedError';
}

/**
 * Reads one message. Rejects with a WireError for bad bytes, EmptyStreamError when the stream ended
 * before its first byte, or the stream's own error (deadline, reset).
 */
export function readFrame(stream: Stream, options: StreamReaderOptions): Promise<StreamFrame> {
  return new Promise((resolve, reject) => {
    const reader = new StreamReader(options);
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    stream.onData((chunk) => {
      if (settled) return;
      try {
        const frame = reader.push(chunk);
        if (frame === undefined) return;
        settled = true;
        resolve(frame);
      } catch (err) {
        fail(err);
      }
    });
    stream.onEnd((error) => {
      if (settled) return;
      if (error !== undefined) {
        fail(error);
        return;
      }
      if (reader.buffered === 0) {
        fail(new EmptyStreamError('stream closed before any data'));
        return;
      }
      try {
        const frame = reader.finish();
        settled = true;
        resolve(frame);
      } catch (err) {
        fail(err);
      }
    });
  });
}
