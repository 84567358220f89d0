/** An AgentServices that accepts everything and keeps nothing: for running an agent without a node. */
import type { AgentServices } from '../../src/sandbox/index.js';

export class NullServices implements AgentServices {
  readonly maxMessageBytes = 100 * 1024;
  constructor(readonly name = 'agent') {}
  send(_json: string): number {
    return 0;
  }
  log(_level: number, _text: string): void {}
  kvGet(_key: Uint8Array): Uint8Array | undefined {
    return undefined;
  }
  kvSet(_key: Uint8Array, _value: Uint8Array): number {
    return 0;
  }
  kvDelete(_key: Uint8Array): void {}
  timerSet(): number {
    return 1;
  }
  timerCancel(): number {
    return 0;
  }
  registerCapability(): number {
    return 0;
  }
  subscribe(): number {
    return 0;
  }
  hostFault(): void {}
}
