/**
 * The node's configuration: one TypeBox schema that is the validator (ajv, ./validate.ts), the
 * TypeScript type (`CaxtonConfig`, through Static) and the source of error-message wording. Every key
 * says here what it does and its unit; the default is in ./defaults.ts (DEFAULT_CONFIG), the
 * operator's description in docs/configuration.md — keep the three in step (test/unit/config checks
 * that the doc names every key with its default).
 *
 * Every key applies to one node. The `coordination.cluster` and `security.cluster` keys are accepted
 * and defaulted now so that config files written for a cluster load today; clustering uses them.
 * Sizes and durations are `number | string` here (as written); ./resolve.ts converts them.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { WasmFeature } from '../sandbox/policy.js';
import { Addr, AddrList, AddrOrAuto, Bool, Duration, Enum, Int, IntOrAuto, Num, Section, Size, Text } from './kinds.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Every WebAssembly feature the admission code knows; the exhaustiveness check below keeps it so. */
export const WASM_FEATURES = [
  'mutable-global',
  'sign-ext',
  'nontrapping-fptoint',
  'bulk-memory',
  'multi-value',
  'reference-types',
  'simd',
] as const satisfies readonly WasmFeature[];
// A feature added to WasmFeature but not above makes this line fail to compile.
const allFeaturesListed: Exclude<WasmFeature, (typeof WASM_FEATURES)[number]> extends never ? true : never = true;
void allFeaturesListed;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export const CLUSTER_PROFILES = ['lan', 'local', 'wan', 'fast'] as const;

/** Node names travel in gossip, certificates (CN) and metric labels: keep them to DNS-label-like ASCII. */
export const NODE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$';

const node = Section('This node.', {
  id: Text('The node\'s name: unique in a cluster, shown in logs, metrics and `caxton cluster members`. 1-128 characters from A-Z a-z 0-9 _ . - (first a letter or digit).', {
    pattern: NODE_ID_PATTERN,
    expect: '1 to 128 characters from A-Z a-z 0-9 _ . -, starting with a letter or digit',
  }),
  data_dir: Text('Directory of the SQLite database (agent state, modules, deployments, outbox, dead letters) and the local admin key. Relative paths are relative to the working directory.'),
});

const server = Section('The REST API and the metrics endpoint.', {
  api_addr: Addr('Where the REST API listens, host:port. 0.0.0.0 listens on every interface; port 0 picks a free port; a name is resolved when listening (localhost: 127.0.0.1 and ::1).'),
  metrics_addr: Addr('Where Prometheus scrapes /metrics, host:port. Must differ from api_addr. Not used (nor looked up) while observability.metrics.enabled is false.'),
  body_limit: Size('Largest request body the API reads. Deploys carry the module base64-encoded (4/3 of its size), so keep it above runtime.max_module_size × 4/3.', { min: KiB, max: GiB }),
  request_timeout: Duration('How long the API gives one request (reading the body and answering) before it gives up on it.', { min: 1 }),
  releases_dir: Text('Directory of installed releases (<dir>/<version>/, <dir>/current): `caxton server start` then runs a supervisor that starts the node from <dir>/current and can switch it to another release (`caxton cluster upgrade`). Empty = the node runs in this process, from the code that started it. Not re-read by a restart.', { allowEmpty: true }),
});

const restart = Section('Crash supervision (OTP-style restart intensity): restart with exponential back-off, give up after too many crashes in a window.', {
  initial_backoff: Duration('Delay before the first restart after a quiet period.', { min: 0 }),
  max_backoff: Duration('Upper bound of the back-off delay. At least initial_backoff.', { min: 0 }),
  backoff_factor: Num('Each further crash within the window multiplies the delay by this (1 = constant delay).', { min: 1, max: 100 }),
  max_restarts: Int('More crashes than this within `window` and the agent is marked failed (it stays failed until an operator restarts it).', { min: 0, max: 1_000_000 }),
  window: Duration('The intensity window that max_restarts counts crashes in.', { min: 1 }),
});

