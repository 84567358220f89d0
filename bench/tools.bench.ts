/**
 * Tool calls through MCP (opt-in: `npm run bench -- tools`, about a minute): what the bridge adds to a
 * tool call, and how many calls one bridge carries.
 *
 * Method
 * ------
 * One node in this process (one worker, its SQLite file; the audit log on, as by default) with
 * @modelcontextprotocol/server-everything as a stdio MCP server (allow "*", limits off), the
 * tool-user example agent (examples/tool-user), and a client outside the pool (test/helpers/agents.ts).
 * Beside it, a second server-everything process driven directly by the SDK's own Client over stdio:
 * the baseline, the same program and transport without Caxton.
 *
 * 1. Latency, sequential, `echo {"message":"ping"}`: per round, one call of each kind, in turn, so that
 *    the three see the same machine noise (N rounds after a warm-up):
 *      - direct: SDK Client.callTool to its own server-everything;
 *      - bridge: McpBridge.callAsOperator (the API's `tools call` path without HTTP): limits, the
 *        SDK client, the audit entry, the metrics;
 *      - agent: the client asks tool-user, which sends a request to mcp:everything and, on the
 *        answer, informs the client: two agent hops (wasm, worker threads, router) around the bridge.
 *    P50/P99 of each, and the overhead of the bridge and of the agent path over direct (P50 minus P50).
 * 2. Throughput, pipelined: C calls sent at once through tool-user, time to the last answer; calls
 *    per second through one bridge (one server process serves them all).
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CaxtonNode } from '../src/node.js';
import { createLogger } from '../src/observability/logger.js';
import { agentWasm, Client } from '../test/helpers/agents.js';
import { EVERYTHING_BIN, mcpServers } from '../test/helpers/mcp/servers.js';
import { tempDir } from '../test/helpers/tmp.js';
import { percentile, sortedCopy, type Row } from './report.js';

const ROUNDS = Number(process.env['TOOLS_BENCH_ROUNDS'] ?? 1000);
const WARMUP = 100;
const PIPELINED = Number(process.env['TOOLS_BENCH_PIPELINED'] ?? 2000);

export async function toolsBenchmarks(): Promise<Row[]> {
  const dir = tempDir('caxton-bench-tools-');
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });
  const servers = mcpServers(`
- name: everything
  transport: stdio
  command: ${EVERYTHING_BIN}
  allow: ["*"]
  max_concurrent: 10000
  max_concurrent_per_agent: 10000
  rate_limit: { calls_per_second: 0, agent_calls_per_second: 0 }
`);
  const node = await CaxtonNode.start({ dataDir: join(dir.path, 'node'), nodeId: 'bench', logger: createLogger({ level: 'warn', destination: quiet }), workers: 1, mcpServers: servers });
  const direct = new McpClient({ name: 'bench-direct', version: '1' });
  const client = new Client(node.pool);
  try {
    await direct.connect(new StdioClientTransport({ command: EVERYTHING_BIN, stderr: 'ignore' }));
    await node.deployments.deploy({ name: 'caller', module: agentWasm('tool-user') });
    const bridge = node.tools;
    if (bridge === undefined) throw new Error('no bridge');
    const operator = { name: 'bench', kind: 'anonymous' } as const;
    const args = { message: 'ping' };
    const viaAgent = async () => {
      const rw = client.send('caller', 'request', { server: 'everything', tool: 'echo', arguments: args });
      const m = await client.waitFor((x) => x.in_reply_to === rw, 30_000, 'the answer');
      if (m.performative !== 'inform') throw new Error(`failed: ${JSON.stringify(m.content)}`);
    };
    const kinds = {
      direct: () => direct.callTool({ name: 'echo', arguments: args }),
      bridge: () => bridge.callAsOperator('everything', 'echo', args, operator),
      agent: viaAgent,
    };
    const samples: Record<keyof typeof kinds, number[]> = { direct: [], bridge: [], agent: [] };
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      for (const [k, run] of Object.entries(kinds) as [keyof typeof kinds, () => Promise<unknown>][]) {
        const t0 = performance.now();
        await run();
        if (i >= WARMUP) samples[k].push((performance.now() - t0) * 1000);
      }
    }
    const p = (k: keyof typeof kinds, q: number) => percentile(sortedCopy(samples[k]), q);
    const rows: Row[] = [];
    for (const k of ['direct', 'bridge', 'agent'] as const) {
      rows.push({ name: `tool call echo, ${k}, P50`, value: p(k, 50), unit: 'µs', note: `${ROUNDS} sequential calls, interleaved with the other two kinds` });
      rows.push({ name: `tool call echo, ${k}, P99`, value: p(k, 99), unit: 'µs' });
    }
    rows.push({ name: 'bridge overhead over direct, P50', value: p('bridge', 50) - p('direct', 50), unit: 'µs', note: 'limits, audit entry, metrics, the node\'s SDK client' });
    rows.push({ name: 'bridge overhead over direct, P99', value: p('bridge', 99) - p('direct', 99), unit: 'µs' });
    rows.push({ name: 'agent path overhead over direct, P50', value: p('agent', 50) - p('direct', 50), unit: 'µs', note: 'plus two agent hops: client→tool-user→mcp:everything→tool-user→client' });
    rows.push({ name: 'agent path overhead over direct, P99', value: p('agent', 99) - p('direct', 99), unit: 'µs' });

    // Throughput: PIPELINED calls at once through the agent and the bridge.
    const t0 = performance.now();
    const rws: string[] = [];
    for (let i = 0; i < PIPELINED; i++) rws.push(client.send('caller', 'request', { server: 'everything', tool: 'echo', arguments: { message: `m${i}` } }));
    await Promise.all(rws.map((rw) => client.waitFor((x) => x.in_reply_to === rw, 120_000, 'a pipelined answer')));
    const agentSeconds = (performance.now() - t0) / 1000;
    rows.push({ name: 'tool calls/s through one bridge, via an agent', value: PIPELINED / agentSeconds, unit: 'calls/s', note: `${PIPELINED} echo calls sent at once through tool-user` });
    const t1 = performance.now();
    await Promise.all(Array.from({ length: PIPELINED }, (_, i) => bridge.callAsOperator('everything', 'echo', { message: `o${i}` }, operator)));
    rows.push({ name: 'tool calls/s through one bridge, operator path', value: PIPELINED / ((performance.now() - t1) / 1000), unit: 'calls/s', note: `${PIPELINED} echo calls at once, no agent` });
    const t2 = performance.now();
    await Promise.all(Array.from({ length: PIPELINED }, (_, i) => direct.callTool({ name: 'echo', arguments: { message: `d${i}` } })));
    rows.push({ name: 'tool calls/s, direct SDK client', value: PIPELINED / ((performance.now() - t2) / 1000), unit: 'calls/s', note: 'the same server program, no Caxton' });
    return rows;
  } finally {
    client.close();
    await direct.close().catch(() => undefined);
    await node.stop();
    dir.cleanup();
  }
}
