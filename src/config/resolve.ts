/**
 * The validated config in the form code uses: sizes in bytes and durations in ms (the unit is in the
 * field name: `bodyLimitBytes`, `requestTimeoutMs`), addresses parsed, "auto" worked out, and the
 * option objects the subsystems already take (SandboxPolicy, RestartPolicy, RelayOptions, CanaryPlan).
 * Also the checks that involve more than one key, which the schema cannot express.
 */
import { availableParallelism } from 'node:os';
import { canaryPlan, parseCanaryStages, type CanaryPlan } from '../agents/canary-plan.js';
import type { RestartPolicy } from '../agents/restart-policy.js';
import type { ClusterOptions } from '../cluster/cluster.js';
import type { RelayOptions } from '../messaging/outbox-relay.js';
import { DEFAULT_POLICY, WASM_PAGE_BYTES, type SandboxPolicy } from '../sandbox/policy.js';
import type { CapabilityStrategy } from '../sandbox/pool.js';
import type { Synchronous } from '../storage/database.js';
import { parseAddress, type Address } from './address.js';
import type { ConfigIssue } from './issues.js';
import type { McpServerOptions } from '../integrations/mcp/options.js';
import { MCP_SERVER_DEFAULTS } from './defaults.js';
import type { CaxtonConfig } from './schema.js';
import { parseDuration, parseSize } from './units.js';

/** Cluster.start's `timings`: memberlist's names, plus Serf's tombstone timeout. */
export type ClusterTimings = NonNullable<ClusterOptions['timings']>;

export interface ResolvedConfig {
  readonly node: { readonly id: string; readonly dataDir: string };
  readonly server: {
    readonly apiAddr: Address;
    readonly metricsAddr: Address;
    readonly bodyLimitBytes: number;
    readonly requestTimeoutMs: number;
    /** server.releases_dir; undefined when empty (no supervisor). */
    readonly releasesDir: string | undefined;
  };
  readonly runtime: {
    /** "auto" already replaced by max(1, cores - 1). */
    readonly workers: number;
    readonly maxAgents: number;
    /** AgentPool moduleCacheBytes. */
    readonly moduleCacheBytes: number;
    /** For AgentPool / ModuleCache: memory cap in pages, module size, fuel, watchdog, features. */
    readonly policy: SandboxPolicy;
    readonly restartPolicy: RestartPolicy;
  };
  readonly messaging: {
    readonly maxMessageBytes: number;
    readonly mailboxCapacity: number;
    /** messaging.queue_bytes, in bytes. */
    readonly mailboxBytes: number;
    readonly capabilityStrategy: CapabilityStrategy;
    readonly redeliverAfterMs: number;
    readonly drainTimeoutMs: number;
    /** For OutboxRelay. */
    /** holdDeadLetters is no setting: the node passes its partition state. */
    readonly relay: Required<Omit<RelayOptions, 'holdDeadLetters'>>;
  };
  readonly coordination: {
    readonly localState: { readonly synchronous: Synchronous; readonly busyTimeoutMs: number };
    /** For StateReplicator (src/agents/replication/). */
    readonly replication: { readonly mode: 'sync' | 'async'; readonly retransmitMs: number };
    /** For the partition queue and merge (src/cluster/partition/). */
    readonly partition: { readonly maxQueue: number; readonly maxQueueBytes: number; readonly resolveStrategy: 'auto' | 'manual' };
    readonly cluster: {
      readonly enabled: boolean;
      readonly bindAddr: Address;
      readonly advertiseAddr: Address | 'auto';
      readonly bootstrapExpect: number;
      readonly seeds: readonly Address[];
      /** The workers' direct path: on, and worker 0's port (0: any). */
      readonly direct: { readonly enabled: boolean; readonly port: number };
      readonly profile: 'lan' | 'local' | 'wan' | 'fast';
      readonly gossipIntervalMs: number;
      readonly gossipFanout: number;
      readonly probeIntervalMs: number;
      readonly probeTimeoutMs: number;
      readonly suspicionMult: number;
      /**
       * Every timing key (the profile's value unless the file or --set gave one), under memberlist's
       * and Serf's names, for Cluster.start's `timings`.
       */
      readonly timings: Required<ClusterTimings>;
    };
  };
  readonly observability: {
    readonly logging: {
      readonly level: 'trace' | 'debug' | 'info' | 'warn' | 'error';
      readonly format: 'json' | 'pretty';
      /** path: '' when the log goes to stdout. */
      readonly file: { readonly path: string; readonly maxBytes: number; readonly maxBackups: number };
    };
    readonly metrics: { readonly enabled: boolean };
    /** path: '' when no file is configured. */
    readonly audit: { readonly enabled: boolean; readonly path: string };
  };
  readonly security: {
    readonly api: {
      readonly authEnabled: boolean;
      readonly rateLimit: { readonly enabled: boolean; readonly perSecond: number; readonly burst: number };
      /** HTTPS for the API; paths are '' when not configured. */
      readonly tls: { readonly enabled: boolean; readonly cert: string; readonly key: string; readonly caCert: string; readonly clientAuth: 'none' | 'optional' | 'required' };
    };
    /** Paths are '' when not configured. */
    /** Gossip keys in base64 (the config is frozen; typed arrays cannot be), primary first. Empty: plaintext. */
    readonly gossipKeys: readonly string[];
    readonly clusterMtls: { readonly enabled: boolean; readonly caCert: string; readonly nodeCert: string; readonly nodeKey: string; readonly verifyPeer: boolean };
  };
  readonly deployment: { readonly canary: CanaryPlan };
  /** Backups: '' = not set (the SDK's chain; ca.key beside the cluster CA certificate). */
  readonly backup: { readonly s3: { readonly endpoint: string; readonly region: string; readonly forcePathStyle: boolean }; readonly caKey: string };
  /** MCP servers with their defaults applied (src/integrations/mcp/). */
  readonly integrations: { readonly mcp: { readonly servers: readonly McpServerOptions[] } };
}

