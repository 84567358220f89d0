/**
 * The REST management API (docs/api.md): fastify with TypeBox route schemas, one error shape, API-key
 * authentication with roles, a per-key rate limit, and the OpenAPI document built from the routes.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import { CaxtonError } from '../errors.js';
import type { ApiKeyRecord } from '../storage/index.js';
import { authorize, authorizeCert, presentedKey, type Permission } from './auth.js';
import { certActor } from './client-cert.js';
import { registerSecurityRoutes } from './routes/security.js';
import { registerServerRoutes } from './routes/server.js';
import { registerUpgradeRoutes } from './routes/upgrade.js';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { Socket } from 'node:net';
import type { Logger } from '../observability/logger.js';
import type { ApiContext, ApiTls } from './context.js';
import { answerExpectations, headersTimeoutMs, makeClientErrorHandler } from './client-errors.js';
import { errorBody, installErrorHandling, toCaxtonError } from './errors.js';
import { installJsonBodyParser } from './json-body.js';
import { RateLimiter } from './rate-limit.js';
import { registerAgentRoutes } from './routes/agents.js';
import { registerClusterRoutes } from './routes/cluster.js';
import { registerPartitionRoutes } from './routes/partitions.js';
import { registerEventRoutes } from './routes/events.js';
import type { PartitionControl } from '../cluster/partition/control.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerKeyRoutes } from './routes/keys.js';
import { registerLoadSheddingRoutes } from './routes/load-shedding.js';
import { registerMessageRoutes } from './routes/messages.js';
import { registerOperationRoutes } from './routes/operations.js';
import { registerAuditRoutes } from './routes/audit.js';
import { registerRevocationRoutes } from './routes/revocation.js';
import { registerBackupRoutes } from './routes/backups.js';
import { registerToolRoutes } from './routes/tools.js';
import { registerWhoamiRoutes } from './routes/whoami.js';
import { installAuditHook } from './audit-hook.js';
import { registerDashboard } from './dashboard.js';
import type { AuditAction } from '../security/audit.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The permission a route needs; none: public. */
    permission?: Permission;
    /**
     * A management write (deploy, undeploy, upgrade, key changes, rebalance...): refused with
     * CAXTON_ERR_CLUSTER_READ_ONLY while this node is on the minority side of a partition, or alone.
     */
    management?: boolean;
    /** The audit action a request to this route records (src/security/audit.ts), answered or refused. */
    audit?: AuditAction;
  }
  interface FastifyRequest {
    apiKey?: ApiKeyRecord;
  }
}

export const API_PREFIX = '/api/v1';

