/** Assembles WebAssembly text with wabt (a devDependency used only by tests and the fixture build). */
type Wabt = Awaited<ReturnType<typeof import('wabt')>>;
let wabtInstance: Wabt | undefined;

export async function loadWabt(): Promise<Wabt> {
  wabtInstance ??= await (await import('wabt')).default();
  return wabtInstance;
}

export interface WatFeatures {
  bulk_memory?: boolean;
  reference_types?: boolean;
  simd?: boolean;
  threads?: boolean;
  exceptions?: boolean;
  tail_call?: boolean;
  multi_value?: boolean;
  extended_const?: boolean;
  relaxed_simd?: boolean;
  memory64?: boolean;
  function_references?: boolean;
  gc?: boolean;
}

/** Assembles WAT text (all MVP-plus-default features on unless overridden). */
export async function wat(text: string, features: WatFeatures = {}): Promise<Uint8Array> {
  const w = await loadWabt();
  const m = w.parseWat('t.wat', text, {
    mutable_globals: true,
    sat_float_to_int: true,
    sign_extension: true,
    multi_value: true,
    bulk_memory: true,
    reference_types: true,
    ...features,
  });
  try {
    return new Uint8Array(m.toBinary({}).buffer);
  } finally {
    m.destroy();
  }
}