/** What is wrong between keys of an otherwise valid config. Each issue names every key involved. */
export function crossKeyIssues(c: CaxtonConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = mcpIssues(c);
  const r = c.runtime.restart;
  if (parseDuration(r.max_backoff) < parseDuration(r.initial_backoff)) {
    issues.push({
      path: ['runtime', 'restart', 'max_backoff'],
      alsoPaths: [['runtime', 'restart', 'initial_backoff']],
      message: `runtime.restart.max_backoff (${r.max_backoff}) must be at least runtime.restart.initial_backoff (${r.initial_backoff})`,
    });
  }
  const m = c.messaging;
  if (parseSize(m.queue_bytes) < 2 * parseSize(m.max_message_size)) {
    issues.push({
      path: ['messaging', 'queue_bytes'],
      alsoPaths: [['messaging', 'max_message_size']],
      message: `messaging.queue_bytes (${m.queue_bytes}) must be at least 2 × messaging.max_message_size (${m.max_message_size}): a mailbox counts 2 bytes per character, and the largest message must fit an empty one`,
    });
  }
  const cl = c.coordination.cluster;
  if (parseDuration(cl.probe_timeout) >= parseDuration(cl.probe_interval)) {
    issues.push({
      path: ['coordination', 'cluster', 'probe_timeout'],
      alsoPaths: [['coordination', 'cluster', 'probe_interval']],
      message: `coordination.cluster.probe_timeout (${cl.probe_timeout}) must be below coordination.cluster.probe_interval (${cl.probe_interval}): an ack cannot be awaited longer than the probe period`,
    });
  }
  if (c.observability.metrics.enabled && clash(c.server.api_addr, c.server.metrics_addr)) {
    issues.push({
      path: ['server', 'metrics_addr'],
      alsoPaths: [['server', 'api_addr']],
      message: `server.metrics_addr (${c.server.metrics_addr}) must differ from server.api_addr (${c.server.api_addr}): both would listen on the same port`,
    });
  }
  const tls = c.security.api.tls;
  if (tls.enabled) {
    for (const k of ['cert', 'key'] as const) {
      if (tls[k] === '') {
        issues.push({
          path: ['security', 'api', 'tls', k],
          alsoPaths: [['security', 'api', 'tls', 'enabled']],
          message: `security.api.tls.${k} must name a file when security.api.tls.enabled is true: the API cannot serve HTTPS without its ${k === 'cert' ? 'certificate' : 'private key'}`,
        });
      }
    }
    if (tls.client_auth !== 'none' && tls.ca_cert === '') {
      issues.push({
        path: ['security', 'api', 'tls', 'ca_cert'],
        alsoPaths: [['security', 'api', 'tls', 'client_auth']],
        message: `security.api.tls.ca_cert must name the CA certificate that client certificates chain to when security.api.tls.client_auth is ${tls.client_auth}`,
      });
    }
  }
  return issues;
}

