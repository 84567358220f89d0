/**
 * Writes an audit entry (src/security/audit.ts) for every answered request to a route whose config
 * names an audit action: who asked, what, on what, and how it ended, refusals (401, 403, 409 read-only)
 * included.
 */
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiKeyStore } from '../storage/index.js';
import { auditFields, type ActorKind, type AuditLog } from '../security/audit.js';
import { presentedKey } from './auth.js';
import { toCaxtonError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Facts a handler learns while it runs that the audit entry needs (the id of a key it created, the
     * hash of a module it deployed). Only the fields the action allow-lists are kept.
     */
    auditFacts?: Record<string, unknown>;
    /** The code of the error the request was answered with (set by the onError hook below). */
    auditErrorCode?: string;
  }
}

export function installAuditHook(app: FastifyInstance, audit: AuditLog, nodeId: string, keys: ApiKeyStore): void {
  app.addHook('onError', (req, _reply, error, done) => {
    if (req.routeOptions.config.audit !== undefined) req.auditErrorCode = toCaxtonError(error).code;
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    const action = req.routeOptions.config.audit;
    if (action === undefined) return done();
    const ok = reply.statusCode < 400;
    const { target, detail } = auditFields(action, [req.params, req.auditFacts, req.body, req.query]);
    audit.record({
      time: Date.now(),
      ...actorOf(req, keys),
      action,
      target,
      result: ok ? 'ok' : 'error',
      status: reply.statusCode,
      errorCode: ok ? null : (req.auditErrorCode ?? null),
      detail,
      node: nodeId,
    });
    done();
  });
}

/**
 * Who made the request: its API key; else the key it presented, when the role check refused it (a 403
 * names a known key: worth recording); else its client certificate's CN; else anonymous. The presented
 * text of an unknown key is never recorded: it may be a real key mistyped.
 */
export function actorOf(req: FastifyRequest, keys: ApiKeyStore): { actor: string; actorId: string | null; actorKind: ActorKind } {
  let key = req.apiKey;
  if (key === undefined && req.auditErrorCode === 'CAXTON_ERR_API_FORBIDDEN') {
    const presented = presentedKey(req.headers);
    key = presented !== undefined && presented.length <= 256 ? keys.find(presented) : undefined;
  }
  if (key !== undefined) return { actor: key.name, actorId: key.id, actorKind: 'key' };
  const cn = clientCertName(req);
  if (cn !== undefined) return { actor: cn, actorId: null, actorKind: 'cert' };
  return { actor: 'anonymous', actorId: null, actorKind: 'anonymous' };
}

/** The CN of a client certificate the TLS layer verified (security.api.tls.client_auth). */
function clientCertName(req: FastifyRequest): string | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (socket.authorized !== true || typeof socket.getPeerCertificate !== 'function') return undefined;
  const cn = socket.getPeerCertificate().subject?.CN;
  return typeof cn === 'string' && cn.length > 0 ? cn : undefined;
}
