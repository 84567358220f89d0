/**
 * The floor under the cross-node agent→agent latency budget (issue 11: request→reply P50 ≤ 150 µs),
 * opt-in: `npm run bench -- hop-floor`, about 5 s. Two processes on loopback (127.0.0.131 and .132)
 * exchange one ~300-byte frame back and forth, sequentially (CAXTON_BENCH_FLOOR_CALLS round trips, the
 * first 10 % dropped), in three shapes that do none of Caxton's work (bench/hop-floor/peer.mjs):
 *
 *   main    main thread to main thread over TCP: the floor of any design
 *   relay   worker → main → TCP → main → worker and back: the thread crossings of today's hop
 *           (an agent runs in a worker; a node's link socket is on its main thread)
 *   direct  worker to worker over TCP, no main thread in the path
 *
 * A Caxton agent→agent round trip (`npm run bench -- cluster-routing`) is the `relay` shape plus the
 * router, the link's batching, persistence and the wasm entry on each side. Comparing the rows tells
 * how much of the budget the thread crossings alone take on this machine.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { percentile, sortedCopy, type Row } from './report.js';

const PEER = fileURLToPath(new URL('./hop-floor/peer.mjs', import.meta.url));
const CALLS = Number(process.env['CAXTON_BENCH_FLOOR_CALLS'] ?? 5000);
const MODES = ['main', 'relay', 'direct'] as const;

interface PeerMessage { ready?: boolean; rtts?: number[] }

function start(args: string[]): { child: ChildProcess; next: () => Promise<PeerMessage> } {
  const child = fork(PEER, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  const queue: PeerMessage[] = [];
  const waiters: Array<(m: PeerMessage) => void> = [];
  child.on('message', (m: PeerMessage) => {
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  const next = () =>
    new Promise<PeerMessage>((resolve, reject) => {
      const m = queue.shift();
      if (m) return resolve(m);
      waiters.push(resolve);
      child.once('exit', (code) => reject(new Error(`hop-floor peer exited (${code}) before answering`)));
    });
  return { child, next };
}

export async function hopFloorBenchmarks(): Promise<Row[]> {
  const rows: Row[] = [];
  let port = 17_420;
  for (const mode of MODES) {
    port += 1;
    const echo = start(['echo', mode, '127.0.0.132', String(port)]);
    try {
      await echo.next();
      const caller = start(['call', mode, '127.0.0.132', String(port), String(CALLS)]);
      const { rtts } = await caller.next();
      caller.child.kill();
      const s = sortedCopy(rtts ?? []);
      rows.push({ name: `hop floor, ${mode}: round trip P50`, value: percentile(s, 50), unit: 'µs', note: `${s.length} round trips` });
      rows.push({ name: `hop floor, ${mode}: round trip P99`, value: percentile(s, 99), unit: 'µs' });
    } finally {
      echo.child.kill();
    }
  }
  return rows;
}
