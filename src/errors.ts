/**
 * The error catalogue. Every error Caxton reports to a user is one of these codes, with an HTTP
 * status, a message that says what was wrong and a hint that says how to fix it. docs/errors.md has a
 * row for every code (test/unit/errors.test.ts checks it). Never reuse a retired code.
 */

export interface ErrorSpec {
  readonly status: number;
  readonly hint: string;
}

export const ErrorCatalogue = {
  // Module admission (src/sandbox/wasm)
  CAXTON_ERR_MODULE_TOO_LARGE: {
    status: 413,
    hint: 'Strip debug sections (wasm-opt --strip-debug, asc without --debug) or raise sandbox.max_module_bytes.',
  },
  CAXTON_ERR_MODULE_MALFORMED: {
    status: 400,
    hint: 'The bytes are not a valid WebAssembly binary. Rebuild the module and upload the .wasm file itself, not a text or base64 form of it.',
  },
  CAXTON_ERR_MODULE_FEATURE: {
    status: 422,
    hint: 'Rebuild without that WebAssembly feature (for clang: -mno-<feature>; for AssemblyScript: --disable <feature>) or ask the operator to allow it in sandbox.features.',
  },
  CAXTON_ERR_MODULE_IMPORT: {
    status: 422,
    hint: 'Agents may import only the functions of module "caxton" listed in docs/agent-abi.md, with those signatures.',
  },
  CAXTON_ERR_MODULE_EXPORT: {
    status: 422,
    hint: 'Export memory, caxton_abi_version, caxton_alloc and handle_message with the signatures in docs/agent-abi.md.',
  },
  CAXTON_ERR_MODULE_LIMIT: {
    status: 422,
    hint: 'Lower the module\'s declared memory or table minimum, or its function/import/export counts, below the node\'s sandbox limits.',
  },
  CAXTON_ERR_MODULE_INVALID: {
    status: 422,
    hint: 'The module breaks a WebAssembly validation rule (for example an index out of range). Rebuild it with a conforming toolchain.',
  },
  CAXTON_ERR_MODULE_HASH_MISMATCH: {
    status: 502,
    hint: 'A peer sent module bytes whose sha256 is not the one asked for: its copy is corrupt or it is not a trustworthy member. The bytes were refused; check that node\'s disk and logs, or deploy the module again.',
  },
  // Running agents (src/sandbox)
  CAXTON_ERR_AGENT_START_FAILED: {
    status: 422,
    hint: 'The start function or agent_init trapped, ran out of fuel or returned non-zero. Check the agent\'s logs.',
  },
  CAXTON_ERR_AGENT_NOT_FOUND: {
    status: 404,
    hint: 'Check the agent name or id with `caxton agent list`.',
  },
  CAXTON_ERR_AGENT_NAME: {
    status: 400,
    hint: 'Agent names are 1 to 255 characters from A-Z a-z 0-9 _ . : @ -, starting with a letter, a digit or _; "caxton" is reserved.',
  },
  CAXTON_ERR_AGENT_EXISTS: {
    status: 409,
    hint: 'Agent names are unique on a node. Pick another name, or remove or upgrade the existing agent.',
  },
  CAXTON_ERR_AGENT_STATE: {
    status: 409,
    hint: 'The operation does not apply in the agent\'s current state (see `caxton agent inspect`); for example resume only a suspended agent, restart a stopped or failed one.',
  },
  CAXTON_ERR_UPGRADE_ROLLED_BACK: {
    status: 409,
    hint: 'The new version was rolled back and the previous one keeps running. Read the reason and the agent\'s logs, fix the new version, or loosen the canary limits if they were too strict.',
  },
  CAXTON_ERR_UPGRADE_PLAN: {
    status: 400,
    hint: 'Canary stages are percentages from 1 to 100, strictly increasing, each with a duration of 0 or more ms; limits are an error rate from 0 to 1, a P99 in ms above 0 and a sample count of 1 or more.',
  },
  CAXTON_ERR_AGENT_LIMIT: {
    status: 429,
    hint: 'Remove agents you no longer need, raise runtime.max_agents, or deploy on another node.',
  },
  CAXTON_ERR_NODE_CAPACITY: {
    status: 503,
    hint: 'The node cannot hold another agent; the message names the limit. Remove agents you no longer need or deploy on another node. Address space: run Node with --disable-wasm-trap-handler (caxton server start and npm start do). Memory: raise the process\'s ulimit -v or container memory.',
  },
  CAXTON_ERR_POOL_CLOSED: {
    status: 503,
    hint: 'The node is shutting down. Retry against a running node.',
  },
  // Messages (src/messaging)
  CAXTON_ERR_MESSAGE_MALFORMED: {
    status: 400,
    hint: 'The message is not valid JSON. Send one UTF-8 JSON object; the message quotes the parser\'s error (with its position when the parser gives one).',
  },
  CAXTON_ERR_MESSAGE_INVALID: {
    status: 400,
    hint: 'Fix the field named in the message; docs/messages.md lists every field with its type and limits.',
  },
  CAXTON_ERR_MESSAGE_TOO_LARGE: {
    status: 413,
    hint: 'Keep the whole message under messaging.max_message_size: send large data by reference (a key or URL) or split it, or raise the limit.',
  },
  CAXTON_ERR_MESSAGE_SPOOFED: {
    status: 403,
    hint: 'A message may only be sent in the name of its actual sender. Leave sender out (the host fills it in) or set it to your own name.',
  },
  CAXTON_ERR_MESSAGE_TIMEOUT: {
    status: 504,
    hint: 'No reply came within the timeout. Check that the receiver answers this performative (its logs), or raise --timeout.',
  },
  CAXTON_ERR_MESSAGE_UNDELIVERABLE: {
    status: 404,
    hint: 'No agent with that name or capability takes messages on this node. Check `caxton agent list` and the agent\'s state.',
  },
  CAXTON_ERR_CONVERSATION_NOT_FOUND: {
    status: 404,
    hint: 'Conversations idle for 5 minutes are forgotten. List the known ones with GET /api/v1/conversations.',
  },
  // Cluster (src/cluster)
  CAXTON_ERR_CLUSTER_DISABLED: {
    status: 409,
    hint: 'This node runs alone. Start it with --bootstrap (the first node) or --join host:port (the others), or set coordination.cluster.enabled.',
  },
  CAXTON_ERR_CLUSTER_READ_ONLY: {
    status: 503,
    hint: 'This node is on the minority side of a network partition (or alone): management writes wait until it sees a quorum again. Run them on a node of the majority side (`caxton cluster detect-partition` names the sides), or repair the network and retry.',
  },
  CAXTON_ERR_CLUSTER_NOT_PARTITIONED: {
    status: 409,
    hint: 'There is nothing to resolve: no partition was detected and no merge is held. `caxton cluster detect-partition` shows the current view.',
  },
  CAXTON_ERR_RESTART_UNAVAILABLE: {
    status: 409,
    hint: 'A node restarts itself only under `caxton server start`, one restart at a time: wait for the running restart (`caxton cluster members`), or restart the process with your supervisor.',
  },
  CAXTON_ERR_CLUSTER_UPGRADE_UNAVAILABLE: {
    status: 409,
    hint: 'A node changes release only under the supervisor: start every node with `caxton server start --releases DIR` (or server.releases_dir), as the systemd unit in docs/operations.md ("Upgrading Caxton") does.',
  },
  CAXTON_ERR_CLUSTER_UPGRADE_RELEASE_MISSING: {
    status: 409,
    hint: 'Install the release on every node named, as <releases>/<version>/ (a complete install: package.json, bin/, dist/, node_modules/), then start the upgrade again.',
  },
  CAXTON_ERR_CLUSTER_UPGRADE_IN_PROGRESS: {
    status: 409,
    hint: 'One upgrade or rollback runs at a time: follow it with `caxton cluster upgrade status`, or stop it with `caxton cluster upgrade rollback`.',
  },
  CAXTON_ERR_CLUSTER_UPGRADE_NONE: {
    status: 409,
    hint: 'No node runs another version than before the last upgrade: there is nothing to roll back. `caxton cluster upgrade status` shows the last upgrade.',
  },
  CAXTON_ERR_STOP_UNAVAILABLE: {
    status: 409,
    hint: 'A node stops with its cluster only under `caxton server start`, once: a node already stopping parks moments later (`caxton cluster start` starts it again).',
  },
  CAXTON_ERR_NODE_PARKED: {
    status: 503,
    hint: 'The node was stopped with `caxton cluster stop --all` and its process waits, parked: `caxton cluster start` starts it again (GET /health says since when and why).',
  },
  CAXTON_ERR_NODE_NOT_PARKED: {
    status: 409,
    hint: 'A node restores a backup into its data dir only while it is stopped with its cluster (parked), never under a running node: `caxton cluster stop --all` first, then `caxton cluster restore --id ID`.',
  },
  CAXTON_ERR_STOP_RECORD_NOT_FOUND: {
    status: 404,
    hint: 'This node was not stopped with `caxton cluster stop --all` (or every member recorded then is back already): there is nothing to start or verify.',
  },
  CAXTON_ERR_CLUSTER_UNKNOWN_NODE: {
    status: 404,
    hint: 'Check the node name with `caxton cluster members`.',
  },
  CAXTON_ERR_CLUSTER_NODE_NOT_FAILED: {
    status: 409,
    hint: 'Only a failed (or already left) node can be removed: an alive node would refute it. Stop the node first, or run `caxton cluster leave` on it.',
  },
  CAXTON_ERR_CLUSTER_ENCRYPTION_OFF: {
    status: 409,
    hint: 'Gossip encryption is off on this node: set security.cluster.gossip.keys (base64, e.g. from `openssl rand -base64 32`) on every node and restart them one by one.',
  },
  CAXTON_ERR_CLUSTER_KEY_INVALID: {
    status: 400,
    hint: 'A gossip key is the base64 of 16, 24 or 32 random bytes, e.g. `openssl rand -base64 32`.',
  },
  CAXTON_ERR_CLUSTER_KEY_OPERATION_FAILED: {
    status: 502,
    hint: 'Not every member applied the change (details.messages has each node\'s reason; missing nodes did not answer in time). Fix them, then run the same step again: each step is safe to repeat.',
  },
  CAXTON_ERR_CLUSTER_JOIN_FAILED: {
    status: 502,
    hint: 'No address answered: check that the nodes run, that their gossip port (7946) is reachable over UDP and TCP, and that the gossip keys match.',
  },
  CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE: {
    status: 503,
    hint: 'The node is not an alive member, its link is down or its circuit is open. Check `caxton cluster members`; the request can be retried once the node is back or its agents have moved.',
  },
  CAXTON_ERR_CLUSTER_TIMEOUT: {
    status: 504,
    hint: 'The node did not answer in time: it may be overloaded or partitioned. Check `caxton cluster members` and `caxton cluster performance`, then retry.',
  },
  CAXTON_ERR_CLUSTER_FRAME: {
    status: 502,
    hint: 'A peer sent a frame or body this node cannot accept: too large (over the link frame limit, 16 MiB by default), truncated, not a Caxton link frame, or a field of the wrong type (the message names it). It is refused and logged; send smaller bodies (large blobs go in parts), or check that every node runs the same Caxton version. The logs of both nodes name the reason.',
  },
  CAXTON_ERR_CLUSTER_NO_PLACEMENT: {
    status: 409,
    hint: 'The change would leave no node to place agents on (every other node is isolated or down). Rejoin another node first with `caxton cluster rejoin --node <name>`, or add one.',
  },
  // REST API (src/api)
  CAXTON_ERR_API_UNAUTHORIZED: {
    status: 401,
    hint: 'Send a valid API key in "Authorization: Bearer <key>". The first start wrote an admin key to <data_dir>/admin.key; the CLI reads it from there, or from --api-key / CAXTON_API_KEY.',
  },
  CAXTON_ERR_API_FORBIDDEN: {
    status: 403,
    hint: 'The key\'s role does not include this permission (docs/api.md lists them). Use a key with a stronger role, or ask an admin to create one with `caxton key create`.',
  },
  CAXTON_ERR_CERT_REVOKED: {
    status: 403,
    hint: 'The client certificate is on the cluster\'s revocation list (`caxton security revoked`). Use another certificate (`caxton security gen-client-cert`), or an API key without a client certificate.',
  },
  CAXTON_ERR_API_RATE_LIMITED: {
    status: 429,
    hint: 'Too many requests with this key. Wait for Retry-After seconds, slow down, or raise security.api.rate_limit.',
  },
  CAXTON_ERR_API_INVALID_REQUEST: {
    status: 400,
    hint: 'Fix the field named in the message; docs/api.md lists every route with its body and query parameters.',
  },
  CAXTON_ERR_API_FORBIDDEN_KEY: {
    status: 400,
    hint: 'Rename the key: __proto__, and constructor holding a prototype key, are refused in every JSON body, because copying such an object changes the prototype of the object it is copied into (prototype poisoning).',
  },
  CAXTON_ERR_API_NOT_FOUND: {
    status: 404,
    hint: 'No such route. Every route is under /api/v1; the list is at /api/v1/openapi.json and in docs/api.md.',
  },
  CAXTON_ERR_API_BODY_TOO_LARGE: {
    status: 413,
    hint: 'The request body is over server.body_limit. Send a smaller module, or raise the limit in the configuration.',
  },
  CAXTON_ERR_API_HEADERS_TOO_LARGE: {
    status: 431,
    hint: 'The request line and headers together must fit in the server\'s header limit (Node\'s 16 KiB). Send fewer or shorter headers (a long cookie or URL is the usual cause).',
  },
  CAXTON_ERR_API_REQUEST_TIMEOUT: {
    status: 408,
    hint: 'The whole request (headers and body) must arrive within server.request_timeout. Check the network or the client, or raise the timeout for very large uploads.',
  },
  CAXTON_ERR_API_EXPECTATION_FAILED: {
    status: 417,
    hint: 'Leave out the Expect header, or send "Expect: 100-continue", the only expectation the server supports.',
  },
  CAXTON_ERR_API_UNSUPPORTED_MEDIA: {
    status: 415,
    hint: 'Send application/json, or multipart/form-data where the route accepts a module file.',
  },
  // Audit log (src/security/audit.ts)
  CAXTON_ERR_AUDIT_DISABLED: {
    status: 409,
    hint: 'This node keeps no audit log in its database (observability.audit.enabled is false). Turn it on and restart, or read the file at observability.audit.path if one is set.',
  },
  CAXTON_ERR_LOAD_SHED: {
    status: 503,
    hint: 'The node is shedding a share of new messages on the operator\'s order (the message says how much). Retry after Retry-After seconds; an operator stops it with `caxton cluster shed-load --percentage 0`.',
  },
  CAXTON_ERR_SERVER_NOT_READY: {
    status: 503,
    hint: 'The node is starting or stopping. Retry in a moment; /api/v1/ready says when it takes requests.',
  },
  CAXTON_ERR_SERVER_INTERNAL: {
    status: 500,
    hint: 'A bug in Caxton. The node logged the details with this request\'s id; please report it with that log line.',
  },
  // Configuration (src/config)
  CAXTON_ERR_ADDRESS_INVALID: {
    status: 400,
    hint: 'Give host:port, where host is a name the node can resolve or an IP address (IPv6 in brackets), e.g. node-1.example.com:7946, 10.0.0.5:7946 or [::1]:7946. Check a name with `getent hosts <name>` on the node.',
  },
  CAXTON_ERR_DNS_UNAVAILABLE: {
    status: 503,
    hint: 'The system resolver did not answer in time (EAI_AGAIN, or no answer within 5 s): a temporary failure of the DNS server or the network. Retry; check /etc/resolv.conf and `getent hosts <name>` on the node, or give an IP address instead of the name.',
  },
  CAXTON_ERR_CONFIG_INVALID: {
    status: 400,
    hint: 'Fix each key named in the message at the file:line:col (or --set argument) it gives; docs/configuration.md lists every key with its type, unit and default.',
  },
  // Storage (src/storage)
  // Certificates and TLS material (src/security)
  CAXTON_ERR_PKI_INPUT: {
    status: 400,
    hint: 'Node ids follow node.id (A-Z a-z 0-9 _ . -), client names follow API key names, roles are viewer, developer, operator or admin, and --days is a whole number from 1 to 36500.',
  },
  CAXTON_ERR_TLS_FILE: {
    status: 500,
    hint: 'Check the path in the message: the file must exist and be readable by the node, a private key must be mode 0600 (chmod 600 FILE), and an existing file is replaced only with --force.',
  },
  CAXTON_ERR_TLS_CERT: {
    status: 500,
    hint: 'The file named in the message holds a certificate or key that cannot be used: issue a new one with `caxton security gen-cert --node-id <this node> --ca <ca dir>` from the cluster CA, and point security.cluster.mtls at the matching .crt and .key.',
  },
  CAXTON_ERR_TLS_CERT_REFUSED: {
    status: 400,
    hint: 'Issue the node a certificate from the CA its security.cluster.mtls.ca_cert holds, for its node.id, valid now, and send the key written with it (`caxton security rotate-certs --ca <ca dir>` does all of this).',
  },
  CAXTON_ERR_TLS_NOT_ENABLED: {
    status: 409,
    hint: 'Only a node with security.cluster.mtls.enabled has a node certificate to replace; turn mTLS on in its configuration and restart it.',
  },
  // Tools through MCP (src/integrations/mcp, docs/tools.md): the `error` of a tool call's failure, and the API's answers
  CAXTON_ERR_TOOL_FORBIDDEN: {
    status: 403,
    hint: 'The caller is not in the server\'s allow list (integrations.mcp.servers[].allow: agent name patterns or capability:<name>). Ask the operator to add it; only agents of the node (not API clients) call tools by message.',
  },
  CAXTON_ERR_TOOL_NOT_FOUND: {
    status: 404,
    hint: 'Check the server and tool names with `caxton tools list` (or a query-ref {"list":"tools"} to mcp:<server>).',
  },
  CAXTON_ERR_TOOL_REQUEST_INVALID: {
    status: 400,
    hint: 'Send a request with content {"tool": "<name>", "arguments": {...}}, or a query-ref with content {"list": "tools"}, to mcp:<server> (docs/tools.md).',
  },
  CAXTON_ERR_TOOL_BUSY: {
    status: 429,
    hint: 'Too many calls in flight on this server (max_concurrent) or from this agent (max_concurrent_per_agent): wait for an answer before the next call, or raise the limit in the server\'s configuration.',
  },
  CAXTON_ERR_TOOL_RATE_LIMITED: {
    status: 429,
    hint: 'The server\'s or the agent\'s call rate (rate_limit) is used up: call less often, retry later (details.retry_in_ms), or raise the limit in the server\'s configuration.',
  },
  CAXTON_ERR_TOOL_TIMEOUT: {
    status: 504,
    hint: 'The tool did not answer within the server\'s timeout or the message\'s reply_by; the call was cancelled. Give it more time (reply_by, timeout) or check the server.',
  },
  CAXTON_ERR_TOOL_ERROR: {
    status: 502,
    hint: 'The tool ran and reported an error (its result had isError, or the server refused the call, e.g. invalid arguments): read the reason and the content, and check the arguments against the tool\'s input schema.',
  },
  CAXTON_ERR_TOOL_SERVER_UNAVAILABLE: {
    status: 503,
    hint: 'The MCP server is down and the node restarts or reconnects it with back-off: retry after details.retry_in_ms; `caxton tools list` shows its state and last error, the node\'s log why it closed.',
  },
  CAXTON_ERR_TOOL_SERVER_FAILED: {
    status: 502,
    hint: 'The MCP server went away during the call (it exited, crashed, flooded the node or answered garbage) or could not be reached; the node restarts or reconnects it. The node\'s log says why; retry once it is ready.',
  },
  CAXTON_ERR_TOOL_RESULT_TOO_LARGE: {
    status: 502,
    hint: 'The tool\'s answer does not fit in one message (messaging.max_message_size): ask the tool for less (a page, a summary, a reference) or raise the limit.',
  },
  CAXTON_ERR_STORAGE_UNAVAILABLE: {
    status: 500,
    hint: 'Check that the data directory is writable and the disk is not full.',
  },
  CAXTON_ERR_DATA_DIR_LOCKED: {
    status: 409,
    hint: 'Another running node uses this data dir (the message names its pid). Stop that node first, or give this one its own --data-dir. A lock left by a killed node is taken over by itself.',
  },
  // Backups (src/storage/backup)
  CAXTON_ERR_BACKUP_NOT_FOUND: {
    status: 404,
    hint: 'Check the id with `caxton backup list` (the node\'s catalog), or name where the backup is with --from PATH|s3://bucket/prefix.',
  },
  CAXTON_ERR_BACKUP_CORRUPT: {
    status: 422,
    hint: 'The backup is damaged: the file named does not match its size or sha256 in manifest.json (a truncated upload, a flipped byte, an edited manifest). Nothing was restored. Use another backup (`caxton backup list`) and take a new one.',
  },
  CAXTON_ERR_BACKUP_CHAIN: {
    status: 422,
    hint: 'An incremental backup needs every backup it was built on, back to a full one; the message names the one missing. Restore an older complete chain, or a full backup.',
  },
  CAXTON_ERR_BACKUP_NO_PARENT: {
    status: 409,
    hint: 'An incremental backup holds what changed since this node\'s last backup, and there is none (or it is unreadable). Take a full backup first: `caxton backup create --type full --destination ...`.',
  },
  CAXTON_ERR_BACKUP_BUSY: {
    status: 409,
    hint: 'One backup at a time per node: wait for the running one (the message names it) to finish.',
  },
  CAXTON_ERR_BACKUP_DESTINATION: {
    status: 400,
    hint: 'Give a directory (created if missing) or s3://bucket/prefix. For S3: credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or ~/.aws, the region from AWS_REGION or backup.s3.region, an S3-compatible store\'s URL in backup.s3.endpoint or AWS_ENDPOINT_URL_S3. The message quotes the store\'s error.',
  },
  CAXTON_ERR_BACKUP_SOURCE_FILE: {
    status: 422,
    hint: 'A file the backup must hold cannot be read (the message names it and its config key): fix the path in the config, or for --include-ca-key set backup.ca_key (default: ca.key beside security.cluster.mtls.ca_cert).',
  },
  CAXTON_ERR_BACKUP_TARGET_LIVE: {
    status: 409,
    hint: 'A running node holds this data dir (the message names its pid and API). Stop it first (`caxton cluster stop --all`, or SIGTERM), or restore elsewhere; --force overwrites it anyway, under the running node.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ErrorCatalogue;

/** True when `code` is one of the catalogue's codes (e.g. one a peer sent back). */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ErrorCatalogue, code);
}

export class CaxtonError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly hint: string;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CaxtonError';
    this.code = code;
    this.status = ErrorCatalogue[code].status;
    this.hint = ErrorCatalogue[code].hint;
    this.details = details;
  }

  /** The shape the API returns and the CLI prints. */
  toJSON(): { code: ErrorCode; message: string; hint: string; details?: Readonly<Record<string, unknown>> } {
    return this.details === undefined
      ? { code: this.code, message: this.message, hint: this.hint }
      : { code: this.code, message: this.message, hint: this.hint, details: this.details };
  }
}

export function isCaxtonError(e: unknown, code?: ErrorCode): e is CaxtonError {
  return e instanceof CaxtonError && (code === undefined || e.code === code);
}
