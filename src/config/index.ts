/** The node's configuration: schema, defaults, loading (file, ${VAR}, --set), units, diff and redaction. */
export { loadConfig, parseConfigText, MAX_CONFIG_BYTES } from './load.js';
export type { LoadOptions, LoadedConfig } from './load.js';
export { CaxtonConfigSchema, WASM_FEATURES, LOG_LEVELS, CLUSTER_PROFILES } from './schema.js';
export type { CaxtonConfig } from './schema.js';
export type { ResolvedConfig } from './resolve.js';
export { DEFAULT_CONFIG, CLUSTER_PROFILE_TIMINGS } from './defaults.js';
export { diffConfig, redactConfig, isSecretKey, REDACTED } from './diff.js';
export type { ConfigDifference } from './diff.js';
export { parseSize, parseDuration, checkSize, checkDuration, formatBytes, formatMs } from './units.js';
export type { UnitResult } from './units.js';
export { parseAddress, formatAddress, checkAddress, requireAddress, resolveAddress, resolveAll, lookupError, addressError, ADDRESS_FORM, ADDRESS_EXAMPLES } from './address.js';
export type { Address, AddressUse } from './address.js';
export type { ConfigErrorEntry } from './issues.js';