const runtime = Section('Running agents: worker threads, per-agent limits, module admission, supervision.', {
  workers: IntOrAuto('Worker threads that run agents (many agents share one). "auto" = one less than the CPU cores, at least 1. More workers use more cores and memory; a watchdog kill stops one worker\'s agents briefly.', { min: 1, max: 1024 }),
  max_agents: Int('Agents this node accepts; a deploy beyond it fails with CAXTON_ERR_AGENT_LIMIT.', { min: 1 }),
  max_memory_per_agent: Size('Cap on each agent\'s WebAssembly linear memory; memory.grow past it returns -1. Rounded down to whole 64 KiB pages; at most 4 GiB (wasm32).', { min: 64 * KiB, max: 4 * GiB }),
  max_table_elements: Int('Cap on each WebAssembly table\'s size, in elements; table.grow also costs host memory.', { min: 1, max: 10_000_000 }),
  fuel_per_call: Int('Fuel granted to each call into an agent (about one unit per operator executed). A call that runs out traps deterministically; 10,000,000 is roughly 5-20 ms of tight compute.', { min: 1000 }),
  max_call_duration: Duration('Wall-clock limit of one call. Past it the watchdog terminates the worker (the only hard stop for wasm in V8) and the agents on it are restarted.', { min: 1 }),
  max_module_size: Size('Largest module accepted at deploy. Admission runs in its own thread and grows about 15 ms per MB (~2 s for 8 MiB).', { min: KiB, max: GiB }),
  module_cache_size: Size('Admitted modules kept once no agent runs them, in bytes of rewritten module (V8\'s compiled code comes on top). Beyond it the least recently used are forgotten; a deployment admits its module again from the database when it needs it. A module an agent runs (or a stopped agent may run again) is never forgotten.', { min: 0, max: 64 * GiB }),
  features: Type.Array(Enum(WASM_FEATURES, 'A WebAssembly feature.'), {
    uniqueItems: true,
    description: 'WebAssembly features a module may use beyond the MVP. `simd` is opt-in; threads, exceptions, tail calls, GC, memory64 and multi-memory are never allowed.',
    expect: `a list of WebAssembly features from ${WASM_FEATURES.join(', ')}`,
  }),
  restart,
});

const messaging = Section('Message delivery between agents.', {
  max_message_size: Size('Largest message, as UTF-8 JSON, an agent or client may send (CAXTON_ERR_MESSAGE_TOO_LARGE beyond). Send large data by reference.', { min: KiB, max: 64 * MiB }),
  queue_size: Int('Messages queued in one agent\'s mailbox before senders get backpressure (agents see ERR_BACKPRESSURE).', { min: 1, max: 10_000_000 }),
  queue_bytes: Size('Bytes of messages queued in one agent\'s mailbox before senders get backpressure, like a full queue_size. A message counts 2 bytes per UTF-16 code unit of its JSON text (twice its UTF-8 size for ASCII). At least 2 × max_message_size.', { min: 2 * KiB, max: 64 * GiB }),
  capability_strategy: Enum(['round-robin', 'least-loaded'] as const, 'How a message addressed to a capability picks one of the agents that offer it: in turn, or the one with the fewest queued messages (sampled every 200 ms).'),
  redeliver_after: Duration('At-least-once: when an unacknowledged message is first redelivered; the n-th redelivery waits this × 2^(n-1).', { min: 1 }),
  max_deliveries: Int('At-least-once: deliveries (the first included) before an unacknowledged message becomes a dead letter.', { min: 1, max: 1000 }),
  outbox_scan_interval: Duration('At-least-once: how often the durable outbox is scanned for messages due for redelivery.', { min: 1 }),
  outbox_batch: Int('At-least-once: messages redelivered per outbox scan.', { min: 1, max: 1_000_000 }),
  drain_timeout: Duration('Graceful stop and upgrade: how long an agent may take to finish the messages already queued before it is stopped anyway.', { min: 0 }),
});

