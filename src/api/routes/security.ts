/**
 * `GET /security/certs` (`caxton security cert-status`): every node's certificates; `POST
 * /security/node-cert` (`caxton security rotate-certs`): a new node certificate for this node or,
 * through the link, another (src/security/cluster-certs.ts).
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ApiContext } from '../context.js';

const NodeCertBody = Type.Object(
  {
    cert: Type.String({ minLength: 1, maxLength: 64 * 1024, description: 'the new node certificate, PEM' }),
    key: Type.String({ minLength: 1, maxLength: 64 * 1024, description: 'its private key, PEM (PKCS#8)' }),
    node: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'the node to install it on (default: this node)' })),
  },
  { additionalProperties: false },
);

export function registerSecurityRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/security/certs', { config: { permission: 'read' }, schema: { summary: "Every node's node certificate (mTLS) and API certificate (HTTPS): subject, issuer, serial, not-after, days left, fingerprint" } }, async () => {
    return ctx.certs().all();
  });

  app.post<{ Body: Static<typeof NodeCertBody> }>(
    '/security/node-cert',
    { config: { permission: 'admin', audit: 'security.node-cert' }, schema: { summary: "Replaces a node's certificate and key (node_cert, node_key) and reloads them without a restart", body: NodeCertBody } },
    async (req) => {
      const node = req.body.node ?? ctx.nodeId;
      req.auditFacts = { node };
      const v = await ctx.certs().install(node, req.body.cert, req.body.key);
      req.auditFacts = { node, fingerprint: v.fingerprint, serial: v.serial };
      return { node, cert: v };
    },
  );
}
