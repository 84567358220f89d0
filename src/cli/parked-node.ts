/**
 * A `caxton server start` process whose node was stopped with its cluster (`caxton cluster stop
 * --all`, src/cluster/node-stop.ts) stays up, parked: the node is stopped (its database closed, so a
 * backup can be restored into its data dir), and this minimal listener answers on the API address the
 * node had (docs/operations.md, "Stopping and starting a cluster"):
 *
 * - `GET /api/v1/health` (public): `{status: "stopped", node_id, version, reason, stopped_at}`;
 * - `GET /api/v1/server/stopped` (read): the cluster stop record the node wrote;
 * - `POST /api/v1/server/start` (control: admin or operator): answers 202, then the process starts
 *   the node again (configuration file read again, same data dir and addresses);
 * - anything else: 503 `CAXTON_ERR_NODE_PARKED`.
 *
 * Keys are checked against the node's keys as they were when it stopped (kept in memory: the database
 * is closed), with the API's headers; client certificates do not authenticate here. Every route of a
 * parked node lives in this module (a restore route belongs here too).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Address } from '../config/address.js';
import { CaxtonError, isCaxtonError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { authorize, presentedKey, type Permission } from '../api/auth.js';
import type { ApiKeyStore } from '../storage/index.js';
import type { StopRecord } from '../cluster/stop-record.js';

export interface ParkedOptions {
  readonly nodeId: string;
  readonly version: string;
  /** The API address the node had bound. */
  readonly addr: Address;
  /** The API's TLS material, when it serves HTTPS (the same certificate). */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** The node's keys as they were when it stopped (ApiKeyStore answers from memory). */
  readonly keys: ApiKeyStore;
  readonly reason: string;
  readonly stoppedAt: string;
  readonly record: StopRecord;
  readonly logger: Logger;
  /** Called once the 202 of `POST /server/start` went out; `by` is the key's name. */
  readonly onStart: (by: string) => void;
}

export interface ParkedNode {
  /** Stops listening (the node starts on the address, or the process exits). */
  close(): Promise<void>;
}

const PREFIX = '/api/v1';

export async function parkNode(o: ParkedOptions): Promise<ParkedNode> {
  let starting = false;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    const fail = (e: unknown) => {
      const ce = isCaxtonError(e) ? e : new CaxtonError('CAXTON_ERR_SERVER_INTERNAL', (e as Error).message);
      send(ce.status, { error: ce.toJSON() });
    };
    const auth = (permission: Permission) => authorize(o.keys, presentedKey(req.headers), permission);
    // The body is not read by any route: drain it so that keep-alive connections stay usable.
    req.resume();
    try {
      if (req.method === 'GET' && path === `${PREFIX}/health`) {
        return send(200, { status: 'stopped', node_id: o.nodeId, version: o.version, reason: o.reason, stopped_at: o.stoppedAt });
      }
      if (req.method === 'GET' && path === `${PREFIX}/server/stopped`) {
        auth('read');
        return send(200, o.record);
      }
      if (req.method === 'POST' && path === `${PREFIX}/server/start`) {
        const rec = auth('control');
        if (starting) throw new CaxtonError('CAXTON_ERR_NODE_PARKED', `node ${o.nodeId} is starting already`);
        starting = true;
        o.logger.warn({ by: rec.name }, 'cluster start: starting the node again');
        res.once('finish', () => o.onStart(rec.name));
        return send(202, { node: o.nodeId, state: 'starting' });
      }
      throw new CaxtonError('CAXTON_ERR_NODE_PARKED', `node ${o.nodeId} is stopped with its cluster since ${o.stoppedAt} (${o.reason}): only GET /health, GET /server/stopped and POST /server/start answer until \`caxton cluster start\``);
    } catch (e) {
      fail(e);
    }
  };
  const server: Server = o.tls === undefined ? createHttpServer(handle) : createHttpsServer({ cert: o.tls.cert, key: o.tls.key, minVersion: 'TLSv1.3' }, handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.addr.port, o.addr.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  o.logger.warn({ api: `${o.addr.host}:${o.addr.port}`, reason: o.reason }, 'parked: the node is stopped with its cluster; `caxton cluster start` starts it again');
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