const cluster = Section('Membership and gossip (SWIM, wire-compatible with memberlist). Accepted now; used when clustering is enabled.', {
  enabled: Bool('Join or form a cluster. false = a single node.'),
  bind_addr: Addr('Where gossip listens (UDP and TCP), host:port.'),
  advertise_addr: AddrOrAuto('The address other nodes use to reach this one (a name is resolved to its IP at start). "auto": bind_addr\'s IP when it names one; with bind_addr 0.0.0.0 or ::, the first non-internal IPv4 of the host (127.0.0.1, with a warning, when there is none). A port of 0 means the bound port.'),
  bootstrap_expect: Int('Nodes expected in the cluster; quorum is bootstrap_expect / 2 + 1.', { min: 1, max: 10_000 }),
  seeds: AddrList('Nodes to contact when joining, host:port each (port 1 to 65535). Names are resolved at each join attempt (at most 5 s each); one that does not resolve is logged, skipped and retried at the next attempt.'),
  direct_messages: Bool('Agent-to-agent messages between nodes go from worker thread to worker thread on connections of their own, without crossing either node\'s main thread (docs/cluster-routing.md, "The direct path"). With security.cluster.mtls on, these connections run TLS 1.3 with the link\'s certificates. false: every message takes the link.'),
  direct_port: Int('The port of worker 0\'s direct-path listener (worker i listens on direct_port + i), on bind_addr\'s host. 0: any free port (other nodes learn it from each fence).', { min: 0, max: 65535 }),
  profile: Enum(CLUSTER_PROFILES, 'Timing preset, as in memberlist/serf: lan (the default), local (loopback or one rack: faster failure detection), wan (slower, tolerant), fast (Caxton\'s: LAN with 500 ms probes, failure detection under 3 s for 5 nodes). It sets the defaults of the timing keys below; keys set explicitly win.'),
  gossip_interval: Duration('How often this node gossips to gossip_fanout random peers. Lower spreads news faster at more packets.', { min: 1 }),
  gossip_fanout: Int('Peers gossiped to per gossip_interval (memberlist GossipNodes).', { min: 1, max: 100 }),
  probe_interval: Duration('How often one random peer is probed (SWIM failure detection).', { min: 1 }),
  probe_timeout: Duration('How long to wait for a probe\'s ack before indirect probes; must be below probe_interval.', { min: 1 }),
  suspicion_mult: Int('Suspicion timeout multiplier: a suspect is declared dead after suspicion_mult × log10(N) × probe_interval at least.', { min: 1, max: 100 }),
  suspicion_max_timeout_mult: Int('Upper bound of the suspicion timeout, as a multiple of its minimum: how long a suspect has when no other node confirms the suspicion (memberlist SuspicionMaxTimeoutMult).', { min: 1, max: 100 }),
  retransmit_mult: Int('Each gossiped message (membership change, Serf intent, event, query) is sent retransmit_mult × ceil(log10(N + 1)) times. Higher spreads news more reliably at more bandwidth (memberlist RetransmitMult).', { min: 1, max: 100 }),
  indirect_checks: Int('Peers asked to probe a node for us when our direct probe got no ack; 0 = no indirect probes (memberlist IndirectChecks).', { min: 0, max: 100 }),
  awareness_max_multiplier: Int('Lifeguard: while this node looks unhealthy (missed acks, refuted suspicions) its probe interval and timeout stretch up to this many times (memberlist AwarenessMaxMultiplier).', { min: 1, max: 100 }),
  tcp_timeout: Duration('Timeout of a TCP stream to a peer: dialing, and a push/pull or TCP ping on it (memberlist TCPTimeout).', { min: 1, max: 3_600_000 }),
  push_pull_interval: Duration('How often the full membership state is exchanged with one random live node over TCP, scaled up beyond 32 nodes; repairs whatever gossip missed. 0 = never (memberlist PushPullInterval).', { min: 0 }),
  gossip_to_dead_time: Duration('How long a failed or left node still receives gossip (so it can learn it was declared dead and refute) and stays in `caxton cluster members` before it is dropped (memberlist GossipToTheDeadTime).', { min: 0 }),
  dead_node_reclaim_time: Duration('After a node has been dead this long, a node at another address may take its name; 0 = never: until the dead node is dropped, the name at a new address is a conflict (memberlist DeadNodeReclaimTime).', { min: 0 }),
  reconnect_interval: Duration('How often a join is tried with one random failed member, so a healed partition merges back without an operator. 0 = never (Serf ReconnectInterval).', { min: 0 }),
  reconnect_timeout: Duration('A failed member is retried (every reconnect_interval) for this long after it failed, then given up and forgotten (Serf ReconnectTimeout).', { min: 1000 }),
  tombstone_timeout: Duration('How long the Serf layer remembers a member that left gracefully (as left, in its member list and push/pull state) before forgetting it (Serf TombstoneTimeout).', { min: 1000 }),
});

