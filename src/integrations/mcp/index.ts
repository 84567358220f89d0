/** Tools for agents through MCP (docs/tools.md): the bridge, its servers, limits, audit and metrics. */
export { McpBridge, MCP_PREFIX } from './bridge.js';
export type { BridgeRouting, McpBridgeOptions, ServerView } from './bridge.js';
export type { McpServerOptions } from './options.js';
export type { ServerState, ServerStatus } from './connection.js';
export type { ToolCaller } from './tool-audit.js';
import type { Registry } from 'prom-client';
import type { AgentPool } from '../../sandbox/index.js';
import type { PriorityLevel } from '../../sandbox/worker/mailbox.js';
import type { AuditLog } from '../../security/audit.js';
import type { Logger } from '../../observability/logger.js';
import { McpBridge } from './bridge.js';
import { ToolMetrics } from './metrics.js';
import type { McpServerOptions } from './options.js';
import { toolAudit } from './tool-audit.js';

const NORMAL = 1 as PriorityLevel;

export interface StartToolsOptions {
  readonly servers: readonly McpServerOptions[];
  readonly pool: AgentPool;
  readonly logger: Logger;
  readonly nodeId: string;
  readonly maxMessageBytes: number;
  readonly registry: Registry;
  readonly audit: AuditLog | undefined;
  /** Acknowledges an at-least-once message in the outbox. */
  readonly ack: (messageId: string) => void;
  /** The node's message journal (the traces of conversations). */
  readonly journal: (json: string, detail: string) => void;
}

/**
 * The node's MCP bridge, wired: the receivers mcp:<server> in the pool's router, the tool metrics on
 * the node's registry, tool calls in the audit log, and every server started. Undefined when the
 * config lists no server (then nothing is registered and nothing runs).
 */
export function startTools(o: StartToolsOptions): { bridge: McpBridge; close: () => Promise<void> } | undefined {
  if (o.servers.length === 0) return undefined;
  const { pool } = o;
  let bridge: McpBridge | undefined;
  const metrics = new ToolMetrics(o.registry, () => bridge?.readings() ?? []);
  bridge = new McpBridge({
    servers: o.servers,
    routing: {
      send: (from, to, json) => pool.router.send(from, to, json, NORMAL),
      isLocalAgent: (name) => pool.agent(name) !== undefined,
      capabilitiesOf: (name) => pool.offersOf(name).capabilities,
      ack: o.ack,
      journal: o.journal,
    },
    logger: o.logger,
    maxMessageBytes: o.maxMessageBytes,
    metrics,
    ...(o.audit === undefined ? {} : { audit: toolAudit(o.audit, o.nodeId) }),
  });
  const remove = pool.addEndpoint(bridge.endpoint);
  bridge.start();
  const b = bridge;
  return {
    bridge: b,
    close: async () => {
      remove();
      await b.stop();
    },
  };
}
