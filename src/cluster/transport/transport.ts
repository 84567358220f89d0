/**
 * How membership reaches other nodes: best-effort packets (UDP) and reliable streams (TCP), both on
 * one address. Mirrors memberlist's Transport contract (transport.go). The production implementation
 * is net-transport.ts (node:dgram + node:net); tests may also use an in-memory one.
 *
 * Contracts:
 * - `sendPacket` never blocks and never throws for a network problem: a packet is best effort, it may
 *   be lost, and the loss is only counted.
 * - `onPacket` handlers must not block: they run on the receive path.
 * - A `Stream` delivers bytes in order, or ends/fails; the caller frames messages (wire/stream.ts).
 * - Buffers handed to handlers are owned by the handler (the transport does not reuse them).
 */
import type { X509Certificate } from 'node:crypto';

export interface Address {
  readonly host: string;
  readonly port: number;
}

export interface Stream {
  /** The other end of the connection. */
  readonly remote: Address;
  /** The peer's certificate, verified against the cluster CA, on a link stream over mTLS. */
  readonly peerCert?: X509Certificate | undefined;
  write(bytes: Uint8Array): Promise<void>;
  /** Called for each chunk as it arrives; data arriving before a handler is set is buffered. */
  onData(fn: (chunk: Uint8Array) => void): void;
  /** Called once when the peer ended the stream or it failed (error undefined on a clean end). */
  onEnd(fn: (error?: Error) => void): void;
  /** Ends the stream; after a deadline (ms) it is destroyed. */
  close(): void;
  /** Fails the stream if it is still open after `ms` (replacing an earlier deadline); 0 removes it. */
  setDeadline(ms: number): void;
}

export interface Transport {
  /** The address packets and streams are received on (the bound port when 0 was asked for). */
  readonly local: Address;
  /** What other nodes should use to reach us (the bind address, or advertise_addr). */
  readonly advertise: Address;
  sendPacket(to: Address, bytes: Uint8Array): void;
  onPacket(fn: (bytes: Uint8Array, from: Address, receivedAt: number) => void): void;
  /** Opens a stream; rejects after `timeoutMs` or on refusal. */
  dial(to: Address, timeoutMs: number): Promise<Stream>;
  onStream(fn: (stream: Stream) => void): void;
  close(): Promise<void>;
}

/**
 * A hook in front of every packet sent and received, for tests that inject loss or partitions.
 * Returns false to drop the packet. Streams are cut by refusing dials (`dropStream`).
 */
export interface DropHook {
  dropPacket?(direction: 'in' | 'out', peer: Address, bytes: Uint8Array): boolean;
  dropStream?(direction: 'in' | 'out', peer: Address): boolean;
}

export function addressKey(a: Address): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