const coordination = Section('Local state and the cluster.', {
  local_state: Section('The node\'s SQLite database.', {
    synchronous: Enum(['normal', 'full', 'off'] as const, 'SQLite synchronous mode (WAL): normal survives a process crash with nothing committed lost; full also survives power loss at about twice the commit latency; off may lose recent commits on a crash.'),
    busy_timeout: Duration('How long a writer waits for another connection\'s write lock.', { min: 0 }),
  }),
  replication: Section('Agents\' key-value state copied to the next node in rendezvous order (docs/cluster-routing.md, "Replication").', {
    mode: Enum(['sync', 'async'] as const, 'sync: a message that changed an agent\'s state is acknowledged, and what its handler sent leaves, only once the replica holds the change; async: nothing waits, and a kill of the owner loses the changes not yet acknowledged by the replica (the loss window).'),
    retransmit_interval: Duration('Deltas the replica has not acknowledged after this long are sent again (a lost frame, a reconnect). Lower recovers faster at more traffic while a replica is unreachable.', { min: 10, max: 60_000 }),
  }),
  partition: Section('Network partitions (docs/operations.md, "Network partition"): what a node does while it is cut off from part of its cluster.', {
    max_queue_size: Int('Messages held at most in the partition queue (for agents that may live on the other side), until the partition heals. Beyond it a message is refused and its sender answered (agent_unavailable).', { min: 1, max: 100_000_000 }),
    max_queue_bytes: Size('Bytes held at most in the partition queue (on disk, in the node\'s SQLite database).', { min: KiB, max: 64 * GiB }),
    resolve_strategy: Enum(['auto', 'manual'] as const, 'auto: a healed partition merges by itself (directories, duplicate agents settled by epoch, queued messages replayed); manual: the merge waits for `caxton cluster resolve-partition` (also set at run time by `caxton cluster detect-partition --resolve-strategy manual`).'),
  }),
  cluster,
});

const observability = Section('Logs, metrics and the audit log.', {
  logging: Section('The node\'s log.', {
    level: Enum(LOG_LEVELS, 'Least severe level written.'),
    format: Enum(['json', 'pretty'] as const, 'json: one JSON object per line (pino); pretty: human-readable, for a terminal.'),
    file: Section('Write the log to a file instead of stdout, rotated by size and reopened on SIGHUP (docs/operations.md, "Running as a service").', {
      path: Text('The log file, e.g. /var/log/caxton/caxton.log (its directory is created if missing). Empty = the log goes to stdout. Relative paths are relative to the working directory.', { allowEmpty: true }),
      max_file_size: Size('Rotate once the file reaches this size: it becomes path.1, path.1 becomes path.2, and so on.', { min: KiB, max: 64 * GiB }),
      max_backups: Int('Rotated files kept (path.1 to path.N); older ones are deleted. 0 keeps none.', { min: 0, max: 1000 }),
    }),
  }),
  metrics: Section('Prometheus metrics.', {
    enabled: Bool('Serve /metrics on server.metrics_addr.'),
  }),
  audit: Section('The audit log of management actions through the API (docs/security.md, "Audit log").', {
    enabled: Bool('Keep the audit log in the database (the last 100,000 entries), listed by `caxton audit list` and GET /api/v1/audit.'),
    path: Text('Also append each entry as one JSON line to this file (created 0600 if missing). Empty = no file. Relative paths are relative to the working directory.', { allowEmpty: true }),
  }),
});