export async function buildApi(ctx: ApiContext): Promise<FastifyInstance> {
  const log = ctx.logger.child({ component: 'api' });
  // Node looks for timed-out requests every 30 s by default, so a 30 s timeout could take 60 s to
  // fire; checking at half the timeout keeps it within 1.5 times the configured value.
  // The headers' deadline is Node's default, stated here so that the 408's message can name it.
  const http = { connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(ctx.requestTimeoutMs / 2))), headersTimeout: headersTimeoutMs(ctx.requestTimeoutMs) };
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // Per-request lines at 1,000s of requests/s would drown the log; errors are logged by the handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: ctx.bodyLimitBytes,
    // Receiving the request only: a wait for a reply (up to 5 min) is not cut by it.
    requestTimeout: ctx.requestTimeoutMs,
    http,
    // Requests Node's parser refuses (431, 400, 408, 413) get the one error shape too.
    clientErrorHandler: makeClientErrorHandler(ctx.requestTimeoutMs, log),
    genReqId: () => randomUUID(),
    // fastify's own 503 while closing has another shape; the onRequest hook below refuses requests
    // with CAXTON_ERR_SERVER_NOT_READY instead, as soon as the node stops being ready.
    return503OnClosing: false,
    // Agent names may be 255 characters; the router's default cap on a path parameter is 100.
    routerOptions: { maxParamLength: 512 },
    // Errors the router raises before any handler (a bad URL, an over-long parameter) get the one shape too.
    frameworkErrors: (error, _req, reply) => {
      const e = toCaxtonError(error);
      void (reply as FastifyReply).status(e.status).type('application/json').send(errorBody(e));
    },
    ajv: { customOptions: { allErrors: false, coerceTypes: true, removeAdditional: false } },
    // fastify hands `https` alone to https.createServer (not `http`): it carries the same timeouts.
    ...(ctx.tls === undefined ? {} : { https: { ...http, ...httpsOptions(ctx.tls) } }),
  }) as unknown as FastifyInstance; // with `https` fastify types the server as https.Server, which is an http.Server to every use here
  // Asked for only when client certificates are: on plain HTTP or server-only TLS no request has one.
  const clientCerts = ctx.tls !== undefined && ctx.tls.clientAuth !== 'none';
  installErrorHandling(app);
  if (ctx.tls !== undefined) logRefusedHandshakes(app.server, log);
  answerExpectations(app.server);
  installJsonBodyParser(app, ctx.bodyLimitBytes);
  await app.register(swagger, {
    openapi: {
      info: { title: 'Caxton management API', version: ctx.version, description: 'See docs/api.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(multipart, { limits: { fileSize: ctx.maxModuleBytes, files: 1, fields: 16, fieldSize: 1024 * 1024, parts: 20 } });

  const limiter = new RateLimiter(ctx.rateLimit.perSecond, ctx.rateLimit.burst);
  // Hooks in callback style: on every request, an async hook would cost a promise and a microtask.
  app.addHook('onRequest', (req, reply, done) => {
    const permission = req.routeOptions.config.permission;
    // Checked once the caller is known to be allowed the route: an anonymous caller learns nothing.
    const p = req.routeOptions.config.management === true ? ctx.partitions() : undefined;
    const readOnly = p !== undefined && p.partitions.readOnly() ? readOnlyError(p) : undefined;
    if (permission === undefined || (!ctx.authEnabled && ctx.ready())) return done(readOnly); // public
    if (!ctx.ready()) return done(new CaxtonError('CAXTON_ERR_SERVER_NOT_READY', 'the node is not ready: it is starting or stopping'));
    // An API key, when one is sent, wins over a client certificate: a person with an operator's
    // certificate can still use an admin key for one command.
    const presented = presentedKey(req.headers);
    const verified = clientCerts ? certActor(req.socket) : undefined;
    // A revoked certificate is refused even with a key: whoever holds it is no longer trusted.
    const revoked = verified === undefined ? undefined : ctx.revocations?.list.check(verified.cert);
    if (verified !== undefined && revoked !== undefined) {
      return done(new CaxtonError('CAXTON_ERR_CERT_REVOKED', `the client certificate "${verified.name}" is refused: ${revoked}`, { serial: verified.cert.serialNumber.toUpperCase(), name: verified.name }));
    }
    const cert = presented === undefined ? verified : undefined;
    let bucket: string;
    let who: string;
    try {
      if (cert !== undefined) {
        authorizeCert(cert, permission);
        // Not req.apiKey: the audit hook records a certificate actor from the verified socket itself.
        bucket = `cert:${cert.fingerprint}`;
        who = `client certificate "${cert.name}"`;
      } else {
        const key: ApiKeyRecord = authorize(ctx.keys, presented, permission);
        req.apiKey = key;
        bucket = key.id;
        who = `key "${key.name}"`;
      }
    } catch (e) {
      return done(e as Error);
    }
    if (readOnly !== undefined) return done(readOnly);
    if (!ctx.rateLimit.enabled) return done();
    const d = limiter.take(bucket);
    void reply.header('x-ratelimit-limit', d.limit).header('x-ratelimit-remaining', d.remaining).header('x-ratelimit-reset', d.resetAt);
    if (d.allowed) return done();
    done(new CaxtonError('CAXTON_ERR_API_RATE_LIMITED', `rate limit of ${ctx.rateLimit.perSecond} requests/s (burst ${ctx.rateLimit.burst}) reached for ${who}`, { retryAfter: d.retryAfter }));
  });
  // A POST with no body means "no options": validate it as {} so optional fields take their defaults.
  app.addHook('preValidation', (req, _reply, done) => {
    if (req.body === undefined && req.method !== 'GET' && req.method !== 'HEAD') req.body = {};
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    ctx.observeHttp(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  if (ctx.audit !== undefined) installAuditHook(app, ctx.audit, ctx.nodeId, ctx.keys);

  await app.register(
    async (api) => {
      registerHealthRoutes(api, ctx);
      registerAgentRoutes(api, ctx);
      registerMessageRoutes(api, ctx);
      registerOperationRoutes(api, ctx);
      registerEventRoutes(api, ctx);
      registerKeyRoutes(api, ctx, limiter);
      registerClusterRoutes(api, ctx);
      registerPartitionRoutes(api, ctx);
      registerLoadSheddingRoutes(api, ctx);
      registerAuditRoutes(api, ctx);
      registerSecurityRoutes(api, ctx);
      registerServerRoutes(api, ctx);
      registerUpgradeRoutes(api, ctx);
      registerRevocationRoutes(api, ctx);
      registerBackupRoutes(api, ctx);
      registerToolRoutes(api, ctx);
      registerWhoamiRoutes(api, ctx);
    },
    { prefix: API_PREFIX },
  );
  await registerDashboard(app);
  await app.ready();
  return app;
}

/**
 * HTTPS: TLS 1.3 only, as between nodes (docs/security.md explains why the API gets no TLS 1.2).
 * With client_auth required, Node's TLS layer refuses a connection whose certificate is missing or
 * does not chain to ca_cert during the handshake, before any request is read; optional asks for a
 * certificate and lets the connection in without a verified one (certActor then finds none).
 */
export function httpsOptions(tls: ApiTls): HttpsServerOptions {
  return {
    cert: tls.cert,
    key: tls.key,
    minVersion: 'TLSv1.3',
    ...(tls.clientAuth === 'none' || tls.ca === undefined ? {} : { ca: tls.ca, requestCert: true, rejectUnauthorized: tls.clientAuth === 'required' }),
  };
}

/**
 * A refused handshake (no client certificate, one of another CA, TLS 1.2, plain HTTP) is one info
 * line with the peer and OpenSSL's reason, so an operator sees why a client cannot connect. At most
 * one line a second: a scanner hammering the port must not flood the log; the next line counts the
 * ones left out.
 */
function logRefusedHandshakes(server: FastifyInstance['server'], log: Logger): void {
  let last = 0;
  let skipped = 0;
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const now = Date.now();
    if (now - last < 1000) {
      skipped++;
      return;
    }
    last = now;
    log.info({ remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, code: err.code, reason: opensslReason(err.message), ...(skipped > 0 ? { notLogged: skipped } : {}) }, 'TLS handshake refused');
    skipped = 0;
  });
}

/** "peer did not return a certificate" out of OpenSSL's "806C...:error:0A0000C7:SSL routines:func:reason:file:line:". */
function opensslReason(message: string): string {
  return /:error:[0-9A-F]+:[^:]*:[^:]*:([^:]+)/.exec(message)?.[1] ?? message;
}

/** The refusal of a management write on the minority side of a partition: names the sides. */
function readOnlyError(p: PartitionControl): CaxtonError {
  const v = p.partitions.view;
  const side = v.state === 'alone' ? `${v.reachable[0] ?? 'this node'} reaches no other node of its cluster (it is cut off, or has just started and not rejoined yet)` : `the cluster is partitioned and this side [${v.reachable.join(', ')}] is a minority`;
  return new CaxtonError('CAXTON_ERR_CLUSTER_READ_ONLY', `${side} (${v.reachable.length} of ${v.expected} nodes, quorum ${v.quorum}): management writes are refused here until it sees a quorum again; unreachable: ${v.unreachable.join(', ')}`, {
    state: v.state,
    reachable: v.reachable,
    unreachable: v.unreachable,
    quorum: v.quorum,
  });
}
