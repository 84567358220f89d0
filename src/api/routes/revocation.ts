/**
 * `POST /security/revoke` and `GET /security/revoked` (`caxton security revoke|revoked`): the cluster's
 * certificate revocation list (src/security/revocation.ts, src/cluster/revocation-sync.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { CaxtonError } from '../../errors.js';
import { REVOCATION_REASON_MAX, revokedJson } from '../../security/revocation.js';
import type { Revocations } from '../../cluster/revocation-sync.js';
import { certActor } from '../client-cert.js';
import type { ApiContext } from '../context.js';

const RevokeBody = Type.Object(
  {
    node: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'a node name: the certificate it presents now, and every certificate for it issued before now' })),
    serial: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'a certificate serial number in hex (colons and 0x allowed)' })),
    reason: Type.Optional(Type.String({ maxLength: REVOCATION_REASON_MAX, description: 'why, for the list and the log' })),
  },
  { additionalProperties: false },
);

export function registerRevocationRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const revocations = (): Revocations => {
    if (ctx.revocations === undefined) throw new CaxtonError('CAXTON_ERR_SERVER_NOT_READY', `node ${ctx.nodeId} has no revocation list yet: it is starting`);
    return ctx.revocations;
  };
  app.post<{ Body: Static<typeof RevokeBody> }>(
    '/security/revoke',
    { config: { permission: 'admin', management: true, audit: 'security.revoke' }, schema: { summary: 'Revoke a node\'s certificates or one serial, on every node of the cluster', body: RevokeBody } },
    async (req) => {
      const b = req.body;
      const rows = revocations().revoke({
        ...(b.node === undefined ? {} : { node: b.node }),
        ...(b.serial === undefined ? {} : { serial: b.serial }),
        ...(b.reason === undefined ? {} : { reason: b.reason }),
        by: actorName(req),
      });
      return { node: ctx.nodeId, revoked: rows.map(revokedJson) };
    },
  );
  app.get(
    '/security/revoked',
    { config: { permission: 'read' }, schema: { summary: 'The revoked certificates this node refuses (the same list on every node)' } },
    async () => ({ node: ctx.nodeId, entries: revocations().list.entries().map(revokedJson) }),
  );
}

/** Who asked, for revoked_by: the key's name, else the client certificate's CN. */
function actorName(req: FastifyRequest): string {
  if (req.apiKey !== undefined) return `key ${req.apiKey.name}`;
  const cert = certActor(req.socket);
  return cert === undefined ? 'anonymous' : `certificate ${cert.name}`;
}