const security = Section('API authentication and limits; cluster TLS.', {
  api: Section('The REST API.', {
    auth_enabled: Bool('Require an API key on every request (the first start writes an admin key into data_dir for the local CLI). Turn off only on a trusted loopback.'),
    rate_limit: Section('A token bucket per API key.', {
      enabled: Bool('Limit each key\'s request rate (429 with Retry-After beyond it).'),
      requests_per_second: Int('Sustained requests per second per key (the bucket\'s refill rate).', { min: 1, max: 1_000_000 }),
      burst: Int('Requests a key may send at once (the bucket\'s size).', { min: 1, max: 10_000_000 }),
    }),
    tls: Section('HTTPS for the REST API, TLS 1.3 only, optionally with client certificates (docs/security.md, "HTTPS for the API").', {
      enabled: Bool('Serve the API over HTTPS instead of plain HTTP. Needs cert and key; the node refuses to start when a file is missing, unreadable, expired or does not match.'),
      cert: Text('Path of the API\'s server certificate (PEM; a chain may follow it). Empty = not configured.', { allowEmpty: true }),
      key: Text('Path of the server certificate\'s private key (PEM, mode 0600: a key readable by group or others is refused). Empty = not configured.', { allowEmpty: true }),
      ca_cert: Text('Path of the CA certificate that client certificates must chain to (PEM). Empty = client certificates are not asked for.', { allowEmpty: true }),
      client_auth: Enum(['none', 'optional', 'required'] as const, 'none: no client certificate is asked for; optional: asked for, and a verified one authenticates the request when it carries no API key; required: a connection without a client certificate issued by ca_cert is refused during the handshake. optional and required need ca_cert.'),
    }),
  }),
  cluster: Section('Node-to-node security: gossip encryption now; mTLS accepted, used by a later milestone.', {
    gossip: Section('Gossip encryption (memberlist keyring: AES-GCM), compatible with serf -encrypt.', {
      keys: Type.Array(
        Text('A key in base64 (16, 24 or 32 bytes; `serf keygen` makes one).', {
          pattern: '^([A-Za-z0-9+/]{22}==|[A-Za-z0-9+/]{32}|[A-Za-z0-9+/]{43}=)$',
          expect: 'a base64 key of 16, 24 or 32 bytes (serf keygen)',
        }),
        { maxItems: 16, description: 'Gossip keys; the first encrypts, all decrypt (so a rotation loses no member). Empty: plaintext gossip.' },
      ),
    }),
    mtls: Section('Mutual TLS for the node-to-node link (routing, replication, module transfer); gossip keeps its keys. docs/security.md.', {
      enabled: Bool('Run the node-to-node link over TLS 1.3 with certificates from the cluster CA (both sides verified). The node refuses to start when a file below is missing, unreadable, expired, not for this node, of another CA, or a key that does not match. Off on a node in a cluster: the log says that node-to-node traffic is not encrypted. Every node of the cluster must have the same setting.'),
      ca_cert: Text('Path of the cluster CA certificate (PEM), `ca.crt` of `caxton security init-ca`. Required with enabled.', { allowEmpty: true }),
      node_cert: Text('Path of this node\'s certificate (PEM), from `caxton security gen-cert --node-id <node.id>`: its CN or a DNS SAN must be node.id. Required with enabled.', { allowEmpty: true }),
      node_key: Text('Path of this node\'s private key (PEM), mode 0600 (refused when group or others can read it). Required with enabled.', { allowEmpty: true }),
      verify_peer: Bool('Peers must present a certificate of ca_cert naming the node they are. Must stay true with enabled (false is refused at start: it would accept any certificate).'),
    }),
  }),
});

