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
 * - `POST /api/v1/server/restore {id, from?, s3?}` (admin): writes the node's own backup into its data
 *   dir (`caxton cluster restore`, src/cluster/node-restore.ts) and answers when it is done;
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
import { parseRestoreRequest, type ParkedRestoreAnswer, type RestoreRequest } from '../cluster/node-restore.js';

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
  /** `POST /server/restore`: writes the backup into the data dir; absent: the route answers NODE_PARKED. */
  readonly onRestore?: (req: RestoreRequest, record: StopRecord, by: { id: string; name: string }) => Promise<ParkedRestoreAnswer>;
}

/** A restore request is an id, a location and three S3 settings. */
const MAX_BODY_BYTES = 64 * 1024;

export interface ParkedNode {
  /** Stops listening (the node starts on the address, or the process exits). */
  close(): Promise<void>;
}

const PREFIX = '/api/v1';

export async function parkNode(o: ParkedOptions): Promise<ParkedNode> {
  let starting = false;
  let restoring = false;
  // A restore rewrites the node's part of the record: GET /server/stopped answers the new one.
  let record = o.record;
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
    if (req.method === 'POST' && path === `${PREFIX}/server/restore` && o.onRestore !== undefined) {
      const onRestore = o.onRestore;
      void (async () => {
        try {
          const rec = auth('admin');
          if (starting) throw new CaxtonError('CAXTON_ERR_NODE_PARKED', `node ${o.nodeId} is starting: a restore writes its data dir only while it is stopped`);
          if (restoring) throw new CaxtonError('CAXTON_ERR_NODE_PARKED', `node ${o.nodeId} is restoring a backup already`);
          const body = parseRestoreRequest(await readJson(req));
          restoring = true;
          try {
            const a = await onRestore(body, record, { id: rec.id, name: rec.name });
            record = a.record;
            send(200, { ...a.result, node: a.node, agents: a.agents });
          } finally {
            restoring = false;
          }
        } catch (e) {
          req.resume();
          fail(e);
        }
      })();
      return;
    }
    // No other route reads its body: drain it so that keep-alive connections stay usable.
    req.resume();
    try {
      if (req.method === 'GET' && path === `${PREFIX}/health`) {
        return send(200, { status: 'stopped', node_id: o.nodeId, version: o.version, reason: o.reason, stopped_at: o.stoppedAt });
      }
      if (req.method === 'GET' && path === `${PREFIX}/server/stopped`) {
        auth('read');
        return send(200, record);
      }
      if (req.method === 'POST' && path === `${PREFIX}/server/start`) {
        const rec = auth('control');
        if (restoring) throw new CaxtonError('CAXTON_ERR_NODE_PARKED', `node ${o.nodeId} is restoring a backup: start it once the restore has answered`);
        if (starting) throw new CaxtonError('CAXTON_ERR_NODE_PARKED', `node ${o.nodeId} is starting already`);
        starting = true;
        o.logger.warn({ by: rec.name }, 'cluster start: starting the node again');
        res.once('finish', () => o.onStart(rec.name));
        return send(202, { node: o.nodeId, state: 'starting' });
      }
      throw new CaxtonError('CAXTON_ERR_NODE_PARKED', `node ${o.nodeId} is stopped with its cluster since ${o.stoppedAt} (${o.reason}): only GET /health, GET /server/stopped, POST /server/start and POST /server/restore answer until \`caxton cluster start\``);
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

/** The request's JSON body (at most MAX_BODY_BYTES). */
function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', `the request body is larger than ${MAX_BODY_BYTES} bytes`));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) return;
      try {
        resolve(chunks.length === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (e) {
        reject(new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', `the request body is not JSON: ${(e as Error).message}`));
      }
    });
    req.on('error', reject);
  });
}
