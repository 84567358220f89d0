export { openDatabase, SCHEMA_VERSION } from './database.js';
export type { SqliteDatabase, OpenOptions, Synchronous } from './database.js';
export { SqliteAgentStateStore } from './agent-state-store.js';
export type { AgentStateStore } from './agent-state-store.js';
