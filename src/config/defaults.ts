/**
 * Every default in one object. Values equal what the code used before there was a config file
 * (sandbox/policy.ts, agents/restart-policy.ts, sandbox/pool.ts, messaging/outbox-relay.ts,
 * agents/canary-plan.ts, storage/database.ts); test/unit/config/defaults.test.ts holds them to it.
 *
 * Cluster timing defaults are memberlist's DefaultLANConfig; CLUSTER_PROFILES holds what the local and
 * wan profiles change, the way memberlist builds DefaultLocalConfig and DefaultWANConfig from LAN.
 */
import { hostname } from 'node:os';
import type { CaxtonConfig } from './schema.js';
import { NODE_ID_PATTERN } from './schema.js';

export const DEFAULT_CONFIG: CaxtonConfig = deepFreeze({
  node: {
    id: defaultNodeId(), // this machine's host name
    data_dir: './.caxton',
  },
  server: {
    // Loopback by default (DESIGN.md "Embedded default"): a fresh node is not reachable from the network
    // until the operator says so.
    api_addr: '127.0.0.1:8080',
    metrics_addr: '127.0.0.1:9090',
    body_limit: '64MiB', // deploys carry base64 modules: 8 MiB module ≈ 11 MB body, with room to raise the module cap
    request_timeout: '30s',
    releases_dir: '', // no supervisor: `cluster upgrade` needs one (docs/operations.md, "Upgrading Caxton")
  },
  runtime: {
    workers: 'auto', // max(1, cores - 1): the main thread keeps a core for routing and the API
    max_agents: 1000,
    max_memory_per_agent: '64MiB', // 1024 wasm pages
    max_table_elements: 10_000, // spec MaxTableEntries
    fuel_per_call: 10_000_000, // ~5-20 ms of tight compute
    max_call_duration: '5s',
    max_module_size: '8MiB',
    module_cache_size: '256MiB', // thousands of typical agents' modules, or 32 of the largest
    features: ['mutable-global', 'sign-ext', 'nontrapping-fptoint', 'bulk-memory', 'multi-value', 'reference-types'],
    restart: {
      initial_backoff: '100ms',
      max_backoff: '30s',
      backoff_factor: 2,
      max_restarts: 5,
      window: '60s',
    },
  },
  messaging: {
    max_message_size: '100KiB',
    queue_size: 10_000,
    queue_bytes: '64MiB', // about 10,000 messages of 3 KiB (counted 2 bytes per UTF-16 code unit)
    capability_strategy: 'round-robin',
    redeliver_after: '5s',
    max_deliveries: 5,
    outbox_scan_interval: '1s',
    outbox_batch: 500,
    drain_timeout: '30s',
  },
  coordination: {
    local_state: {
      synchronous: 'normal',
      busy_timeout: '5s',
    },
    replication: {
      mode: 'sync',
      retransmit_interval: '200ms',
    },
    partition: {
      max_queue_size: 100_000,
      max_queue_bytes: '256MiB',
      resolve_strategy: 'auto',
    },
    cluster: {
      enabled: false,
      bind_addr: '127.0.0.1:7946', // loopback until the operator opens it, like the API
      advertise_addr: 'auto',
      bootstrap_expect: 1,
      seeds: [],
      direct_messages: true,
      direct_port: 0,
      profile: 'lan',
      gossip_interval: '200ms',
      gossip_fanout: 3,
      probe_interval: '1s',
      probe_timeout: '500ms',
      suspicion_mult: 4,
      suspicion_max_timeout_mult: 6,
      retransmit_mult: 4,
      indirect_checks: 3,
      awareness_max_multiplier: 8,
      tcp_timeout: '10s',
      push_pull_interval: '30s',
      gossip_to_dead_time: '30s',
      dead_node_reclaim_time: 0, // never: a dead node's name at a new address is a conflict
      reconnect_interval: '30s', // Serf's
      reconnect_timeout: '24h', // Serf's
      tombstone_timeout: '24h', // Serf's
    },
  },
  observability: {
    logging: { level: 'info', format: 'json', file: { path: '', max_file_size: '100MiB', max_backups: 10 } },
    metrics: { enabled: true },
    audit: { enabled: true, path: '' },
  },
  security: {
    api: {
      auth_enabled: true,
      rate_limit: { enabled: true, requests_per_second: 100, burst: 200 },
      tls: { enabled: false, cert: '', key: '', ca_cert: '', client_auth: 'none' },
    },
    cluster: {
      gossip: { keys: [] },
      mtls: { enabled: false, ca_cert: '', node_cert: '', node_key: '', verify_peer: true },
    },
  },
  deployment: {
    canary: {
      stages: '5:5m,25:10m,50:10m,100:0',
      max_error_rate: 0.01,
      max_p99: '100ms',
      min_samples: 100,
    },
  },
  backup: {
    s3: { endpoint: '', region: '', force_path_style: false }, // AWS's endpoint and the SDK's region chain
    ca_key: '', // ca.key beside security.cluster.mtls.ca_cert
  },
  integrations: {
    mcp: { servers: [] }, // none: agents reach nothing outside the node until the operator lists a server
  },
});