/** Two listen addresses that would collide: same port (not 0), and same host or a wildcard host. */
function clash(a: string, b: string): boolean {
  const x = address(a);
  const y = address(b);
  const wildcard = (h: string) => h === '0.0.0.0' || h === '::';
  return x.port !== 0 && x.port === y.port && (x.host === y.host || wildcard(x.host) || wildcard(y.host));
}

/** Converts a config that passed the schema and crossKeyIssues (a failed conversion here is a bug). */
export function convertConfig(c: CaxtonConfig): ResolvedConfig {
  const rt = c.runtime;
  const msg = c.messaging;
  const cl = c.coordination.cluster;
  const mtls = c.security.cluster.mtls;
  const apiTls = c.security.api.tls;
  const canary = c.deployment.canary;
  return {
    node: { id: c.node.id, dataDir: c.node.data_dir },
    server: {
      apiAddr: address(c.server.api_addr),
      metricsAddr: address(c.server.metrics_addr),
      bodyLimitBytes: parseSize(c.server.body_limit),
      requestTimeoutMs: parseDuration(c.server.request_timeout),
      releasesDir: c.server.releases_dir === '' ? undefined : c.server.releases_dir,
    },
    runtime: {
      workers: rt.workers === 'auto' ? Math.max(1, availableParallelism() - 1) : rt.workers,
      maxAgents: rt.max_agents,
      moduleCacheBytes: parseSize(rt.module_cache_size),
      policy: Object.freeze({
        ...DEFAULT_POLICY,
        maxModuleBytes: parseSize(rt.max_module_size),
        // Whole pages only: a cap between pages could never be reached by memory.grow anyway.
        maxMemoryPages: Math.floor(parseSize(rt.max_memory_per_agent) / WASM_PAGE_BYTES),
        maxTableElements: rt.max_table_elements,
        fuelPerCall: rt.fuel_per_call,
        maxCallMs: parseDuration(rt.max_call_duration),
        features: Object.freeze([...rt.features]),
      }),
      restartPolicy: {
        baseDelayMs: parseDuration(rt.restart.initial_backoff),
        factor: rt.restart.backoff_factor,
        maxDelayMs: parseDuration(rt.restart.max_backoff),
        maxRestarts: rt.restart.max_restarts,
        windowMs: parseDuration(rt.restart.window),
      },
    },
    messaging: {
      maxMessageBytes: parseSize(msg.max_message_size),
      mailboxCapacity: msg.queue_size,
      mailboxBytes: parseSize(msg.queue_bytes),
      capabilityStrategy: msg.capability_strategy,
      redeliverAfterMs: parseDuration(msg.redeliver_after),
      drainTimeoutMs: parseDuration(msg.drain_timeout),
      relay: {
        intervalMs: parseDuration(msg.outbox_scan_interval),
        baseDelayMs: parseDuration(msg.redeliver_after),
        maxAttempts: msg.max_deliveries,
        batch: msg.outbox_batch,
      },
    },
    coordination: {
      localState: { synchronous: c.coordination.local_state.synchronous, busyTimeoutMs: parseDuration(c.coordination.local_state.busy_timeout) },
      replication: { mode: c.coordination.replication.mode, retransmitMs: parseDuration(c.coordination.replication.retransmit_interval) },
      partition: { maxQueue: c.coordination.partition.max_queue_size, maxQueueBytes: parseSize(c.coordination.partition.max_queue_bytes), resolveStrategy: c.coordination.partition.resolve_strategy },
      cluster: {
        enabled: cl.enabled,
        bindAddr: address(cl.bind_addr),
        advertiseAddr: cl.advertise_addr === 'auto' ? 'auto' : address(cl.advertise_addr),
        bootstrapExpect: cl.bootstrap_expect,
        seeds: cl.seeds.map(address),
        direct: { enabled: cl.direct_messages, port: cl.direct_port },
        profile: cl.profile,
        gossipIntervalMs: parseDuration(cl.gossip_interval),
        gossipFanout: cl.gossip_fanout,
        probeIntervalMs: parseDuration(cl.probe_interval),
        probeTimeoutMs: parseDuration(cl.probe_timeout),
        suspicionMult: cl.suspicion_mult,
        timings: clusterTimings(cl),
      },
    },
    observability: {
      logging: {
        level: c.observability.logging.level,
        format: c.observability.logging.format,
        file: { path: c.observability.logging.file.path, maxBytes: parseSize(c.observability.logging.file.max_file_size), maxBackups: c.observability.logging.file.max_backups },
      },
      metrics: { ...c.observability.metrics }, audit: { ...c.observability.audit } },
    security: {
      api: {
        authEnabled: c.security.api.auth_enabled,
        rateLimit: { enabled: c.security.api.rate_limit.enabled, perSecond: c.security.api.rate_limit.requests_per_second, burst: c.security.api.rate_limit.burst },
        tls: { enabled: apiTls.enabled, cert: apiTls.cert, key: apiTls.key, caCert: apiTls.ca_cert, clientAuth: apiTls.client_auth },
      },
      gossipKeys: [...c.security.cluster.gossip.keys],
      clusterMtls: { enabled: mtls.enabled, caCert: mtls.ca_cert, nodeCert: mtls.node_cert, nodeKey: mtls.node_key, verifyPeer: mtls.verify_peer },
    },
    deployment: {
      canary: canaryPlan({
        stages: parseCanaryStages(canary.stages),
        maxErrorRate: canary.max_error_rate,
        maxP99Ms: parseDuration(canary.max_p99),
        minSamples: canary.min_samples,
      }),
    },
    backup: { s3: { endpoint: c.backup.s3.endpoint, region: c.backup.s3.region, forcePathStyle: c.backup.s3.force_path_style }, caKey: c.backup.ca_key },
    integrations: { mcp: { servers: c.integrations.mcp.servers.map(mcpServer) } },
  };
}

