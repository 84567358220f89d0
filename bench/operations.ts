/**
 * Operations benchmarks (opt-in: `npm run bench -- operations`; issue 14, "Benchmarks"). The upgrade
 * rows are added beside these, in their own functions.
 *
 * Backups
 * -------
 * A node's data dir with 10,000 agents and 1 GiB of agent state, built directly through the stores
 * (not by running 10,000 agents: what a backup reads is the database, and filling it through agents
 * would take most of the bench's time for the same file): openDatabase (WAL, synchronous=normal, as
 * the node opens it), one module (the counter example), 10,000 deployments (DeploymentStore.add), and
 * for each agent 27 keys of 4,000 bytes (SqliteAgentStateStore.set, in transactions of 1,000): 270,000
 * keys, 1.08 GB of values. A value is random bytes in base64 (text, as JSON state would be, and about
 * as compressible: gzip keeps ~76 %). Then, with createBackup (what the node runs for
 * `backup create`) to a local directory on the same disk:
 *   1. a full backup, uncompressed, and one with --compress: wall time and bytes stored;
 *   2. restoreBackup of the compressed one into a fresh directory: wall time (all checks included:
 *      sha256 of every file, page hashes of the rebuilt file, quick_check);
 *   3. 1 % of the keys (2,700, chosen at random) get new values; an incremental backup: bytes stored,
 *      pages stored, wall time; and a restore of the chain (full + incremental).
 * One run each (each row moves a gigabyte; the machine's page cache is warm after the build, and the
 * built file is fsynced before the first backup). The size can be scaled with OPERATIONS_BENCH_MB
 * (default 1024).
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DeploymentStore, openDatabase, SqliteAgentStateStore } from '../src/storage/index.js';
import { createBackup, restoreBackup, type BackupResult } from '../src/storage/backup/index.js';
import { VERSION } from '../src/version.js';
import { agentWasm } from '../test/helpers/agents.js';
import { tempDir } from '../test/helpers/tmp.js';
import type { Row } from './report.js';
import { upgradeBenchmarks } from './operations-upgrade.js';

const AGENTS = 10_000;
const VALUE_BYTES = 4000;

export async function operationsBenchmarks(): Promise<Row[]> {
  return [...(await backupBenchmarks()), ...(await upgradeBenchmarks())];
}

async function backupBenchmarks(): Promise<Row[]> {
  const targetBytes = Number(process.env['OPERATIONS_BENCH_MB'] ?? 1024) * 1024 * 1024;
  const keysPerAgent = Math.max(1, Math.round(targetBytes / AGENTS / VALUE_BYTES));
  const dir = tempDir('caxton-bench-ops-');
  const rows: Row[] = [];
  try {
    const dataDir = join(dir.path, 'data');
    const dest = join(dir.path, 'backups');
    const t0 = performance.now();
    const { keys } = buildDataDir(dataDir, keysPerAgent);
    const dbBytes = statSync(join(dataDir, 'caxton.db')).size;
    process.stderr.write(`  built ${AGENTS} agents, ${keys.length} keys, ${(dbBytes / 2 ** 20).toFixed(0)} MiB database in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    const note = `${AGENTS} agents, ${keys.length} keys of ${VALUE_BYTES} B, database ${(dbBytes / 2 ** 30).toFixed(2)} GiB, built through the stores`;
    const take = (type: 'full' | 'incremental', compress: boolean) =>
      createBackup({ dataDir, databasePath: join(dataDir, 'caxton.db'), nodeId: 'bench', version: VERSION, type, destination: dest, compress, includeCaKey: false, files: {} });
    const timed = async <T>(work: () => Promise<T>): Promise<{ value: T; s: number }> => {
      const s0 = performance.now();
      const value = await work();
      return { value, s: (performance.now() - s0) / 1000 };
    };
    const plain = await timed(() => take('full', false));
    rows.push({ name: 'backup full, uncompressed: time', value: plain.s, unit: 's', note });
    rows.push({ name: 'backup full, uncompressed: size', value: plain.value.size_bytes / 2 ** 20, unit: 'MiB' });
    const gz = await timed(() => take('full', true));
    rows.push({ name: 'backup full, --compress: time', value: gz.s, unit: 's' });
    rows.push({ name: 'backup full, --compress: size', value: gz.value.size_bytes / 2 ** 20, unit: 'MiB' });
    const restoreFull = await timed(() => restoreBackup({ source: dest, id: gz.value.id, target: join(dir.path, 'restore-full') }));
    rows.push({ name: 'restore full (--compress), all checks: time', value: restoreFull.s, unit: 's' });

    changeKeys(dataDir, keys, Math.round(keys.length / 100));
    const inc: { value: BackupResult; s: number } = await timed(() => take('incremental', true));
    rows.push({ name: 'backup incremental after 1 % of keys changed: size', value: inc.value.size_bytes / 2 ** 20, unit: 'MiB', note: `${inc.value.pages_stored} of ${inc.value.page_count} pages stored; ${(100 * inc.value.size_bytes / gz.value.size_bytes).toFixed(1)} % of the compressed full` });
    rows.push({ name: 'backup incremental after 1 % of keys changed: time', value: inc.s, unit: 's' });
    const restoreChain = await timed(() => restoreBackup({ source: dest, id: inc.value.id, target: join(dir.path, 'restore-chain') }));
    // restoreBackup checked that the rebuilt file hashes, page for page, to what the incremental recorded.
    rows.push({ name: 'restore full + incremental, all checks: time', value: restoreChain.s, unit: 's' });
  } finally {
    dir.cleanup();
  }
  return rows;
}

/** The data dir: one module, AGENTS deployments, keysPerAgent keys of VALUE_BYTES per agent. */
function buildDataDir(dataDir: string, keysPerAgent: number): { keys: [string, Buffer][] } {
  mkdirSync(dataDir, { recursive: true });
  const db = openDatabase(join(dataDir, 'caxton.db'));
  const deployments = new DeploymentStore(db);
  const state = new SqliteAgentStateStore(db);
  const wasm = agentWasm('counter');
  const hash = createHashHex(wasm);
  const keys: [string, Buffer][] = [];
  const batch = 1000;
  for (let a = 0; a < AGENTS; a += batch) {
    db.transaction(() => {
      for (let i = a; i < Math.min(AGENTS, a + batch); i++) {
        const name = `agent-${i}`;
        deployments.add({ name, id: `id-${i}`, module: hash, config: '{}', priority: 'normal', desiredState: 'running' }, wasm);
        for (let k = 0; k < keysPerAgent; k++) {
          const key = Buffer.from(`key-${k}`);
          state.set(name, key, value());
          keys.push([name, key]);
        }
      }
    })();
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  // On disk before the clock starts: the build's gigabyte of dirty pages being written back during the
  // first backup measured that writeback (44 s where the backup alone takes about 9).
  const fd = openSync(join(dataDir, 'caxton.db'), 'r+');
  fsyncSync(fd);
  closeSync(fd);
  return { keys };
}

/** New values for `n` keys chosen at random, as agents writing their state would. */
function changeKeys(dataDir: string, keys: readonly [string, Buffer][], n: number): void {
  const db = openDatabase(join(dataDir, 'caxton.db'));
  const state = new SqliteAgentStateStore(db);
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const [agent, key] = keys[Math.floor(Math.random() * keys.length)] as [string, Buffer];
      state.set(agent, key, value());
    }
  })();
  db.close();
}

function value(): Buffer {
  return Buffer.from(randomBytes((VALUE_BYTES * 3) / 4).toString('base64'));
}

function createHashHex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