/**
 * The defaults of an MCP server's optional keys (integrations.mcp.servers[]), applied when the config
 * is resolved: a list item is not merged over defaults the way a section is.
 */
export const MCP_SERVER_DEFAULTS = deepFreeze({
  command: '',
  args: [] as string[],
  env: {} as Record<string, string>,
  url: '',
  headers: {} as Record<string, string>,
  allow: [] as string[], // deny by default: an operator names who may use a tool
  timeout: '30s',
  max_concurrent: 16,
  max_concurrent_per_agent: 4,
  rate_limit: {
    calls_per_second: 50,
    burst: 100,
    agent_calls_per_second: 10,
    agent_burst: 20,
  },
  audit_arguments: false, // argument values may hold personal data: sizes only unless asked
});

/** The cluster keys a profile sets: every timing (memberlist's and Serf's), not the addresses. */
export const CLUSTER_TIMING_KEYS = [
  'gossip_interval',
  'gossip_fanout',
  'probe_interval',
  'probe_timeout',
  'suspicion_mult',
  'suspicion_max_timeout_mult',
  'retransmit_mult',
  'indirect_checks',
  'awareness_max_multiplier',
  'tcp_timeout',
  'push_pull_interval',
  'gossip_to_dead_time',
  'dead_node_reclaim_time',
  'reconnect_interval',
  'reconnect_timeout',
  'tombstone_timeout',
] as const satisfies readonly (keyof CaxtonConfig['coordination']['cluster'])[];

type ClusterTiming = Pick<CaxtonConfig['coordination']['cluster'], (typeof CLUSTER_TIMING_KEYS)[number]>;

/**
 * What each profile changes from the LAN defaults: memberlist config.go DefaultLocalConfig and
 * DefaultWANConfig (src/cluster/membership/config.ts localConfig/wanConfig; test/unit/config holds the
 * two in step). Serf's reconnect and tombstone timings are the same in every profile. A profile's
 * values sit between the defaults and the file: keys the file or --set give still win.
 */
export const CLUSTER_PROFILE_TIMINGS: Readonly<Record<CaxtonConfig['coordination']['cluster']['profile'], Partial<ClusterTiming>>> = deepFreeze({
  lan: {},
  local: {
    gossip_interval: '100ms',
    probe_timeout: '200ms',
    suspicion_mult: 3,
    retransmit_mult: 2,
    indirect_checks: 1,
    tcp_timeout: '1s',
    push_pull_interval: '15s',
    gossip_to_dead_time: '15s',
  },
  fast: {
    gossip_interval: '100ms',
    probe_interval: '500ms',
    probe_timeout: '250ms',
    suspicion_mult: 3,
  },
  wan: {
    gossip_interval: '500ms',
    gossip_fanout: 4,
    probe_interval: '5s',
    probe_timeout: '3s',
    suspicion_mult: 6,
    tcp_timeout: '30s',
    push_pull_interval: '60s',
    gossip_to_dead_time: '60s',
  },
});

/** The host name when it is a valid node id, else a sanitized form of it (never an invalid default). */
function defaultNodeId(): string {
  const re = new RegExp(NODE_ID_PATTERN);
  const name = hostname();
  if (re.test(name)) return name;
  const cleaned = name.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 128);
  return re.test(cleaned) ? cleaned : 'caxton-node';
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