type McpServerConfig = CaxtonConfig['integrations']['mcp']['servers'][number];

/** One MCP server's keys with MCP_SERVER_DEFAULTS under the ones the file gave. */
function mcpServer(s: McpServerConfig): McpServerOptions {
  const d = MCP_SERVER_DEFAULTS;
  const rl = { ...d.rate_limit, ...s.rate_limit };
  return {
    name: s.name,
    transport: s.transport,
    command: s.command ?? d.command,
    args: [...(s.args ?? d.args)],
    env: { ...(s.env ?? d.env) },
    url: s.url ?? d.url,
    headers: { ...(s.headers ?? d.headers) },
    allow: [...(s.allow ?? d.allow)],
    timeoutMs: parseDuration(s.timeout ?? d.timeout),
    maxConcurrent: s.max_concurrent ?? d.max_concurrent,
    maxConcurrentPerAgent: s.max_concurrent_per_agent ?? d.max_concurrent_per_agent,
    rateLimit: { callsPerSecond: rl.calls_per_second, burst: rl.burst, agentCallsPerSecond: rl.agent_calls_per_second, agentBurst: rl.agent_burst },
    auditArguments: s.audit_arguments ?? d.audit_arguments,
  };
}

/** What the schema cannot say about the MCP servers: names unique, each transport's own keys. */
function mcpIssues(c: CaxtonConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, number>();
  c.integrations.mcp.servers.forEach((s, i) => {
    const at = (key: string) => ['integrations', 'mcp', 'servers', i, key];
    const first = seen.get(s.name);
    if (first !== undefined) {
      issues.push({ path: at('name'), alsoPaths: [['integrations', 'mcp', 'servers', first, 'name']], message: `integrations.mcp.servers[${i}].name: "${s.name}" is the name of servers[${first}] already; each server needs its own name (agents address it as mcp:<name>)` });
    } else seen.set(s.name, i);
    const other = s.transport === 'stdio' ? (['url', 'headers'] as const) : (['command', 'args', 'env'] as const);
    for (const k of other) {
      if (s[k] !== undefined) issues.push({ path: at(k), message: `integrations.mcp.servers[${i}].${k} applies to ${s.transport === 'stdio' ? 'http' : 'stdio'} servers only, and "${s.name}" is ${s.transport}: remove it or change transport` });
    }
    if (s.transport === 'stdio' && (s.command ?? '') === '') {
      issues.push({ path: at('command'), message: `integrations.mcp.servers[${i}].command is required for a stdio server ("${s.name}"): the program the node starts, e.g. command: npx, args: ["-y", "@modelcontextprotocol/server-memory"]` });
    }
    if (s.transport === 'http') {
      const url = s.url ?? '';
      let ok = false;
      try {
        const u = new URL(url);
        ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '';
      } catch {
        ok = false;
      }
      if (!ok) {
        issues.push({ path: at('url'), message: `integrations.mcp.servers[${i}].url must be an http:// or https:// URL without credentials for an http server ("${s.name}"), e.g. http://127.0.0.1:3001/mcp; put a token in headers` });
      }
    }
  });
  return issues;
}

