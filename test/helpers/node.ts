/** Runs a test body against an in-process CaxtonNode with its API on a loopback ephemeral port. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CaxtonNode, type NodeOptions } from '../../src/node.js';
import { createLogger } from '../../src/observability/logger.js';
import { tempDir } from './tmp.js';
import { Writable } from 'node:stream';

export interface NodeContext {
  readonly node: CaxtonNode;
  readonly url: string;
  readonly adminKey: string;
  readonly dataDir: string;
  /** fetch with a key (admin by default, null for none); JSON in and out. */
  call(method: string, path: string, body?: unknown, key?: string | null, headers?: Record<string, string>): Promise<Reply>;
}

export interface Reply {
  readonly status: number;
  // Test convenience: response bodies are checked field by field.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
  readonly headers: Headers;
}

export async function withNode(options: Partial<NodeOptions>, fn: (ctx: NodeContext) => Promise<void>, dataDir?: string): Promise<void> {
  const dir = dataDir === undefined ? tempDir() : undefined;
  const path = dataDir ?? (dir as ReturnType<typeof tempDir>).path;
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });
  const node = await CaxtonNode.start({
    dataDir: path,
    nodeId: 'test-node',
    logger: createLogger({ level: process.env['TEST_LOG_LEVEL'] ?? 'warn', destination: process.env['TEST_LOG_LEVEL'] ? process.stderr : quiet }),
    workers: 1,
    api: { addr: { host: '127.0.0.1', port: 0 } },
    ...options,
  });
  const url = `http://127.0.0.1:${node.apiAddress?.port}/api/v1`;
  const adminKey = readFileSync(join(path, 'admin.key'), 'utf8').trim();
  const call = async (method: string, p: string, body?: unknown, key: string | null = adminKey, headers: Record<string, string> = {}): Promise<Reply> => {
    const h: Record<string, string> = { ...headers };
    if (key !== null) h['authorization'] = `Bearer ${key}`;
    if (body !== undefined && h['content-type'] === undefined) h['content-type'] = 'application/json';
    const res = await fetch(url + p, { method, headers: h, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: kept as text
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
  try {
    await fn({ node, url, adminKey, dataDir: path, call });
  } finally {
    await node.stop();
    dir?.cleanup();
  }
}
