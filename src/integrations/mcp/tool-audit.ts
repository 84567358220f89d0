/**
 * Tool calls in the audit log (src/security/audit.ts): one entry per call, action `tool.call`, target
 * `<server>/<tool>`, with who called (the agent as the host knows it, or the operator's key), the
 * sizes, the duration and the outcome. The arguments only when the server's audit_arguments is on
 * (cut at 300 characters, the server's secrets masked); the result never.
 */
import type { CaxtonError } from '../../errors.js';
import type { AuditLog, AuditValue } from '../../security/audit.js';
import type { ToolOutcome } from './metrics.js';

/** Who made a call: an agent of the node, or an operator through the API (its key). */
export interface ToolCaller {
  readonly name: string;
  readonly kind: 'agent' | 'key' | 'cert' | 'anonymous';
  readonly id?: string;
}

export interface ToolCallRecord {
  readonly caller: ToolCaller;
  readonly server: string;
  readonly tool: string;
  readonly outcome: ToolOutcome;
  readonly argumentBytes: number;
  readonly resultBytes: number;
  readonly durationMs: number;
  readonly error?: CaxtonError;
  readonly arguments?: string;
}

export interface ToolAudit {
  record(r: ToolCallRecord): void;
}

const MAX_ARGUMENTS_CHARS = 300;

export function toolAudit(log: AuditLog, node: string): ToolAudit {
  return {
    record(r) {
      const detail: Record<string, AuditValue> = { server: r.server, tool: r.tool, outcome: r.outcome, argument_bytes: r.argumentBytes, result_bytes: r.resultBytes, duration_ms: r.durationMs };
      if (r.arguments !== undefined) detail['arguments'] = r.arguments.length > MAX_ARGUMENTS_CHARS ? `${r.arguments.slice(0, MAX_ARGUMENTS_CHARS)}…` : r.arguments;
      log.record({
        time: Date.now(),
        actor: r.caller.name,
        actorId: r.caller.id ?? null,
        actorKind: r.caller.kind,
        action: 'tool.call',
        target: `${r.server}/${r.tool}`,
        result: r.outcome === 'ok' ? 'ok' : 'error',
        status: r.error?.status ?? 200,
        errorCode: r.error?.code ?? null,
        detail,
        node,
      });
    },
  };
}
