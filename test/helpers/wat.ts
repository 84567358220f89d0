/** Assembles WebAssembly text with wabt (a devDependency used only by tests and the fixture build). */
type Wabt = {
  parseWat(name: string, text: string, features?: Record<string, boolean>): {
    toBinary(o: object): { buffer: Uint8Array };
    destroy(): void;
  };
};

let wabtPromise: Promise<Wabt> | undefined;

export async function wat(text: string, features: Record<string, boolean> = {}): Promise<Uint8Array> {
  wabtPromise ??= import('wabt').then((m) => (m.default as unknown as () => Promise<Wabt>)());
  const w = await wabtPromise;
  const mod = w.parseWat('inline.wat', text, features);
  try {
    return new Uint8Array(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
}
