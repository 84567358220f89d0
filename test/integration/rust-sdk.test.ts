/**
 * The Rust SDK (sdk/rust) end to end: its example agents, built from source with Debian's rustc for
 * wasm32-unknown-unknown (scripts/build-agents.mjs), run in a real node and a real pool beside the
 * AssemblyScript agents; and the SDK's own unit tests (cargo test, natively).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentWasm, Client, fixtureWasm, recordEvents, spawnAgent, waitForEvent } from '../helpers/agents.js';
import { withNode } from '../helpers/node.js';
import { withPool } from '../helpers/pool.js';
import { tempDir } from '../helpers/tmp.js';
import { rustTool } from '../helpers/outside-tools.js';

const rust = rustTool();
const cargo = rustTool('cargo');
const root = fileURLToPath(new URL('../../', import.meta.url));
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** The bidders' price without config: 10 + (FNV-1a-32 of the UTF-8 name) % 90 (AS and Rust alike). */
function price(name: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(name, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return 10 + (h % 90);
}

test('rust sdk - the Rust echo deployed in a real node answers with the same content', { skip: rust.skip }, async () => {
  await withNode({}, async (ctx) => {
    const d = await ctx.call('POST', '/agents', { name: 'rs-echo', module: b64(agentWasm('rust-echo')) });
    assert.equal(d.status, 201, JSON.stringify(d.body));
    const content = { n: 42, s: 'ünïcødé "quoted" \\ \u0001', nested: [1.5, { deep: [true, null] }] };
    const r = await ctx.call('POST', '/messages?wait_reply=true', {
      performative: 'request', receiver: 'rs-echo', content, conversation_id: 'conv-rs', reply_with: 'rw-rs', protocol: 'fipa-request', ontology: 'test',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const reply = r.body.reply;
    assert.equal(reply.performative, 'inform');
    assert.equal(reply.sender, 'rs-echo');
    assert.deepEqual(reply.content, content);
    assert.equal(reply.conversation_id, 'conv-rs');
    assert.equal(reply.in_reply_to, 'rw-rs');
    assert.equal(reply.protocol, 'fipa-request');
    assert.equal(reply.ontology, 'test');
    const info = await ctx.call('GET', '/agents/rs-echo');
    assert.equal(info.body.state, 'running', JSON.stringify(info.body));
  });
});

test('rust sdk - one contract-net round takes bids from a Rust bidder and AssemblyScript bidders', { skip: rust.skip }, async () => {
  await withPool({}, async (pool, ctx) => {
    await spawnAgent(pool, 'cn-manager', 'manager');
    const asBidders = ['as-bidder-1', 'as-bidder-2', 'as-bidder-3'];
    for (const name of asBidders) await spawnAgent(pool, 'cn-bidder', name);
    const c = new Client(pool);
    const lowestAs = Math.min(...asBidders.map(price));

    // One Rust bidder underbids every AssemblyScript bidder, the other overbids them all.
    await spawnAgent(pool, 'rust-cn-bidder', 'rust-cheap', { price: lowestAs - 1 });
    await spawnAgent(pool, 'rust-cn-bidder', 'rust-dear', { price: 1000 });

    // deadline_ms is long, so the manager decides only once every bidder has answered: a bidder
    // that did not propose would make the wait below time out.
    const round = async (task: unknown, bidders: string[]) => {
      const rw = c.send('manager', 'request', { task, bidders, deadline_ms: 60_000 }, { protocol: 'fipa-contract-net' });
      const reply = await c.waitFor((m) => m.in_reply_to === rw, 30_000, `the manager's answer to ${rw}`);
      assert.equal(reply.performative, 'inform', JSON.stringify(reply));
      assert.equal(reply.protocol, 'fipa-contract-net');
      return reply.content;
    };
    // The Rust bidder wins and does the task (accept-proposal -> inform with the task).
    assert.deepEqual(await round('paint the fence', [...asBidders, 'rust-cheap']), { winner: 'rust-cheap', price: lowestAs - 1, result: 'done: paint the fence' });
    // The Rust bidder's proposal is weighed and loses; a task that is not a string comes back as JSON.
    const asWinner = asBidders.reduce((best, b) => (price(b) < price(best) ? b : best));
    assert.deepEqual(await round({ job: 'mow', area: 12 }, ['rust-dear', ...asBidders]), {
      winner: asWinner, price: lowestAs, result: 'done: {"job":"mow","area":12}',
    });

    const faults = ctx.events.filter((e) => e.type === 'agent_fault');
    assert.deepEqual(faults, [], 'no agent ran out of fuel or trapped');
  });
});

test('rust sdk - the host functions work from Rust: timers fire and cancel, kv, random, clocks, capability, a panic is logged', { skip: rust.skip }, async () => {
  await withPool({}, async (pool) => {
    const events = recordEvents(pool);
    const m = await pool.admit(fixtureWasm('rust-probe'));
    await pool.spawn({ name: 'probe', module: m.hash });
    assert.deepEqual([...pool.providersOf('rust-probe')], ['probe'], 'registered in init');
    const c = new Client(pool);

    // A timer comes back to the agent from itself; the agent then tells the requester.
    const rw = c.send('probe', 'request', { op: 'timer', ms: 30 });
    const agree = await c.waitFor((x) => x.in_reply_to === rw && x.performative === 'agree');
    assert.ok(Number.isInteger((agree.content as { id: number }).id) && (agree.content as { id: number }).id > 0, JSON.stringify(agree));
    const fired = await c.waitFor((x) => x.performative === 'inform' && (x.content as { fired?: string }).fired === rw, 5000, 'the timer');
    assert.equal(fired.sender, 'probe');
    // A long timer is cancelled before it fires; cancelling it again is ERR_NOT_FOUND.
    const long = await c.request('probe', 'request', { op: 'timer', ms: 3_600_000 }, 'agree');
    const id = (long.content as { id: number }).id;
    assert.deepEqual((await c.request('probe', 'request', { op: 'cancel', id })).content, { cancelled: true });
    assert.deepEqual((await c.request('probe', 'request', { op: 'cancel', id }, 'failure')).content, { error: 'ERR_NOT_FOUND' });

    assert.deepEqual((await c.request('probe', 'request', { op: 'kv' })).content, { stored: 1000, after_delete: null });
    const random = (await c.request('probe', 'request', { op: 'random' })).content as { a: string; b: string };
    assert.match(random.a, /^[0-9a-f]{32}$/);
    assert.notEqual(random.a, random.b, 'two draws differ');
    const before = Date.now() * 1000;
    const now = (await c.request('probe', 'request', { op: 'now' })).content as { now_us: number; monotonic_us: number };
    assert.ok(Math.abs(now.now_us - before) < 60_000_000, `now_us ${now.now_us} is the wall clock`);
    assert.ok(now.monotonic_us > 0);

    // A panic: its message reaches the log, the instance traps, the agent goes on.
    c.send('probe', 'request', { op: 'panic' });
    const log = await waitForEvent(events, (e) => e.type === 'agent_log' && e.name === 'probe' && e.text.includes('panicked on purpose'));
    assert.equal(log.type === 'agent_log' && log.level, 4, `logged at error (4): ${JSON.stringify(log)}`);
    assert.deepEqual((await c.request('probe', 'request', { op: 'kv' })).content, { stored: 1000, after_delete: null }, 'the agent answers after the trap');
  });
});

test('rust sdk - cargo test of sdk/rust passes natively (JSON, messages, init, errors)', { skip: cargo.skip }, () => {
  const target = tempDir();
  try {
    const r = spawnSync(cargo.cargo as string, ['test', '--offline', '--quiet'], {
      cwd: fileURLToPath(new URL('../../sdk/rust/', import.meta.url)),
      env: { ...process.env, RUSTC: rust.path, CARGO_TARGET_DIR: target.path },
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(r.status, 0, `cargo test failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /test result: ok\. \d+ passed; 0 failed/);
  } finally {
    target.cleanup();
  }
});

/**
 * A Rust template as `caxton new agent` lays it out (docs contract C: _base, then the template's own
 * files, placeholders replaced in contents, _gitignore renamed), written by hand here so that this
 * test depends on the templates only, not on the generator.
 */
function layOutRustTemplate(template: string, name: string, dest: string): void {
  const crate = name.replaceAll('-', '_');
  for (const part of ['_base', template]) cpSync(join(root, 'templates', 'agent', 'rust', part), dest, { recursive: true });
  const walk = (dir: string): void => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) {
        walk(p);
        continue;
      }
      const text = readFileSync(p, 'utf8')
        .replaceAll('{{name}}', name).replaceAll('{{crate_name}}', crate)
        .replaceAll('{{caxton_root}}', root).replaceAll('{{sdk_dir}}', join(root, 'sdk', 'rust'));
      writeFileSync(p, text);
      if (f === '_gitignore') renameSync(p, join(dir, '.gitignore'));
    }
  };
  walk(dest);
}

test('rust sdk - the subscriber template builds with cargo and, deployed, keeps what is published to its topic', { skip: cargo.skip, timeout: 600_000 }, async () => {
  const dir = tempDir();
  try {
    layOutRustTemplate('subscriber', 'rs-sub', dir.path);
    const build = spawnSync(cargo.cargo as string, ['build', '--release', '--offline'], {
      cwd: dir.path, env: { ...process.env, RUSTC: rust.path }, encoding: 'utf8', timeout: 300_000,
    });
    assert.equal(build.status, 0, `cargo build failed:\n${build.stderr}`);
    const manifest = JSON.parse(readFileSync(join(dir.path, 'caxton.agent.json'), 'utf8')) as { wasm: string };
    const wasm = readFileSync(join(dir.path, manifest.wasm));
    await withPool({}, async (pool) => {
      const m = await pool.admit(wasm);
      await pool.spawn({ name: 'rs-sub', module: m.hash, config: { topic: 'weather' } });
      assert.equal(pool.publish('weather', JSON.stringify({ performative: 'inform', sender: 'press', topic: 'weather', content: { sky: 'rain' } })), 1);
      assert.equal(pool.publish('weather', JSON.stringify({ performative: 'inform', sender: 'press', topic: 'weather', content: { sky: 'sun', temp: 21.5 } })), 1);
      const c = new Client(pool);
      // Messages to one agent are handled in order, so the request sees both publications.
      const r = await c.request('rs-sub', 'request', {});
      assert.deepEqual(r.content, { topic: 'weather', count: 2, last: { sky: 'sun', temp: 21.5 } });
    });
  } finally {
    dir.cleanup();
  }
});