/** The coordination.cluster timing keys under memberlist's names (MembershipConfig) and Serf's (tombstone). */
export function clusterTimings(cl: CaxtonConfig['coordination']['cluster']): Required<ClusterTimings> {
  return {
    gossipIntervalMs: parseDuration(cl.gossip_interval),
    gossipNodes: cl.gossip_fanout,
    probeIntervalMs: parseDuration(cl.probe_interval),
    probeTimeoutMs: parseDuration(cl.probe_timeout),
    suspicionMult: cl.suspicion_mult,
    suspicionMaxTimeoutMult: cl.suspicion_max_timeout_mult,
    retransmitMult: cl.retransmit_mult,
    indirectChecks: cl.indirect_checks,
    awarenessMaxMultiplier: cl.awareness_max_multiplier,
    tcpTimeoutMs: parseDuration(cl.tcp_timeout),
    pushPullIntervalMs: parseDuration(cl.push_pull_interval),
    gossipToTheDeadMs: parseDuration(cl.gossip_to_dead_time),
    deadNodeReclaimTimeMs: parseDuration(cl.dead_node_reclaim_time),
    reconnectIntervalMs: parseDuration(cl.reconnect_interval),
    reconnectTimeoutMs: parseDuration(cl.reconnect_timeout),
    tombstoneTimeoutMs: parseDuration(cl.tombstone_timeout),
  };
}

/** Validated addresses always parse; this only narrows the type. */
function address(text: string): Address {
  const a = parseAddress(text);
  if (a === undefined) throw new Error(`unreachable: ${text} passed validation but is not host:port`);
  return a;
}
