/**
 * Backups (docs/operations.md, "Backups"): a node takes its own (`caxton backup create`) or every
 * node takes one (`caxton cluster backup`), as jobs the CLI follows; the node's catalog lists them and
 * prune applies the retention rule. Verify and restore run in the CLI (they also work with the node
 * stopped), reading the location from the catalog. Admin only: a backup holds the admin key and the
 * node's private keys.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ApiContext } from '../context.js';

const CreateBody = Type.Object(
  {
    type: Type.Union([Type.Literal('full'), Type.Literal('incremental')], { description: 'incremental: the pages changed since this node\'s last backup' }),
    destination: Type.String({ minLength: 1, maxLength: 2000, description: 'a directory on the node (created if missing) or s3://bucket/prefix' }),
    compress: Type.Optional(Type.Boolean({ description: 'gzip the database (or pages); default false' })),
    include_ca_key: Type.Optional(Type.Boolean({ description: 'also store the CA private key (backup.ca_key); default false' })),
  },
  { additionalProperties: false },
);
type CreateBody = Static<typeof CreateBody>;
const JobParams = Type.Object({ job: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false });
const JobQuery = Type.Object({ node: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'the node that runs the job (cluster backup); default this node' })) }, { additionalProperties: false });
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });
const PruneBody = Type.Object(
  {
    keep_last: Type.Integer({ minimum: 0, maximum: 100_000, description: 'the N newest backups stay' }),
    keep_daily: Type.Integer({ minimum: 0, maximum: 100_000, description: 'the newest backup of each of the D most recent days (UTC) stays' }),
  },
  { additionalProperties: false },
);

const admin = { permission: 'admin' } as const;

function request(b: CreateBody) {
  return { type: b.type, destination: b.destination, compress: b.compress === true, include_ca_key: b.include_ca_key === true };
}

export function registerBackupRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const backups = ctx.backups;
  app.post<{ Body: CreateBody }>(
    '/backups',
    { config: { ...admin, management: true, audit: 'backup.create' }, schema: { summary: 'Start a backup of this node (a job: follow it at /backups/jobs/{job})', body: CreateBody } },
    async (req, reply) => {
      const job = backups.start(request(req.body));
      req.auditFacts = { job: job.job };
      return reply.code(202).send(job);
    },
  );
  app.get<{ Params: Static<typeof JobParams>; Querystring: Static<typeof JobQuery> }>(
    '/backups/jobs/:job',
    { config: admin, schema: { summary: 'A backup job: its phase and progress, then its result or error', params: JobParams, querystring: JobQuery } },
    async (req) => backups.jobOn(req.params.job, req.query.node),
  );
  app.get('/backups', { config: admin, schema: { summary: 'The backups this node made (its catalog), oldest first' } }, async () => ({ backups: backups.list() }));
  app.get<{ Params: Static<typeof IdParams> }>('/backups/:id', { config: admin, schema: { summary: 'One backup of the catalog: where it is', params: IdParams } }, async (req) => backups.get(req.params.id));
  app.post<{ Body: Static<typeof PruneBody> }>(
    '/backups/prune',
    { config: { ...admin, management: true, audit: 'backup.prune' }, schema: { summary: 'Delete the backups the retention rule does not keep (with the chains of those it keeps)', body: PruneBody } },
    async (req) => backups.prune({ keepLast: req.body.keep_last, keepDaily: req.body.keep_daily }),
  );
  app.post<{ Body: CreateBody }>(
    '/cluster/backups',
    { config: { ...admin, management: true, audit: 'cluster.backup' }, schema: { summary: 'Start a backup on every up Caxton node, each under <destination>/<node>/', body: CreateBody } },
    async (req, reply) => reply.code(202).send(await backups.startCluster(request(req.body))),
  );
}
