/** `caxton deploy` placement flags against a real server process (a node alone: it is the only candidate). */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, startServer, type CliResult, type RunningServer } from '../helpers/server.js';

let srv: RunningServer;

before(async () => {
  srv = await startServer();
});

after(async () => {
  assert.equal(await srv.stop(), 0);
  srv.cleanup();
});

const cx = (args: string[]): Promise<CliResult> => runCli(args, { dataDir: srv.dataDir, env: { CAXTON_API_URL: srv.apiUrl, CAXTON_API_KEY: '' } });

test('cli placement - --target-node, --prefer-nodes and --placement-strategy reach the API; the owner is printed', async () => {
  const pinned = await cx(['deploy', 'build/agents/echo.wasm', '--name', 'pinned', '--target-node', 'test-node', '--placement-strategy', 'least-loaded']);
  assert.equal(pinned.code, 0, pinned.stderr);
  assert.match(pinned.stdout, /^node:\s+test-node$/m);
  const preferred = await cx(['agent', 'deploy', 'build/agents/echo.wasm', '--name', 'preferred', '--prefer-nodes', 'test-node', '-o', 'json']);
  assert.equal(preferred.code, 0, preferred.stderr);
  assert.equal(JSON.parse(preferred.stdout).node, 'test-node');
  const elsewhere = await cx(['deploy', 'build/agents/echo.wasm', '--name', 'x', '--target-node', 'node-9']);
  assert.equal(elsewhere.code, 1);
  assert.match(elsewhere.stderr, /CAXTON_ERR_CLUSTER_UNKNOWN_NODE|target node node-9 is not a member/);
});

test('cli placement - bad flag values are usage errors, nothing is sent', async () => {
  const strategy = await cx(['deploy', 'build/agents/echo.wasm', '--placement-strategy', 'random']);
  assert.equal(strategy.code, 2);
  assert.match(strategy.stderr, /least-loaded, even-distribution/);
  const list = await cx(['deploy', 'build/agents/echo.wasm', '--prefer-nodes', 'a,,b']);
  assert.equal(list.code, 2);
  assert.match(list.stderr, /--prefer-nodes takes node names separated by commas/);
  const both = await cx(['deploy', 'build/agents/echo.wasm', '--prefer-nodes', 'a', '--target-node', 'b']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /exclude each other/);
});
