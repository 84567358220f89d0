/** WebAssembly module admission: validation, the Caxton ABI and feature rules, fuel metering. */
export { admitModule, type AdmittedModule } from './admit.js';
export type { ExportKind } from './types.js';
