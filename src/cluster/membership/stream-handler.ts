/**
 * Streams peers open to us (memberlist net.go handleConn): one message in, at most one out. A
 * push/pull is answered with our state, a TCP ping with an ack, a user message goes to the delegate.
 * A stream we cannot read gets an errResp (as Go sends) and is closed. A push/pull over the
 * concurrency cap is closed as soon as its type byte is read, before its state is buffered or decoded.
 */
import { MessageType, encodeAckStream, encodeErrStream, isWireError, type StreamFrame } from '../wire/index.js';
import type { Stream } from '../transport/transport.js';
import type { MembershipConfig } from './config.js';
import type { MembershipDelegate } from './delegate.js';
import type { MembershipLogger } from './log.js';
import type { PushPullSync } from './push-pull.js';
import type { Counters } from './stats.js';
import { EmptyStreamError, StreamRefusedError, readFrame, type StreamCodec } from './stream-io.js';

export interface StreamHandlerEnv {
  readonly config: MembershipConfig;
  readonly counters: Counters;
  readonly log: MembershipLogger;
  readonly delegate: MembershipDelegate;
  readonly pushPull: PushPullSync;
  readonly streams: StreamCodec;
  isShutdown(): boolean;
}

export class StreamHandler {
  readonly #env: StreamHandlerEnv;

  constructor(env: StreamHandlerEnv) {
    this.#env = env;
  }

  /** Serves one inbound stream; never rejects. */
  async handle(stream: Stream): Promise<void> {
    const env = this.#env;
    const peer = `${stream.remote.host}:${stream.remote.port}`;
    if (env.isShutdown()) {
      stream.close();
      return;
    }
    stream.setDeadline(env.config.tcpTimeoutMs);
    // A push/pull holds its slot from the moment its type is known until the exchange is over.
    let release: (() => void) | undefined;
    const onMessageType = (type: number): void => {
      if (type !== MessageType.PushPull) return;
      release = env.pushPull.admitInbound(peer);
      if (release === undefined) throw new StreamRefusedError('too many pending push/pull requests');
    };
    let frame: StreamFrame;
    try {
      frame = await readFrame(stream, { ...env.streams.read, onMessageType });
    } catch (err) {
      release?.();
      if (!(err instanceof EmptyStreamError) && !(err instanceof StreamRefusedError)) {
        env.counters.drop(isWireError(err) ? err.reason : 'stream-error');
        env.log.warn({ err, from: peer }, 'failed to receive a stream');
        if (isWireError(err)) {
          try {
            await stream.write(encodeErrStream({ Error: err.message }, env.streams.encode));
          } catch {
            // the peer may be gone already
          }
        }
      }
      stream.close();
      return;
    }

    try {
      const m = frame.message;
      switch (m.type) {
        case MessageType.PushPull:
          await env.pushPull.handleInbound(stream, m.body);
          break;
        case MessageType.User:
          if (m.body.length > 0) env.delegate.notifyMessage(m.body);
          break;
        case MessageType.Ping:
          // A TCP ping meant for a previous owner of our address is not acked.
          if (m.body.Node !== '' && m.body.Node !== env.config.name) {
            env.counters.drop('wrong-node');
            env.log.warn({ node: m.body.Node, from: peer }, 'got TCP ping for unexpected node');
            break;
          }
          await stream.write(encodeAckStream({ SeqNo: m.body.SeqNo, Payload: null }, env.streams.encode));
          break;
        default:
          env.counters.drop('stream-error');
          env.log.warn({ type: m.type, from: peer }, 'received invalid msgType on a stream');
      }
    } catch (err) {
      env.counters.drop('handler-error');
      env.log.error({ err, from: peer }, 'failed to handle a stream');
    } finally {
      release?.();
      stream.close();
    }
  }
}
