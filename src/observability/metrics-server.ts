/**
 * The Prometheus endpoint (default 127.0.0.1:9090): GET /metrics and GET /health, nothing else. Plain
 * node:http rather than the API's fastify: it must keep answering when the API is busy or
 * misconfigured, needs no auth (it sits on its own port, which operators firewall), and has two routes.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the server needs from NodeMetrics. */
export interface MetricsSource {
  text(): Promise<string>;
}

export interface MetricsServerOptions {
  readonly host: string;
  /** 0 picks a free port (see the returned address). */
  readonly port: number;
  readonly metrics: MetricsSource;
}

export interface MetricsServer {
  readonly address: { readonly host: string; readonly port: number };
  close(): Promise<void>;
}

/** Prometheus text exposition format 0.0.4. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const server = createServer((req, res) => void handle(options.metrics, req, res));
  // Scrapers keep connections alive; without this, close() would wait for them to time out.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  return {
    address: { host: addr.address, port: addr.port },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e === undefined ? resolve() : reject(e)));
        server.closeIdleConnections();
      }),
  };
}

async function handle(metrics: MetricsSource, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') return send(res, 404, 'not found\n');
  if (path === '/health') return send(res, 200, 'ok\n', method === 'HEAD');
  if (path !== '/metrics') return send(res, 404, 'not found\n');
  try {
    const body = await metrics.text();
    send(res, 200, body, method === 'HEAD', METRICS_CONTENT_TYPE);
  } catch (e) {
    // A failing scrape is the node's problem to report, not a reason to drop the connection.
    send(res, 500, `metrics unavailable: ${e instanceof Error ? e.message : String(e)}\n`);
  }
}

function send(res: ServerResponse, status: number, body: string, headOnly = false, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(headOnly ? undefined : body);
}
