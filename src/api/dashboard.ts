/**
 * The operator dashboard (docs/dashboard.md): static files from the repository's `dashboard/` directory
 * under `/dashboard/`, and uPlot's two files from its npm package under `/dashboard/vendor/uplot/`.
 * Public, as the files hold nothing secret: the page asks for an API key and sends it to the API as
 * any client does. Every answer carries a strict Content-Security-Policy: scripts and styles only from
 * this origin, no inline script or style attribute, no plugin, no framing, so that an agent-provided
 * string that somehow reached the DOM as markup still could not run.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

export const DASHBOARD_PREFIX = '/dashboard/';

export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** src/api/ and dist/api/ both sit two levels below the package root, next to `dashboard/`. */
const DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url));

/** uPlot's minified script and its stylesheet: nothing else of the package is served. */
const UPLOT_FILES = new Set(['/uPlot.iife.min.js', '/uPlot.min.css']);

export async function registerDashboard(app: FastifyInstance): Promise<void> {
  // Resolved through Node so that a hoisted node_modules (caxton installed as a dependency) works too.
  const uplotDir = dirname(createRequire(import.meta.url).resolve('uplot'));
  await app.register(async (scope) => {
    scope.addHook('onSend', (_req, reply, payload, done) => {
      void reply.header('content-security-policy', DASHBOARD_CSP).header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer').header('x-frame-options', 'DENY');
      done(null, payload);
    });
    await scope.register(fastifyStatic, { root: DASHBOARD_DIR, prefix: DASHBOARD_PREFIX, index: 'index.html', cacheControl: true, maxAge: 0 });
    await scope.register(fastifyStatic, {
      root: uplotDir,
      prefix: `${DASHBOARD_PREFIX}vendor/uplot/`,
      decorateReply: false,
      allowedPath: (path) => UPLOT_FILES.has(path),
    });
    scope.get('/dashboard', { schema: { hide: true } }, (_req, reply) => reply.redirect(DASHBOARD_PREFIX));
  });
}
