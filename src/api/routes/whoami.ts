/**
 * `GET /whoami`: who the caller is and what its role allows, so that a client (the dashboard) can
 * leave out what it would be refused, e.g. a viewer sees no stop or replay buttons. The server still
 * checks every request: this only saves a user buttons that would answer 403.
 */
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { PERMISSIONS, ROLES } from '../auth.js';
import { certActor } from '../client-cert.js';

export function registerWhoamiRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/whoami', { config: { permission: 'read' }, schema: { summary: "The caller's key (or client certificate), its role and permissions" } }, async (req) => {
    const key = req.apiKey;
    if (key !== undefined) return { node: ctx.nodeId, kind: 'key', id: key.id, name: key.name, role: key.role, permissions: [...ROLES[key.role as keyof typeof ROLES]] };
    const cert = certActor(req.socket);
    if (cert?.role !== undefined) return { node: ctx.nodeId, kind: 'cert', id: null, name: cert.name, role: cert.role, permissions: [...ROLES[cert.role]] };
    // Authentication is off (security.api.auth_enabled: false): every route is open to everyone.
    return { node: ctx.nodeId, kind: 'anonymous', id: null, name: null, role: 'admin', permissions: [...PERMISSIONS] };
  });
}
