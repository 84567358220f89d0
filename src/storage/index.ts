export { openDatabase, SCHEMA_VERSION } from './database.js';
export type { SqliteDatabase, OpenOptions, Synchronous } from './database.js';
export { SqliteAgentStateStore } from './agent-state-store.js';
export type { AgentStateStore } from './agent-state-store.js';
export { DeadLetterStore, DEFAULT_DEAD_LETTER_CAPACITY } from './dead-letter-store.js';
export type { DeadLetter, DeadLetterFilter } from './dead-letter-store.js';
export { OutboxStore } from './outbox-store.js';
export type { OutboxEntry } from './outbox-store.js';
