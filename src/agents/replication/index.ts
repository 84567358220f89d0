/** State replication of agents' key-value state between owner and replica, with fencing (replicator.ts). */
export { StateReplicator, APPLIED_TTL_MS } from './replicator.js';
export type { Promotion, ReplicaState, ReplicaStatus, ReplicationEvent, ReplicationMode, ReplicatorOptions } from './replicator.js';