const deployment = Section('Upgrades.', {
  canary: Section('Default canary plan for `caxton agent upgrade --strategy canary`; per-upgrade flags override it.', {
    stages: Type.String({
      canaryStages: true,
      description: 'Comma-separated percent:duration stages (duration in ms, s, m or h); the new version takes that share of messages for that long. A final 100 stage is added if missing.',
      expect: 'canary stages such as "5:5m,25:10m,50:10m,100:0" (percentages strictly increasing within 1-100)',
    }),
    max_error_rate: Num('Roll back when the new version\'s error rate (non-zero results and crashes over messages) exceeds this, 0..1.', { min: 0, max: 1 }),
    max_p99: Duration('Roll back when the new version\'s P99 handling time exceeds this.', { min: 1 }),
    min_samples: Int('Messages the new version must handle before its error rate and P99 are judged.', { min: 1, max: 1_000_000_000 }),
  }),
});

const backup = Section('Backups (docs/operations.md, "Backups").', {
  s3: Section('S3 or an S3-compatible store, for destinations s3://bucket/prefix. Credentials come from the AWS SDK\'s default chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the ~/.aws files, instance roles.', {
    endpoint: Text('URL of an S3-compatible store (MinIO, Ceph, ...). Empty: AWS itself, or AWS_ENDPOINT_URL_S3 when set.', { allowEmpty: true }),
    region: Text('The bucket\'s region. Empty: AWS_REGION or the profile\'s region.', { allowEmpty: true }),
    force_path_style: Bool('Address buckets as <endpoint>/<bucket> rather than <bucket>.<endpoint>; most S3-compatible stores need it.'),
  }),
  ca_key: Text('Path of the CA private key that `caxton backup create --include-ca-key` stores. Empty: ca.key beside security.cluster.mtls.ca_cert.', { allowEmpty: true }),
});

/**
 * An MCP server name: it becomes the receiver `mcp:<name>` (an agent name), a metric label and a CLI
 * argument, so it keeps to a short, plain form.
 */
export const MCP_SERVER_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$';
/** An environment variable or HTTP header name. */
const ENV_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';
const HEADER_NAME_PATTERN = "^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$";

/** A mapping of names to text values: env of a stdio server, headers of an HTTP one. */
function TextMap(description: string, namePattern: string, nameExpect: string) {
  return Type.Unsafe<Record<string, string>>({
    type: 'object',
    description,
    additionalProperties: { type: 'string', maxLength: 65_536, expect: 'a string' },
    propertyNames: { pattern: namePattern },
    maxProperties: 256,
    expect: `a mapping of ${nameExpect} to strings`,
  });
}

/**
 * One MCP server (docs/tools.md). Only `name` and `transport` are required; every other key has the
 * default in ./defaults.ts MCP_SERVER_DEFAULTS (a list item cannot be merged over defaults as a
 * section is, so they are applied when the config is resolved).
 */
