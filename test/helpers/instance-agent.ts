/**
 * One agent on the test's own thread: admitted by the real validator and rewriter, run as an
 * AgentInstance with the real host functions (so every send goes through the host's UTF-8 decode and
 * message validation). It records what the agent sends and logs; the key-value store is a Map.
 */
import { AgentInstance, DEFAULT_POLICY, type SandboxPolicy } from '../../src/sandbox/index.js';
import { NullServices } from './null-services.js';
import { admitModule } from '../../src/sandbox/wasm/index.js';

export interface Sent {
  readonly json: string;
  readonly msg: Record<string, unknown>;
}

/** NullServices that keeps what the agent sends and logs, and a key-value store in a Map. */
class RecordingServices extends NullServices {
  readonly sent: Sent[] = [];
  readonly logs: { level: number; text: string }[] = [];
  readonly kv = new Map<string, Uint8Array>();

  override send(json: string): number {
    this.sent.push({ json, msg: JSON.parse(json) as Record<string, unknown> });
    return 0;
  }
  override log(level: number, text: string): void {
    this.logs.push({ level, text });
  }
  override kvGet(key: Uint8Array): Uint8Array | undefined {
    return this.kv.get(Buffer.from(key).toString('utf8'));
  }
  override kvSet(key: Uint8Array, value: Uint8Array): number {
    this.kv.set(Buffer.from(key).toString('utf8'), value.slice());
    return 0;
  }
  override kvDelete(key: Uint8Array): void {
    this.kv.delete(Buffer.from(key).toString('utf8'));
  }
}

export class InstanceAgent {
  readonly #instance: AgentInstance;
  readonly #services: RecordingServices;
  #seq = 0;

  constructor(
    bytes: Uint8Array,
    readonly name = 'probe',
    policy: SandboxPolicy = DEFAULT_POLICY,
  ) {
    this.#services = new RecordingServices(name);
    this.#instance = new AgentInstance(new WebAssembly.Module(admitModule(bytes, policy).bytes), this.#services, policy.fuelPerCall);
    this.#instance.instantiate();
    this.#instance.init(JSON.stringify({ name, agent_id: name, config: {}, restarts: 0 }));
  }

  get sent(): Sent[] {
    return this.#services.sent;
  }
  get logs(): { level: number; text: string }[] {
    return this.#services.logs;
  }
  get kv(): Map<string, Uint8Array> {
    return this.#services.kv;
  }
  get lastFuelUsed(): number {
    return this.#instance.lastFuelUsed;
  }

  /** Hands the agent one message as text (exactly these bytes, once UTF-8 encoded). Returns its status. */
  handle(text: string): number {
    return this.#instance.handle(text);
  }

  /**
   * Sends a message from "tester" with the given content (a value, or JSON text used verbatim) and
   * returns the one message the agent sent in reply.
   */
  ask(performative: string, content: unknown, opts: { raw?: boolean; extra?: Record<string, unknown> } = {}): Sent {
    const rw = `rw-${++this.#seq}`;
    const marker = '"__content__"';
    const envelope = { sender: 'tester', message_id: `m-${this.#seq}`, performative, receiver: this.name, content: opts.raw ? '__content__' : content, conversation_id: 'conv-1', reply_with: rw, ...opts.extra };
    const text = opts.raw ? JSON.stringify(envelope).replace(marker, content as string) : JSON.stringify(envelope);
    const before = this.sent.length;
    const rc = this.handle(text);
    if (rc !== 0) throw new Error(`handle_message returned ${rc} for ${text}; logs: ${JSON.stringify(this.logs.slice(-3))}`);
    const replies = this.sent.slice(before);
    if (replies.length !== 1) throw new Error(`expected one reply to ${text}, got ${replies.length}; logs: ${JSON.stringify(this.logs.slice(-3))}`);
    const r = replies[0]!;
    if (r.msg['in_reply_to'] !== rw) throw new Error(`reply ${r.json} is not in reply to ${rw}`);
    return r;
  }
}