const mcpServer = Type.Object(
  {
    name: Text('The server\'s name: agents address it as `mcp:<name>`. 1-63 characters from A-Z a-z 0-9 _ . - (first a letter or digit); unique in the list.', {
      pattern: MCP_SERVER_NAME_PATTERN,
      expect: '1 to 63 characters from A-Z a-z 0-9 _ . -, starting with a letter or digit',
    }),
    transport: Enum(['stdio', 'http'] as const, 'stdio: the node starts `command` as a child process, talks MCP over its stdin and stdout, and restarts it with back-off when it exits; http: the node connects to `url` (MCP Streamable HTTP) and reconnects with back-off.'),
    command: Type.Optional(Text('stdio: the program to run (a path, or a name looked up in PATH). Not run through a shell. Required for stdio.', { allowEmpty: true })),
    args: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 256, description: 'stdio: the program\'s arguments.', expect: 'a list of strings' })),
    env: Type.Optional(TextMap('stdio: environment variables for the program, besides HOME, LOGNAME, PATH, SHELL, TERM and USER, which it inherits (nothing else of the node\'s environment is passed). Put secrets here as ${VAR}: every value is shown as *** by `caxton config show` and never logged.', ENV_NAME_PATTERN, 'variable names')),
    url: Type.Optional(Text('http: the server\'s MCP endpoint, an http:// or https:// URL. Required for http.', { allowEmpty: true })),
    headers: Type.Optional(TextMap('http: HTTP headers sent with every request (e.g. Authorization: "Bearer ${TOKEN}"). Every value is shown as *** by `caxton config show` and never logged.', HEADER_NAME_PATTERN, 'header names')),
    allow: Type.Optional(
      Type.Array(Text('An agent name pattern (`*` any run of characters, `?` one character) or `capability:<name>`.', { pattern: '^[A-Za-z0-9_*?][A-Za-z0-9_.:@/*?-]{0,254}$', expect: 'an agent name pattern (A-Z a-z 0-9 _ . : @ / - and the wildcards * ?) or capability:<name>' }), {
        maxItems: 1000,
        description: 'Who may use the server: agents whose name matches a pattern, or that registered a capability named `capability:<name>`. A capability is whatever an agent registers itself at run time (capability_register), so any agent of the node can claim one: a `capability:` entry only groups cooperating agents, it is no security boundary; restrict by name for that. Empty: no agent (operators can still call it with `caxton tools call`).',
        expect: 'a list of agent name patterns or capability:<name> entries',
      }),
    ),
    timeout: Type.Optional(Duration('Longest a tool call may take; a message\'s reply_by shortens it. Past it the call is cancelled (notifications/cancelled) and the agent gets a failure with CAXTON_ERR_TOOL_TIMEOUT.', { min: 1, max: 3_600_000 })),
    max_concurrent: Type.Optional(Int('Calls in flight on this server at once, all agents together; one more gets a failure with CAXTON_ERR_TOOL_BUSY.', { min: 1, max: 10_000 })),
    max_concurrent_per_agent: Type.Optional(Int('Calls one agent may have in flight on this server at once; one more gets a failure with CAXTON_ERR_TOOL_BUSY.', { min: 1, max: 10_000 })),
    rate_limit: Type.Optional(
      Type.Object(
        {
          calls_per_second: Type.Optional(Num('Calls per second on this server, all agents together (a token bucket\'s refill rate); 0 = no limit. Beyond it: CAXTON_ERR_TOOL_RATE_LIMITED.', { min: 0, max: 1_000_000 })),
          burst: Type.Optional(Int('Calls the server takes at once before calls_per_second applies (the bucket\'s size).', { min: 1, max: 10_000_000 })),
          agent_calls_per_second: Type.Optional(Num('Calls per second one agent may make on this server; 0 = no limit.', { min: 0, max: 1_000_000 })),
          agent_burst: Type.Optional(Int('Calls one agent may make at once before agent_calls_per_second applies.', { min: 1, max: 10_000_000 })),
        },
        { additionalProperties: false, description: 'Token buckets per server and per agent.', expect: 'a mapping of keys' },
      ),
    ),
    audit_arguments: Type.Optional(Bool('Keep the arguments of each call in its audit entry (up to 300 characters). Off: only their size is kept.')),
  },
  { additionalProperties: false, description: 'One MCP server.', expect: 'a mapping with name, transport and the server\'s keys' },
);

const integrations = Section('The outside world, for agents (docs/tools.md).', {
  mcp: Section('Tools as MCP servers, reached by agents through the receivers `mcp:<name>`.', {
    servers: Type.Array(mcpServer, {
      maxItems: 64,
      description: 'The MCP servers of this node. Only this file declares them: no API call can add one, so an API key cannot make the node run a command.',
      expect: 'a list of MCP servers, each a mapping with name and transport',
    }),
  }),
});

export const CaxtonConfigSchema = Type.Object(
  { node, server, runtime, messaging, coordination, observability, security, deployment, backup, integrations },
  { additionalProperties: false, $id: 'CaxtonConfig', description: 'A Caxton node\'s configuration (docs/configuration.md).', expect: 'a mapping of sections (node, server, runtime, ...)' },
);

/** A whole, validated configuration as written (sizes and durations unconverted). */
export type CaxtonConfig = Static<typeof CaxtonConfigSchema>;
